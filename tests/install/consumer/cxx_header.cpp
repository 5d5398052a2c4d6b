// The public headers compile as C++ and declare C linkage; salamander.hpp maps element types and
// returns the C status codes.
#include <salamander/salamander.hpp>

#include <type_traits>
#include <vector>

static_assert(std::is_same<decltype(&sal_init), int (*)(int *, char ***, MPI_Comm)>::value,
              "sal_init keeps its C signature");
static_assert(sal::detail::type_of<std::int64_t>::value == SAL_INT64, "int64_t is SAL_INT64");
static_assert(sal::detail::type_of<float>::value == SAL_FLOAT, "float is SAL_FLOAT");

int main()
{
    std::vector<double> x(8);
    std::vector<int> ids(3);
    double t = 0.0;
    // Before sal_init nothing can be protected, so nothing is tracked either.
    if (sal::protect_all({{"x", x}, {"ids", ids}, {"t", t}}) != SAL_ERR_STATE ||
        sal::protect("x", x, 16, 8) != SAL_ERR_STATE ||
        sal::protect_local("ids", ids) != SAL_ERR_STATE)
        return 1;
    x.resize(100);
    return sal::check_unmoved() == SAL_OK && sal_strerror(SAL_OK)[0] == 's' ? 0 : 1;
}
