#!/usr/bin/env bash
# agree_hang.sh: loops a job under CPU load, counts the runs that hang, and captures the stacks of
# every process of a hung run with gdb before killing it.
#
# Modes:
#   agree_kill (default): tests/upstream/agree_kill.c (plain ULFM, no Salamander), compiled with the
#       mpicc of .venv; each run is
#         timeout -s KILL $TIMEOUT mpiexec --with-ft ulfm -n $NP agree_kill -v V -k K -i I $ARGS
#       variants (--variants) are run round-robin so that each sees the same load.
#   scenario: the project's mpi.kill_in_ckpt_agree (tests/mpi/scenario.py, heat2d under salrun,
#       'rank=3,step=100,point=ckpt_agree'); the failure-free reference is written to $OUT first.
#
# Usage: agree_hang.sh [--mode agree_kill|scenario] [--runs M] [--variants "a b c d"] [--load L]
#                      [--np N] [--iters I] [--kill-iter K] [--victim R] [--args "..."]
#                      [--timeout T] [--hang-after H] [--out DIR] [--keep-all]
#   --runs M        runs per variant (scenario mode: runs in all)           default 100
#   --load L        busy-loop processes started for the whole loop          default 3
#   --timeout T     outer `timeout -s KILL T` of each run                   default 30 (scenario 120)
#   --hang-after H  a run still alive after H s is a hang: gdb every process of its session, then
#                   kill it (timeout is stopped while gdb runs so it cannot kill first) default 20
#   --out DIR       logs, gdb stacks, results.csv                           default /tmp/agree_hang.PID
#
# Every run is started in its own session (setsid); at its end (or hang) every process of its tree
# (descendants, and the members of their sessions: salrun starts mpiexec in a session of its own) is
# killed by pid; the busy loops' pids are recorded. A trap does the same on every exit path, and the
# script ends with a check (ps/pgrep) that none of them is left.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/env.sh
source "$HERE/../../scripts/env.sh"

MODE=agree_kill RUNS=100 VARIANTS="a" LOAD=3 NP=4 ITERS=10 KILL_ITER=5 VICTIM="" ARGS=""
TIMEOUT="" HANG_AFTER=20 OUT="" KEEP_ALL=0
while [ $# -gt 0 ]; do
    case "$1" in
    --mode) MODE=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --variants) VARIANTS=$2; shift ;;
    --load) LOAD=$2; shift ;;
    --np) NP=$2; shift ;;
    --iters) ITERS=$2; shift ;;
    --kill-iter) KILL_ITER=$2; shift ;;
    --victim) VICTIM=$2; shift ;;
    --args) ARGS=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    --hang-after) HANG_AFTER=$2; shift ;;
    --out) OUT=$2; shift ;;
    --keep-all) KEEP_ALL=1 ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "agree_hang.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$TIMEOUT" ] || { [ "$MODE" = scenario ] && TIMEOUT=120 || TIMEOUT=30; }
[ -n "$OUT" ] || OUT=/tmp/agree_hang.$$
mkdir -p "$OUT" || exit 2
[ -n "$VICTIM" ] || VICTIM=$((NP - 1))

BUSY=()     # pids of the busy loops
SEEN="$OUT/.pids"   # every pid of every run's process tree seen at a kill (for the final check)
: > "$SEEN"
JOB=""      # session leader (the `timeout` process) of the run in progress

alive() {  # $1 pid: running and not a zombie
    local s
    s=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -n "$s" ] && [ "${s#Z}" = "$s" ]
}

# Every process started by the run rooted at $1: its descendants (parent links) and every member of
# their sessions (salrun starts mpiexec in a session of its own; a rank whose parent already died
# is still in that session). One pid a line.
run_pids() {
    ps -eo pid=,ppid=,sid= | awk -v root="$1" '
        { par[$1] = $2; sid[$1] = $3 }
        END {
            for (p in par) {
                q = p
                for (i = 0; i < 64 && q != root && q > 1 && (q in par); i++) q = par[q]
                if (q == root) { mine[p] = 1; sids[sid[p]] = 1 }
            }
            for (p in par) if (sid[p] in sids) mine[p] = 1
            for (p in mine) print p
        }'
}

kill_run() {
    local root=$1 pids
    pids=$(run_pids "$root")
    echo "$pids" >> "$SEEN"
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    wait "$root" 2>/dev/null
}

