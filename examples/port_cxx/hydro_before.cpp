// The C++ port example (docs/porting.md): hydro_before.cpp is a plain MPI code, hydro_after.cpp the
// same code made fault tolerant with Salamander.
//
// A 1-D Lagrangian chain of particles between two fixed walls, split over the ranks with a number
// of particles that depends on the rank: particle i has a displacement u, a velocity v, a mass m,
// an internal energy e (heated by the viscous damping between neighbours) and the largest |u| it
// has reached so far. The setup communicates (each rank learns the global index of its first
// particle with MPI_Exscan, from which the masses follow), the halos are exchanged with
// MPI_Sendrecv, the time step follows the largest speed of the whole chain (MPI_Allreduce), and
// every MPI call uses MPI_COMM_WORLD. Rank 0 gathers u, v, e and the peaks and prints one line,
// checksum being the 64-bit FNV-1a hash of their bytes:
//     hydro: N=<particles> steps=<s> ranks=<p> checksum=<16 hex digits> t=<%.17g>
//
// Usage: hydro_before [STEPS] or hydro_after [STEPS]   (default 400)
#include <mpi.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace
{

const double stiffness = 1.0, damping = 0.05, cfl = 0.1;

struct Chain {
    int rank, size, n;          // this rank, the number of ranks, the number of its particles
    std::vector<double> u, v;   // u[0], u[n + 1] (and v's) are the halos: the neighbours' ends
    std::vector<double> e, top; // internal energy, largest |u| so far
    std::vector<double> m, f;   // mass (from the setup), force (scratch)
    double t = 0.0;             // the time reached

    Chain()
    {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        n = 2000 + 250 * rank;
        u.assign(n + 2, 0.0);
        v.assign(n + 2, 0.0);
        e.assign(n, 0.0);
        top.assign(n, 0.0);
        m.assign(n, 0.0);
        f.assign(n, 0.0);
        for (int i = 1; i <= n; i++)
            v[i] = 0.01 * ((7 * i + 3 * rank) % 11 - 5);
    }

    // Collective: the masses, from the global index of this rank's first particle.
    int setup()
    {
        int first = 0, rc = MPI_Exscan(&n, &first, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        if (rank == 0)
            first = 0; // MPI_Exscan leaves rank 0's result undefined
        for (int i = 0; i < n; i++)
            m[i] = 1.0 + 0.125 * ((first + i) % 5);
        return rc;
    }

    // Collective: the halos from the neighbours (the walls' halos stay 0: a receive from
    // MPI_PROC_NULL leaves them as they are).
    void exchange()
    {
        int left = rank > 0 ? rank - 1 : MPI_PROC_NULL;
        int right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
        shift(n, right, 0, left);
        shift(1, left, n + 1, right);
    }

    // Sends particle `from`'s u and v to rank `to`, receives those of particle `into` from
    // `source`.
    void shift(int from, int to, int into, int source)
    {
        double out[2] = {u[from], v[from]}, in[2] = {u[into], v[into]};
        MPI_Sendrecv(out, 2, MPI_DOUBLE, to, 0, in, 2, MPI_DOUBLE, source, 0, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        u[into] = in[0];
        v[into] = in[1];
    }

    // Collective: the time step, from the largest speed of the chain.
    double time_step()
    {
        double vmax = 0.0, global = 0.0;
        for (int i = 1; i <= n; i++)
            vmax = std::fmax(vmax, std::fabs(v[i]));
        MPI_Allreduce(&vmax, &global, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        return cfl / (1.0 + global);
    }

    // Springs and dashpots between neighbours; the dashpots' work heats the particles.
    void advance(double dt)
    {
        for (int i = 1; i <= n; i++) {
            double dl = v[i] - v[i - 1], dr = v[i + 1] - v[i];
            f[i - 1] = stiffness * (u[i + 1] - 2.0 * u[i] + u[i - 1]) + damping * (dr - dl);
            e[i - 1] += dt * 0.5 * damping * (dl * dl + dr * dr);
        }
        for (int i = 1; i <= n; i++) {
            v[i] += dt * f[i - 1] / m[i - 1];
            u[i] += dt * v[i];
            top[i - 1] = std::fmax(top[i - 1], std::fabs(u[i]));
        }
        t += dt;
    }

    void step()
    {
        exchange();
        advance(time_step());
    }

    // Collective: gathers u, v, e and the peaks on rank 0, which prints the result line.
    void report(int steps)
    {
        std::vector<int> counts(size), displs(size);
        MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
        int total = 0;
        for (int r = 0; r < size; r++)
            displs[r] = total, total += counts[r];
        std::vector<double> all(rank == 0 ? 4 * total : 0);
        const double *parts[4] = {&u[1], &v[1], e.data(), top.data()};
        for (int k = 0; k < 4; k++)
            MPI_Gatherv(parts[k], n, MPI_DOUBLE, all.data() + (rank == 0 ? k * total : 0),
                        counts.data(), displs.data(), MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (rank != 0)
            return;
        const unsigned char *p = reinterpret_cast<const unsigned char *>(all.data());
        std::uint64_t hash = UINT64_C(14695981039346656037);
        for (std::size_t k = 0; k < all.size() * sizeof(double); k++)
            hash = (hash ^ p[k]) * UINT64_C(1099511628211);
        std::printf("hydro: N=%d steps=%d ranks=%d checksum=%016" PRIx64 " t=%.17g\n", total, steps,
                    size, hash, t);
    }
};

} // namespace

int main(int argc, char **argv)
{
    int steps = argc > 1 ? std::atoi(argv[1]) : 400;

    MPI_Init(&argc, &argv);
    Chain c;
    c.setup();

    for (int step = 0; step < steps; step++)
        c.step();

    c.report(steps);
    MPI_Finalize();
    return 0;
}
