#!/usr/bin/env bash
# Fuzzes the readers of untrusted input with libFuzzer (clang, ASan+UBSan):
#   scripts/fuzz.sh [--seconds N] [--build DIR] [HARNESS...]
# HARNESS: inject config latest manifest rank (default: all). Each runs N seconds (default 60) from
# its seed corpus tests/fuzz/corpus/<h>/; new coverage goes to DIR/corpus/<h>/, crashes to
# DIR/crashes/<h>/ (copy them to tests/fuzz/crashes/<h>/ as regression inputs once fixed).
# Exit status 1 when a harness found a crash.
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

seconds=60
build="$REPO/build-fuzz"
harnesses=()
while [ "$#" -gt 0 ]; do
    case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) harnesses+=("$1"); shift ;;
    esac
done
[ "${#harnesses[@]}" -gt 0 ] || harnesses=(inject config latest manifest rank)

OMPI_CC=clang sal_configure_build "$build" -DCMAKE_C_COMPILER=clang -DSAL_FUZZ=ON -DSAL_WERROR=OFF \
    -DSAL_BUILD_EXAMPLES=OFF -DSAL_BUILD_BENCH=OFF >/dev/null
status=0
for h in "${harnesses[@]}"; do
    mkdir -p "$build/corpus/$h" "$build/crashes/$h"
    echo "fuzz: $h for $seconds s"
    if ! LSAN_OPTIONS="suppressions=$REPO/tests/fuzz/lsan.supp" \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$build/tests/fuzz/fuzz_$h" -max_total_time="$seconds" \
        -artifact_prefix="$build/crashes/$h/" -print_final_stats=1 \
        "$build/corpus/$h" "$REPO/tests/fuzz/corpus/$h" 2>"$build/fuzz_$h.log"; then
        echo "fuzz: $h: CRASH, see $build/fuzz_$h.log and $build/crashes/$h/" >&2
        status=1
    fi
    grep -E 'stat::number_of_executed_runs|stat::new_units_added' "$build/fuzz_$h.log" || true
done
exit "$status"
