// The public headers compile as C++ and declare C linkage.
#include <salamander/salamander.h>

#include <type_traits>

static_assert(std::is_same<decltype(&sal_init), int (*)(int *, char ***, MPI_Comm)>::value,
              "sal_init keeps its C signature");

int main()
{
    return sal_strerror(SAL_OK)[0] == 's' ? 0 : 1;
}