cleanup() {
    local rc=$? left="" p
    trap - EXIT INT TERM HUP
    [ -n "$JOB" ] && kill_run "$JOB"
    for p in "${BUSY[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${BUSY[@]}"; do wait "$p" 2>/dev/null; done
    # Zombies reparented to init are dead (init reaps them): count live processes only.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.5
        left=""
        for p in "${BUSY[@]}" $(sort -u "$SEEN"); do
            alive "$p" && left="$left $p"
        done
        # anything still running one of our binaries from $OUT or with our reference file
        for p in $(pgrep -f -- "$OUT/" ); do
            [ "$p" != $$ ] && alive "$p" && left="$left $p"
        done
        left=$(echo "$left" | xargs)
        [ -z "$left" ] && break
    done
    if [ -n "$left" ]; then
        echo "agree_hang.sh: WARNING: processes left: $left" >&2
        ps -o pid,ppid,sid,stat,args -p "$(echo "$left" | tr ' ' ',')" >&2
    else
        echo "agree_hang.sh: no process left (busy loops, every run's process tree and sessions, pgrep -f $OUT/)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Build.
case "$MODE" in
agree_kill)
    BIN="$OUT/agree_kill"
    "$REPO/.venv/bin/mpicc" -O2 -g -Wall -o "$BIN" "$HERE/agree_kill.c" || exit 2
    PROCNAME=agree_kill
    ;;
scenario)
    SALRUN="$BUILD_DIR/runtime/salrun/salrun"
    HEAT="$BUILD_DIR/examples/heat2d/heat2d"
    [ -x "$SALRUN" ] && [ -x "$HEAT" ] || { echo "build $BUILD_DIR first" >&2; exit 2; }
    SCEN=("$REPO/.venv/bin/python3" "$REPO/tests/mpi/scenario.py" --salrun "$SALRUN"
          --program "$HEAT" --np "$NP" --reference "$OUT/heat2d.reference")
    # A failure-free reference first, without load.
    "${SCEN[@]}" > "$OUT/reference.log" 2>&1 || { echo "reference run failed" >&2; cat "$OUT/reference.log"; exit 2; }
    VARIANTS="s"
    PROCNAME=heat2d
    ;;
*) echo "unknown mode $MODE" >&2; exit 2 ;;
esac

for _ in $(seq 1 "$LOAD"); do
    sh -c 'while :; do :; done' &
    BUSY+=($!)
done
echo "agree_hang.sh: mode=$MODE runs=$RUNS variants='$VARIANTS' np=$NP load=$LOAD busy loops (pids ${BUSY[*]}) timeout=$TIMEOUT hang-after=$HANG_AFTER out=$OUT"

CSV="$OUT/results.csv"
[ -f "$CSV" ] || echo "mode,variant,run,outcome,rc,seconds,load1,summary" > "$CSV"
declare -A N_RUN N_OK N_HANG N_FIN N_BAD

# Prints the top frames (function names) of every thread of one gdb output, one line per thread.
top_frames() {
    awk '/^Thread [0-9]+ /{ if (t != "") print t; t = "  thread " $2 ":"; n = 0; next }
         /^#[0-9]+ / { if (n < 9) { f = ""; for (i = 2; i <= NF; i++) if ($(i+1) ~ /^\(/ || $(i+1) == "()") { f = $i; break }
                        if (f == "" ) f = $2; if ($2 == "in") f = $3; sub(/^in$/, "", f); t = t " " f; n++ } }
         END { if (t != "") print t }' "$1"
}

capture() {  # $1 run tag: stacks of every process of the run $JOB
    local tag=$1 p pids comm
    kill -STOP "$JOB" 2>/dev/null     # the timeout process: its SIGKILL must not come during gdb
    pids=$(run_pids "$JOB")
    # shellcheck disable=SC2086
    ps -o pid,ppid,pgid,sid,stat,etime,time,args -p "$(echo $pids | tr ' ' ',')" > "$OUT/$tag.ps" 2>&1
    for p in $pids; do
        comm=$(ps -o comm= -p "$p")
        case "$comm" in
        "$PROCNAME"* | prterun | mpiexec | salrun | prted)
            timeout -s KILL 90 gdb -p "$p" -batch -ex 'info threads' -ex 'thread apply all bt' \
                > "$OUT/$tag.gdb.$comm.$p" 2>&1 &
            ;;
        esac
    done
    wait_gdbs
}

wait_gdbs() {  # wait for the gdb jobs only (not the busy loops, not the run)
    local j
    for j in $(jobs -p); do
        case " ${BUSY[*]} $JOB " in *" $j "*) continue ;; esac
        wait "$j" 2>/dev/null
    done
}

