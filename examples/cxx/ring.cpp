// ring: Salamander from C++. A periodic 1-D field split over the ranks (a ring), smoothed each
// step, and a per-rank running total; both are protected, the loop is the return-code resume mode.
//
// sal::session is a RAII guard: MPI_Init + sal_init in the constructor, sal_finalize + MPI_Finalize
// in the destructor. sal::check turns a status into an exception carrying sal_last_error().
// Rank 0 prints one line (checksum: 64-bit FNV-1a of the gathered field's bytes):
//     ring: n=<points per rank> steps=<s> ranks=<p> checksum=<16 hex digits> total=<%.17g>
// Usage: ring [STEPS]   (default 300)
#include <salamander/salamander.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace sal
{

struct error : std::runtime_error {
    int status;
    error(const std::string &what, int rc)
        : std::runtime_error(what + ": " + sal_strerror(rc) + ": " + sal_last_error()), status(rc)
    {
    }
};

inline void check(int rc, const char *what)
{
    if (rc != SAL_OK)
        throw error(what, rc);
}

// Owns MPI and Salamander for its lifetime. Not copyable: one per process.
class session
{
  public:
    session(int *argc, char ***argv)
    {
        MPI_Init(argc, argv);
        int rc = sal_init(argc, argv, MPI_COMM_WORLD);
        if (rc != SAL_OK) {
            error e("sal_init", rc);
            MPI_Finalize();
            throw e;
        }
    }
    ~session()
    {
        sal_finalize();
        MPI_Finalize();
    }
    session(const session &) = delete;
    session &operator=(const session &) = delete;
};

} // namespace sal

namespace
{

const int points = 1000; // per rank

// Collective: one smoothing step with periodic neighbours. Returns the MPI status.
int smooth(std::vector<double> &u, std::vector<double> &tmp, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int left = (rank + size - 1) % size, right = (rank + 1) % size;
    double from_left = 0, from_right = 0;
    int rc = MPI_Sendrecv(&u.back(), 1, MPI_DOUBLE, right, 0, &from_left, 1, MPI_DOUBLE, left, 0,
                          comm, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS)
        rc = MPI_Sendrecv(&u.front(), 1, MPI_DOUBLE, left, 1, &from_right, 1, MPI_DOUBLE, right, 1,
                          comm, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return rc;
    for (int i = 0; i < points; i++) {
        double l = i > 0 ? u[i - 1] : from_left, r = i < points - 1 ? u[i + 1] : from_right;
        tmp[i] = 0.5 * u[i] + 0.25 * (l + r);
    }
    u.assign(tmp.begin(), tmp.end()); // same size: u keeps its storage, which is protected
    return MPI_SUCCESS;
}

void report(const std::vector<double> &u, double total, int64_t steps, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    std::vector<double> field(rank == 0 ? (size_t)size * points : 0), totals(rank == 0 ? size : 0);
    MPI_Gather(u.data(), points, MPI_DOUBLE, field.data(), points, MPI_DOUBLE, 0, comm);
    MPI_Gather(&total, 1, MPI_DOUBLE, totals.data(), 1, MPI_DOUBLE, 0, comm);
    if (rank != 0)
        return;
    uint64_t hash = UINT64_C(14695981039346656037);
    const unsigned char *p = reinterpret_cast<const unsigned char *>(field.data());
    for (size_t k = 0; k < field.size() * sizeof(double); k++)
        hash = (hash ^ p[k]) * UINT64_C(1099511628211);
    double sum = 0;
    for (double t : totals)
        sum += t;
    std::printf("ring: n=%d steps=%" PRId64 " ranks=%d checksum=%016" PRIx64 " total=%.17g\n",
                points, steps, size, hash, sum);
    std::fflush(stdout);
}

// The resilient part. The protected storage must not move: u is sized once and never resized.
void run(int64_t steps)
{
    int rank, size;
    MPI_Comm_rank(sal_comm(), &rank);
    MPI_Comm_size(sal_comm(), &size);
    std::vector<double> u(points), tmp(points);
    for (int i = 0; i < points; i++)
        u[i] = ((rank * points + i) % 97) * 0.01;
    double total = 0; // this rank's running total of its field, saved per rank
    int64_t gdims = (int64_t)size * points, offset = (int64_t)rank * points, count = points;
    sal::check(sal_protect("u", u.data(), SAL_DOUBLE, 1, &gdims, &offset, &count), "sal_protect");
    sal::check(sal_protect_scalar("total", &total, SAL_DOUBLE), "sal_protect_scalar");

    int64_t step;
    int rc = sal_begin(&step);
    while (rc == SAL_OK && step < steps) {
        int err = smooth(u, tmp, sal_comm());
        if (err == MPI_SUCCESS) {
            for (double v : u)
                total += v;
            rc = sal_step_done(&step);
        } else {
            rc = sal_is_proc_failure(err) ? SAL_ERR_PROC_FAILED : SAL_ERR_MPI;
        }
        if (rc == SAL_ERR_PROC_FAILED)
            rc = sal_repair(&step);
    }
    sal::check(rc, "the return-code loop");
    report(u, total, steps, sal_comm());
}

} // namespace

int main(int argc, char **argv)
{
    int64_t steps = argc > 1 ? std::strtoll(argv[1], nullptr, 10) : 300;
    try {
        sal::session session(&argc, &argv);
        run(steps);
    } catch (const sal::error &e) {
        std::fprintf(stderr, "ring: %s\n", e.what());
        // Other ranks may wait in a collective: end the job (a relaunching launcher restarts it).
        MPI_Abort(MPI_COMM_WORLD, 1);
        return 1;
    }
    return 0;
}
