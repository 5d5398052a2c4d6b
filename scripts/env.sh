# shellcheck shell=bash
# Environment shared by the scripts: source it, do not run it.
#
# Sets REPO (the repository root), BUILD_DIR (default $REPO/build), puts the Open MPI of $REPO/.venv
# first on PATH, lets mpiexec oversubscribe cores and run as root, and defines sal_configure_build.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build}"
PATH="$REPO/.venv/bin:$PATH"
PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe
export REPO BUILD_DIR PATH PRTE_MCA_rmaps_default_mapping_policy
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# sal_configure_build [BUILD_DIR [CMAKE_ARGS...]]: configures BUILD_DIR (default $BUILD_DIR) against
# the Open MPI of .venv unless it is already configured (a configure that failed is retried), then
# builds it. Extra arguments are passed to cmake at configuration time only.
sal_configure_build() {
    local dir="${1:-$BUILD_DIR}"
    if [ "$#" -gt 0 ]; then
        shift
    fi
    if [ ! -f "$dir/CMakeCache.txt" ] ||
        { [ ! -f "$dir/Makefile" ] && [ ! -f "$dir/build.ninja" ]; }; then
        cmake -S "$REPO" -B "$dir" \
            -DMPI_C_COMPILER="$REPO/.venv/bin/mpicc" \
            -DMPIEXEC_EXECUTABLE="$REPO/.venv/bin/mpiexec" \
            -DSAL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null || return 1
    fi
    cmake --build "$dir" -j2 || return 1
}
