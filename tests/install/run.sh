#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs two out-of-tree consumers:
# one through find_package(salamander), one through pkg-config. Also compiles the public headers as
# C++, with the C++ helpers of salamander.hpp. Usage: run.sh BUILD_DIR MPICC MPICXX MPIEXEC
set -euo pipefail
build="$1" mpicc="$2" mpicxx="$3" mpiexec="$4"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/sal-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/salamander/salamander.h include/salamander/salamander.hpp \
         include/salamander/sal_version.h lib/cmake/salamander/salamanderConfig.cmake lib/cmake/salamander/salamanderConfigVersion.cmake \
         lib/pkgconfig/salamander.pc bin/salrun; do
    [ -e "$prefix/$f" ] || { echo "FAIL: $prefix/$f was not installed" >&2; exit 1; }
done

# shellcheck source=tests/common/mpi_launch.sh
source "$here/../common/mpi_launch.sh"

run_consumer() {
    local exe="$1" out rc=0
    out="$(SAL_CKPT_DIR="$work/ckpt" SAL_JOB=consumer mpi_launch "$work/launch.err" "$mpiexec" -n 2 "$exe")" || rc=$?
    cat "$work/launch.err" >&2
    [ "$rc" -eq 0 ] || { echo "FAIL: $mpiexec -n 2 $exe exited with status $rc" >&2; exit 1; }
    echo "$out"
    grep -q '^consumer: salamander .* v0=5$' <<<"$out" || { echo "FAIL: unexpected output of $exe" >&2; exit 1; }
}

echo "== find_package(salamander)"
cmake -S "$here/consumer" -B "$work/cmake-build" -DCMAKE_C_COMPILER="$mpicc" \
      -DCMAKE_PREFIX_PATH="$prefix" -DMPI_C_COMPILER="$mpicc" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
run_consumer "$work/cmake-build/consumer"

echo "== pkg-config salamander"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# shellcheck disable=SC2046
"$mpicc" -std=c11 -o "$work/consumer-pc" "$here/consumer/consumer.c" $(pkg-config --cflags --libs salamander) \
    -Wl,-rpath,"$prefix/lib"
run_consumer "$work/consumer-pc"

echo "== C++: the public headers"
# shellcheck disable=SC2046
"$mpicxx" -std=c++11 -Wall -Wextra -Werror -o "$work/cxx" "$here/consumer/cxx_header.cpp" \
    $(pkg-config --cflags --libs salamander) -Wl,-rpath,"$prefix/lib"
"$work/cxx"
echo "install: all consumers built and ran"