T_BEGIN=$(date +%s)
for run in $(seq 1 "$RUNS"); do
    for v in $VARIANTS; do
        tag="$MODE-$v-$run"
        log="$OUT/$tag.log"
        load1=$(cut -d' ' -f1 /proc/loadavg)
        if [ "$MODE" = scenario ]; then
            setsid timeout -s KILL "$TIMEOUT" "${SCEN[@]}" --timeout "$TIMEOUT" \
                --inject "rank=$VICTIM,step=100,point=ckpt_agree" > "$log" 2>&1 &
        else
            # shellcheck disable=SC2086
            setsid timeout -s KILL "$TIMEOUT" mpiexec --with-ft ulfm -n "$NP" "$BIN" -v "$v" \
                -i "$ITERS" -k "$KILL_ITER" -r "$VICTIM" $ARGS > "$log" 2>&1 &
        fi
        JOB=$!
        t0=$(date +%s.%N)
        hung=0
        while alive "$JOB"; do
            if [ "$(echo "$(date +%s.%N) - $t0 >= $HANG_AFTER" | bc)" = 1 ]; then
                hung=1
                break
            fi
            sleep 0.1
        done
        secs=$(echo "$(date +%s.%N) - $t0" | bc)
        if [ "$hung" = 1 ]; then
            capture "$tag"
            kill_run "$JOB"
            rc=hang
        else
            wait "$JOB"
            rc=$?
            kill_run "$JOB"   # normally nothing is left; an orphan of a failed run would be
        fi
        JOB=""
        summary=$(grep -m1 -E '^SUMMARY|IDENTICAL|FAIL:' "$log" | tr ',' ';')
        if [ "$hung" = 1 ]; then
            # Where the ranks are: in the agreement (or any MPIX call of the repair), in
            # MPI_Finalize (its PMIx fence), elsewhere.
            where=""
            for g in "$OUT/$tag".gdb.*; do
                case "$g" in *".gdb.$PROCNAME"*) ;; *) continue ;; esac
                if grep -q ftagree "$g"; then where="$where agree"
                elif grep -q -E 'MPIX_Comm_(shrink|revoke)' "$g"; then where="$where repair"
                elif grep -q ompi_mpi_finalize "$g"; then where="$where finalize"
                else where="$where other"; fi
            done
            case "$where" in
            *agree*) outcome=HANG_AGREE ;;
            *repair*) outcome=HANG_REPAIR ;;
            *other*) outcome=HANG_OTHER ;;
            *finalize*) outcome=HANG_FINALIZE ;;
            *) outcome=HANG_OTHER ;;
            esac
            rc="hang:$(echo $where | tr ' ' '/')"
        elif [ "$rc" = 0 ] && { [[ "$summary" == SUMMARY*OK ]] || [[ "$summary" == IDENTICAL* ]]; }; then
            outcome=OK
        elif [ "$rc" = 137 ]; then
            outcome=TIMEOUT
        else
            outcome=BAD
        fi
        N_RUN[$v]=$(( ${N_RUN[$v]:-0} + 1 ))
        case $outcome in
        OK) N_OK[$v]=$(( ${N_OK[$v]:-0} + 1 )) ;;
        HANG_FINALIZE) N_FIN[$v]=$(( ${N_FIN[$v]:-0} + 1 )) ;;
        HANG* | TIMEOUT) N_HANG[$v]=$(( ${N_HANG[$v]:-0} + 1 )) ;;
        *) N_BAD[$v]=$(( ${N_BAD[$v]:-0} + 1 )) ;;
        esac
        printf '%s,%s,%d,%s,%s,%.2f,%s,%s\n' "$MODE" "$v" "$run" "$outcome" "$rc" "$secs" "$load1" \
            "$summary" >> "$CSV"
        if [ "$outcome" = OK ] && [ "$KEEP_ALL" = 0 ]; then
            rm -f "$log"
        elif [ "$outcome" = HANG_FINALIZE ]; then
            printf '%s %s: %s after %.1f s (load %s), log %s (every rank in ompi_mpi_finalize)\n' \
                "$(date +%T)" "$tag" "$outcome" "$secs" "$load1" "$log"
        else
            printf '%s %s: %s after %.1f s (load %s), log %s\n' "$(date +%T)" "$tag" "$outcome" \
                "$secs" "$load1" "$log"
            if [ "${outcome#HANG}" != "$outcome" ]; then
                for g in "$OUT/$tag".gdb.*; do
                    [ -f "$g" ] || continue
                    gp=${g##*.}
                    rk=$(grep -m1 -oE "^\[r[0-9]+ [0-9.]+\] pid $gp\$" "$log" | cut -d' ' -f1)
                    echo " $(basename "$g") ${rk:+rank ${rk#[r}}:"
                    top_frames "$g"
                done
            fi
        fi
    done
    if [ $((run % 10)) = 0 ]; then
        line=""
        for v in $VARIANTS; do
            line="$line $v: ${N_RUN[$v]:-0} runs ${N_OK[$v]:-0} ok ${N_HANG[$v]:-0} hang(agree/repair/other) ${N_FIN[$v]:-0} hang(finalize) ${N_BAD[$v]:-0} bad;"
        done
        echo "$(date +%T) after $run rounds ($(( $(date +%s) - T_BEGIN )) s, load $(cut -d' ' -f1 /proc/loadavg)):$line"
    fi
done

echo "=== totals ($MODE, np $NP, load $LOAD busy loops, $(( $(date +%s) - T_BEGIN )) s, results $CSV)"
for v in $VARIANTS; do
    echo "variant $v: runs ${N_RUN[$v]:-0} ok ${N_OK[$v]:-0} hang-in-agreement/repair/other ${N_HANG[$v]:-0} hang-in-MPI_Finalize ${N_FIN[$v]:-0} bad ${N_BAD[$v]:-0}"
done
