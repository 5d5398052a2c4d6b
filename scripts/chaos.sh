#!/usr/bin/env bash
# Randomized fault-injection campaign (docs/reliability.md):
#   scripts/chaos.sh [--runs N] [--seed S] [--policies "P1;P2"] [--build DIR] [chaos.py options]
# Builds DIR (default $BUILD_DIR), then runs N randomized failure runs of heat2d (and heat2d_f90)
# under salrun and prints the seed and a summary ending with "lost: K". Exit status 1 when K > 0.
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

build="$BUILD_DIR"
args=()
while [ "$#" -gt 0 ]; do
    case "$1" in
    --build) build="$2"; shift 2 ;;
    --build=*) build="${1#--build=}"; shift ;;
    *) args+=("$1"); shift ;;
    esac
done
sal_configure_build "$build" >/dev/null
exec python3 "$REPO/tests/chaos/chaos.py" --salrun "$build/runtime/salrun/salrun" \
    --program "$build/examples/heat2d/heat2d" --program "$build/examples/heat2d_f90/heat2d_f90" \
    --tool "$build/tests/hostile/ckpt_tool" --config-def "$REPO/ckpt/src/config_keys.def" \
    ${args[@]+"${args[@]}"}
