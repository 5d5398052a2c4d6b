#!/usr/bin/env bash
# Demonstration: heat2d on 4 ranks under salrun, once without failures and once with two ranks
# killed (rank 1 at step 70, rank 2 at step 190), checkpointing every 20 steps. Prints both result
# lines and the time of each recovery phase from the event log, then IDENTICAL (exit 0) when the two
# results agree bit for bit, DIFFERENT (exit 1) otherwise.
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

NP=4
INTERVAL=20
INJECT='rank=1,step=70,signal=KILL;rank=2,step=190,signal=KILL'

"$REPO/scripts/setup.sh"
sal_configure_build "$BUILD_DIR" >/dev/null
SALRUN="$BUILD_DIR/runtime/salrun/salrun"
HEAT2D="$BUILD_DIR/examples/heat2d/heat2d"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sal-demo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# run NAME [SALRUN_ARGS...]: runs heat2d under salrun in a fresh directory $WORK/NAME and prints its
# result line. The job's output is kept in $WORK/NAME/stdout; salrun's events go to the terminal.
run() {
    local name="$1" dir="$WORK/$1"
    shift
    mkdir -p "$dir/ckpt" "$dir/log"
    if ! "$SALRUN" -n "$NP" --job "$name" --ckpt-dir "$dir/ckpt" --log-dir "$dir/log" \
        --interval "$INTERVAL" "$@" -- "$HEAT2D" >"$dir/stdout"; then
        cat "$dir/stdout" >&2
        echo "demo: error: the $name run failed" >&2
        exit 1
    fi
    grep '^heat2d: ' "$dir/stdout" || {
        echo "demo: error: the $name run printed no result line" >&2
        exit 1
    }
}

echo "== failure-free run (reference)"
ref="$(run reference --quiet)"
echo "== run with failures: $INJECT"
got="$(run inject --inject "$INJECT")"

echo
echo "reference: $ref"
echo "failures:  $got"
echo
python3 - "$WORK/inject/log/inject.events.jsonl" <<'PY'
"""Prints one line per recovery: the failed ranks and the seconds spent in each phase. detect is the
time from the injected kill (the inject event) to the first survivor noticing it (the failure
event's "detected" time)."""
import json
import sys

PHASES = ("detect", "revoke", "shrink", "spawn", "restore")

events = []
with open(sys.argv[1]) as f:
    for line in f:
        if line.strip():
            events.append(json.loads(line))

n, ranks, seconds, killed_at = 0, set(), {}, None
for e in sorted(events, key=lambda e: e["ts"]):
    kind = e.get("event")
    if kind == "inject" and killed_at is None:
        killed_at = float(e["ts"])
    elif kind == "failure":
        ranks.update(e.get("ranks", []))
        if killed_at is not None and "detected" in e:
            seconds["detect"] = float(e["detected"]) - killed_at
    elif kind in PHASES:
        seconds[kind] = seconds.get(kind, 0.0) + float(e.get("seconds", 0.0))
    elif kind == "resume":
        n += 1
        phases = ", ".join("%s %.3f s" % (p, seconds[p]) for p in PHASES if p in seconds)
        failed = ",".join(str(r) for r in sorted(ranks)) or "?"
        print("recovery %d: rank %s lost; %s; total %.3f s from detection; resumed at step %s"
              % (n, failed, phases, float(e.get("total_seconds", 0.0)), e.get("step", "?")))
        ranks, seconds, killed_at = set(), {}, None
if n == 0:
    print("no recovery recorded in " + sys.argv[1])
PY
echo
if [ "${ref#*checksum=}" = "${got#*checksum=}" ]; then
    echo IDENTICAL
else
    echo DIFFERENT
    exit 1
fi
