#!/usr/bin/env bash
# slurm.cluster_orphans: the daemons of a private cluster whose directory was removed under it
# (a test run killed with SIGKILL, then a fresh clone at the same path) are ended by the next
# `scripts/slurm-cluster.sh up` of that directory, instead of sharing its files with the new
# cluster; `down` leaves no daemon of the directory.
# Usage: cluster_orphans.sh SLURM_CLUSTER_SH DIR
set -euo pipefail
script="$1" dir="$2"

fail() {
    echo "FAIL: $*" >&2
    "$script" down "$dir" >/dev/null 2>&1 || true
    exit 1
}

daemons() { # the PIDs of the daemons started with DIR's files
    pgrep -f "^(slurmctld|slurmd|munged) .*$(realpath -m "$dir")/" | sort || true
}

rm -rf "$dir"
"$script" up "$dir" 2 || fail "the first cluster did not come up"
mapfile -t first < <(daemons)
[ "${#first[@]}" -ge 4 ] || fail "expected munged, slurmctld and 2 slurmd, found: ${first[*]}"
rm -rf "$dir" # the PID files go with it; the daemons run on
"$script" up "$dir" 2 || fail "the second cluster did not come up"
mapfile -t second < <(daemons)
for pid in "${first[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
        fail "daemon $pid of the first cluster still runs beside the second: $(tr '\0' ' ' </proc/"$pid"/cmdline)"
    fi
done
[ "${#second[@]}" -ge 4 ] || fail "the second cluster runs ${#second[@]} daemons: ${second[*]}"
echo "the ${#first[@]} daemons of the removed cluster were ended; ${#second[@]} run for the new one"
"$script" down "$dir" || fail "down failed"
left="$(daemons)"
[ -z "$left" ] || fail "daemons left after down: $left"
rm -rf "$dir"
echo "PASSED: slurm.cluster_orphans"
