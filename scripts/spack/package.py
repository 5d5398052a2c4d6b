# Spack package for Salamander. Copy this directory into a Spack repository
# (var/spack/repos/<repo>/packages/salamander/package.py), or `spack repo add` a repository holding
# it, then `spack install salamander@main +fortran`.
#
# There is no release tarball yet, so the only version is the main branch of the git repository.
# The project has no public repository URL yet: `homepage` and `git` below are where it is to be
# published; until then set `git` to your clone's URL, or build a local checkout with
# `spack develop --path /path/to/salamander salamander@main`.
#
# Dependency note: `inih` (https://github.com/benhoyt/inih, meson build, installs inih.pc) was not
# verified to exist in Spack's builtin repository; if `spack info inih` finds nothing, add a small
# MesonPackage for it next to this one, or mark a system copy external in packages.yaml.

from spack.package import *


class Salamander(CMakePackage):
    """Fault-tolerant runtime for MPI jobs: coordinated HDF5 checkpoints, ULFM recovery by
    respawning, spares or shrinking, and the salrun launcher that relaunches jobs."""

    homepage = "https://github.com/salamander-hpc/salamander"
    git = "https://github.com/salamander-hpc/salamander.git"

    license("BSD-3-Clause")

    version("main", branch="main")

    variant("ulfm", default=True,
            description="In-job recovery with ULFM (needs Open MPI 5); off: relaunch-only builds")
    variant("fortran", default=True, description="Build the Fortran module (libsalamander-fortran)")
    variant("shared", default=True, description="Build shared libraries")

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("fortran", type="build", when="+fortran")
    depends_on("cmake@3.20:", type="build")
    depends_on("pkgconfig", type="build")
    depends_on("python@3:", type="test")

    depends_on("mpi")
    depends_on("openmpi@5:", when="+ulfm")
    # Serial HDF5 is enough: every rank writes its own file.
    depends_on("hdf5~mpi")
    depends_on("hwloc@2:")
    # inih (https://github.com/benhoyt/inih): the INI parser, found through pkg-config (inih.pc).
    depends_on("inih")
    # xxHash (libxxhash.pc): XXH64, the chunk hash of differential checkpoints.
    depends_on("xxhash")

    def cmake_args(self):
        args = [
            self.define("SAL_WITH_ULFM", "ON" if self.spec.satisfies("+ulfm") else "OFF"),
            self.define_from_variant("SAL_BUILD_FORTRAN", "fortran"),
            self.define_from_variant("BUILD_SHARED_LIBS", "shared"),
            self.define("SAL_BUILD_TESTS", self.run_tests),
            self.define("SAL_BUILD_BENCH", False),
            self.define("MPI_C_COMPILER", self.spec["mpi"].mpicc),
        ]
        return args
