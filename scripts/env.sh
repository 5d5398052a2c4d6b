# shellcheck shell=bash
# Environment shared by the scripts: source it, do not run it.
#
# Sets REPO (the repository root), BUILD_DIR (default $REPO/build), SAL_TEST_PRRTE (the prefix of
# the PRRTE 5 + PMIx 7 stack the tests use, default $REPO/.prrte, OFF = none), puts the Open MPI of
# $REPO/.venv first on PATH, lets mpiexec oversubscribe cores and run as root, keeps jobs of this
# host off the emulated cluster's networks, and defines sal_configure_build and
# sal_configure_mpich.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build}"
SAL_TEST_PRRTE="${SAL_TEST_PRRTE:-$REPO/.prrte}"
PATH="$REPO/.venv/bin:$PATH"
PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe
export REPO BUILD_DIR PATH PRTE_MCA_rmaps_default_mapping_policy
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# The emulated cluster's bridges (scripts/cluster.sh: 10.251-255.0.1 on salbr0-4) come and go while
# other jobs of this host run: a job whose TCP transport took one up fails when it vanishes ("bind on
# local address (10.254.0.1:0) failed", a replacement that never joins). Jobs of this host keep off
# 10.248.0.0/13 (docs/cluster.md); the cluster's own jobs name their network with
# btl_tcp_if_include instead (cluster.sh mpiexec-args), and drop this variable.
if [ -z "${OMPI_MCA_btl_tcp_if_include:-}" ]; then
    export OMPI_MCA_btl_tcp_if_exclude="${OMPI_MCA_btl_tcp_if_exclude:-127.0.0.1/8,sppp,10.248.0.0/13}"
fi

# sal_configure_build [BUILD_DIR [CMAKE_ARGS...]]: configures BUILD_DIR (default $BUILD_DIR) against
# the Open MPI of .venv and the PRRTE stack of $SAL_TEST_PRRTE unless it is already configured (a
# configure that failed is retried), then builds it. Extra arguments are passed to cmake at
# configuration time only.
sal_configure_build() {
    local dir="${1:-$BUILD_DIR}"
    if [ "$#" -gt 0 ]; then
        shift
    fi
    if [ ! -f "$dir/CMakeCache.txt" ] ||
        { [ ! -f "$dir/Makefile" ] && [ ! -f "$dir/build.ninja" ]; }; then
        cmake -S "$REPO" -B "$dir" \
            -DMPI_C_COMPILER="$REPO/.venv/bin/mpicc" \
            -DMPIEXEC_EXECUTABLE="$REPO/.venv/bin/mpiexec" -DSAL_PRRTE_PREFIX="$SAL_TEST_PRRTE" \
            -DSAL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null || return 1
    fi
    cmake --build "$dir" -j2 || return 1
}

# sal_configure_mpich DIR: configures DIR against the MPICH of $REPO/.venv-mpich (scripts/setup.sh
# installs it; its mpiexec is Hydra, it has no ULFM) unless it is already configured, and builds
# what the relaunch.mpich tests run: heat2d and salrun. No Fortran (the MPICH wheel has no
# Fortran wrapper), no benchmarks, no PRRTE stack.
sal_configure_mpich() {
    local dir="$1"
    if [ ! -f "$dir/CMakeCache.txt" ] ||
        { [ ! -f "$dir/Makefile" ] && [ ! -f "$dir/build.ninja" ]; }; then
        cmake -S "$REPO" -B "$dir" \
            -DMPI_C_COMPILER="$REPO/.venv-mpich/bin/mpicc" \
            -DMPIEXEC_EXECUTABLE="$REPO/.venv-mpich/bin/mpiexec" -DSAL_PRRTE_PREFIX=OFF \
            -DSAL_WITH_ULFM=AUTO -DSAL_BUILD_FORTRAN=OFF -DSAL_BUILD_BENCH=OFF \
            -DSAL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || return 1
    fi
    cmake --build "$dir" -j2 --target heat2d salrun || return 1
}
