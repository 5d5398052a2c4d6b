#!/bin/bash
# One scenario of the checkpoint levels: levels_test.sh <case> <driver> <mpiexec> [mpiexec flags...]
# Writes with the test driver, damages the checkpoint like a lost host, disk or file would, and
# checks that the restore returns the data written, from the expected checkpoint.
set -u
case_name=$1 drv=$2
shift 2
mpi=("$@")
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
T=$(mktemp -d /tmp/sal-ckpt-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
export SAL_CKPT_DIR=$T/local SAL_LOG_DIR=$T SAL_KEEP=2 SAL_LOG_LEVEL=info
unset SAL_PFS_DIR SAL_LEVELS SAL_FAKE_HOST_RANKS SAL_HOSTNAME
D=$T/local/drv

# shellcheck source=tests/common/mpi_launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/mpi_launch.sh"
# launch <mpiexec args...>: mpi_launch (Open MPI's start race), its standard error kept in stderr.
launch() {
    local rc=0
    mpi_launch "$T/launch" "${mpi[@]}" "$@" || rc=$?
    cat "$T/launch" >>"$T/stderr"
    return "$rc"
}
run() { # run <nranks> <driver args...>
    local n=$1
    shift
    launch -n "$n" "$drv" "$@" || { cat "$T/stderr"; echo "FAILED: $*"; exit 1; }
}
# Node-local directories: rank r of a job with fake hosts of H ranks keeps its checkpoints in
# $T/nodes/host<r / H>, as if every host had its own /dev/shm (Open MPI names the rank).
run_nodes() { # run_nodes <H> <nranks> <driver args...>
    local h=$1 n=$2
    shift 2
    launch -n "$n" sh -c 'export SAL_CKPT_DIR="$0/host$((OMPI_COMM_WORLD_RANK / $1))"; shift; exec "$@"' \
        "$T/nodes" "$h" "$drv" "$@" || { cat "$T/stderr"; echo "FAILED: $*"; exit 1; }
}
lose_host() { rm -rf "$T/nodes/host$1" && echo "lost host $1"; }
damage() { "$drv" damage "$@" || { echo "FAILED: damage $*"; exit 1; }; }
expect_events() { grep -q -- "$1" "$T/drv.events.jsonl" || { cat "$T/drv.events.jsonl"; echo "FAILED: no event '$1'"; exit 1; }; }
expect_log() { grep -q -- "$1" "$T/stderr" || { cat "$T/stderr"; echo "FAILED: no message '$1'"; exit 1; }; }

case $case_name in
l1)  export SAL_LEVELS=L1
     run 4 write 2; run 4 restore 1 2 4 ;;
l2)  export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1
     # the application's receive from any source with any tag, posted across each checkpoint,
     # takes none of the partner copies' messages (they travel on a communicator of their own)
     DRV_APP_MSGS=1 run 4 write 2; damage "$D/ckpt.1" level L1
     run 4 restore 1 2 4; expect_log "restored from L2" ;;
l3)  export SAL_LEVELS=L1,L3 SAL_FAKE_HOST_RANKS=1
     run 4 write 2; damage "$D/ckpt.1" rank 2
     run 4 restore 1 2 4; expect_log "restored from L3" ;;
l4)  export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1 SAL_PFS_DIR=$T/pfs
     run 4 write 3; test -f "$T/pfs/drv/latest" && test -f "$D/ckpt.2/flushed" || { echo "FAILED: no flush"; exit 1; }
     grep -q '"event":"flush"' "$T/drv.events.jsonl" || { echo "FAILED: no flush event"; exit 1; }
     rm -rf "$D"; run 4 restore 2 3 4 ;;
host_l2) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=2
     run 4 write 2; damage "$D/ckpt.1" host 1; run 4 restore 1 2 4; expect_log "restored from L2" ;;
host_l3) export SAL_LEVELS=L1,L3 SAL_FAKE_HOST_RANKS=2
     run 4 write 2; damage "$D/ckpt.1" host 0; run 4 restore 1 2 4; expect_log "restored from L3" ;;
corrupt) export SAL_LEVELS=L1
     run 4 write 2; damage "$D/ckpt.1" corrupt 1
     run 4 restore 0 1 4; expect_log "ckpt.1/rank.1.h5" ;;
corrupt_l2) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1
     run 4 write 2; damage "$D/ckpt.1" corrupt 3
     run 4 restore 1 2 4; expect_log "ckpt.1/rank.3.h5"; expect_log "restored from L2" ;;
n4to3) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1
     run 4 write 2; damage "$D/ckpt.1" rank 2
     run 3 restore 1 2 4; expect_log "restored from its partner copy" ;;
n4to6) export SAL_LEVELS=L1,L3 SAL_FAKE_HOST_RANKS=1
     run 4 write 2; damage "$D/ckpt.1" rank 1
     run 6 restore 1 2 4; expect_log "rebuilt from XOR parity" ;;
partial) export SAL_LEVELS=L1 SAL_HOSTNAME=nodeA
     # what the loss of the host of ranks 2-3 does to node-local L1: every checkpoint lacks their
     # files; ranks 0-1 can read theirs, and must not keep them in memory
     run 4 write 2; damage "$D/ckpt.0" rank 2; damage "$D/ckpt.0" rank 3
     damage "$D/ckpt.1" rank 2; damage "$D/ckpt.1" rank 3
     run 4 unrestorable "checkpoint 1 (step 2, levels L1): no data for ranks 2-3 (written on host nodeA); checkpoint 0"
     expect_log "levels that would have covered them: L2"
     # the memory of a restore that succeeds after a partial one is the older checkpoint's only
     run 4 write 2; damage "$D/ckpt.3" rank 3; run 4 restore 2 1 4 ;;
n4to3_l4) export SAL_LEVELS=L1 SAL_PFS_DIR=$T/pfs
     run 4 write 2; rm -rf "$D"; run 3 restore 1 2 4 ;;
h5dump) export SAL_LEVELS=L1,L2,L3 SAL_FAKE_HOST_RANKS=2
     run 4 write 2
     "$drv" expect "$T/expect.bin" 2
     h5dump -d u -b LE -o "$T/dump.bin" "$D/ckpt.1/manifest.h5" >/dev/null || { echo "FAILED: h5dump"; exit 1; }
     cmp "$T/expect.bin" "$T/dump.bin" || { echo "FAILED: h5dump differs"; exit 1; } ;;
local_l2) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=2
     run_nodes 2 6 write 2; lose_host 1
     run_nodes 2 6 restore 1 2 6; expect_log "restored from L2"; expect_log "manifest received" ;;
local_l2_rank0) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=2
     # the host of rank 0 is lost with its `latest`, manifest and levels record: the other hosts'
     # pointers and files still name and hold checkpoint 1
     run_nodes 2 6 write 2; lose_host 0
     run_nodes 2 6 restore 1 2 6; expect_log "restored from L2"; expect_log "manifest received"
     test -f "$T/nodes/host1/drv/latest" && test -f "$T/nodes/host2/drv/latest" ||
         { echo "FAILED: the other hosts keep no latest"; exit 1; } ;;
local_l3) export SAL_LEVELS=L1,L3 SAL_FAKE_HOST_RANKS=2
     run_nodes 2 6 write 2; lose_host 2
     run_nodes 2 6 restore 1 2 6; expect_log "restored from L3"
     test -f "$T/nodes/host2/drv/ckpt.1/rank.4.h5" && test -f "$T/nodes/host2/drv/ckpt.1/parity.5.xor" ||
         { echo "FAILED: rebuilt files not stored node-locally"; exit 1; }
     # the rebuilt files are complete: losing another host is survived again
     lose_host 1; run_nodes 2 6 restore 1 2 6 ;;
local_l3x2) export SAL_LEVELS=L1,L3 SAL_FAKE_HOST_RANKS=2 SAL_PFS_DIR=$T/pfs
     run_nodes 2 6 write 2; lose_host 1; lose_host 2
     run_nodes 2 6 restore 1 2 6; expect_log "members of its parity group are lost (ranks 2, 4)"
     expect_log "restored from L4" ;;
reuse) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=2
     # from the fourth checkpoint on, each overwrites the files of the oldest one (on every rank);
     # every host keeps keep + 1 = 3 checkpoints in its own directory
     run_nodes 2 4 write 6
     n=$(grep -c '"event":"ckpt_commit".*"reused_files":4' "$T/drv.events.jsonl")
     [ "$n" = 3 ] || { cat "$T/drv.events.jsonl"; echo "FAILED: $n checkpoints reused 4 files, not 3"; exit 1; }
     for h in 0 1; do
         n=$(ls -d "$T/nodes/host$h/drv"/ckpt.* | wc -l)
         [ "$n" = 3 ] || { ls -R "$T/nodes"; echo "FAILED: host$h keeps $n checkpoints, not 3"; exit 1; }
     done
     lose_host 1; run_nodes 2 4 restore 5 6 4; expect_log "restored from L2" ;;
l3_big) export SAL_LEVELS=L1,L3 SAL_FAKE_HOST_RANKS=1 SAL_XOR_GROUP_SIZE=2 DRV_ROWS=440001
     # rank files of about 8.4 MiB of unequal lengths (110001 and 110000 rows): the stripes of
     # the groups of 2 travel in two pieces (8 MiB and the rest); from the fourth checkpoint on,
     # each overwrites the parity and rank files of the oldest one
     SAL_LOG_LEVEL=debug run 4 write 5; damage "$D/ckpt.4" rank 1
     expect_log "ckpt.4/parity.1.xor overwrites .*/ckpt.1/parity.1.xor"
     grep -q '"level":"L1+L3".*"phases":{.*"L3_exchange":[0-9.]*,"L3_store":[0-9.]*}' "$T/drv.events.jsonl" ||
         { cat "$T/drv.events.jsonl"; echo "FAILED: no L3 phases in ckpt_commit"; exit 1; }
     run 4 restore 4 5 4; expect_log "restored from L3"
     # the parity rewritten by that rebuild serves the next one
     damage "$D/ckpt.4" host 3; run 4 restore 4 5 4 ;;
l2_reuse) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1 DRV_ROWS=140001
     # the partner copies of checkpoints 3 and 4 overwrite those of checkpoints 0 and 1
     SAL_LOG_LEVEL=debug run 4 write 5; damage "$D/ckpt.4" level L1
     expect_log "L2: the partner copy of rank 0 overwrites .*/ckpt.1/partner.0.h5"
     grep -q '"level":"L1+L2".*"phases":{"write":[0-9.]*,.*"L2_exchange":[0-9.]*,"L2_store":[0-9.]*}' "$T/drv.events.jsonl" ||
         { cat "$T/drv.events.jsonl"; echo "FAILED: no L2 phases in ckpt_commit"; exit 1; }
     run 4 restore 4 5 4; expect_log "restored from L2" ;;
diff) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1 SAL_DIFFERENTIAL=yes DRV_ROWS=210001 DRV_STATIC_ROWS=160000
     # ranks 0-2 (rows 0-157499) keep the values of step 1; rank 3's rows change at every step.
     # Checkpoints 3 and 4 overwrite 0 and 1 and leave the chunks of ranks 0-2 as they were:
     # 3 x 52500 rows x 80 bytes
     run 4 write 5
     grep -q '"id":4,.*"reused_files":4,"unchanged_bytes":12600000,' "$T/drv.events.jsonl" ||
         { grep ckpt_commit "$T/drv.events.jsonl"; echo "FAILED: checkpoint 4 did not skip exactly ranks 0-2"; exit 1; }
     run 4 restore 4 5 4; run 3 restore 4 5 4
     # a chunk left as it was, damaged after the commit: the partner copy serves
     damage "$D/ckpt.4" corrupt 1; run 4 restore 4 5 4; expect_log "restored from L2"
     # damaged in the checkpoint about to be overwritten: checkpoint 5 inherits the damage in its
     # file and its partner copy; the restore finds it and takes checkpoint 4
     damage "$D/ckpt.2" corrupt 0; run 4 write 1
     run 4 restore 4 5 4; expect_log "ckpt.5/rank.0.h5" ;;
diff_pages) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1 SAL_DIFFERENTIAL=yes SAL_DIFFERENTIAL_TRACKING=pages DRV_ROWS=210001 DRV_STATIC_ROWS=160000
     # as diff, with the kernel's record of written pages: the chunks of ranks 0-2 are left in
     # place without being read (their memory was not written since checkpoints 2 and 3, whose
     # files 4 overwrites), so unread_bytes is all of unchanged_bytes
     run 4 write 5
     grep -q '"id":4,.*"reused_files":4,"unchanged_bytes":12600000,"unread_bytes":12600000,' "$T/drv.events.jsonl" ||
         { grep ckpt_commit "$T/drv.events.jsonl"; echo "FAILED: checkpoint 4 did not leave ranks 0-2 unread"; exit 1; }
     run 4 restore 4 5 4; run 3 restore 4 5 4
     # a restore in the middle of a run writes every page: ids 5-10 at steps 1-6, checkpoint 6
     # restored before step 3; checkpoint 8 overwrites 5's files, older than the restore, and
     # reads everything; 10 overwrites 7's, the first after the restore, and leaves 0-2 unread
     DRV_RESTORE_AT=3 run 4 write 6
     grep -q '"id":8,.*"unchanged_bytes":12600000,"unread_bytes":0,' "$T/drv.events.jsonl" &&
         grep -q '"id":10,.*"unchanged_bytes":12600000,"unread_bytes":12600000,' "$T/drv.events.jsonl" ||
         { grep ckpt_commit "$T/drv.events.jsonl"; echo "FAILED: the pages a restore wrote"; exit 1; }
     run 4 restore 10 6 4; run 3 restore 10 6 4 ;;
lz4) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1 SAL_COMPRESSION=lz4 DRV_ROWS=140001
     # compressed rank files (through the HDF5 LZ4 plugin) are sent, kept and read like any other
     run 4 write 4; damage "$D/ckpt.3" level L1
     run 4 restore 3 4 4; expect_log "restored from L2"; run 3 restore 3 4 4
     h5dump -p -H "$D/ckpt.3/rank.1.h5" | grep -q "FILTER_ID 32004" ||
         { echo "FAILED: rank.1.h5 is not LZ4-compressed"; exit 1; } ;;
async_l2) export SAL_LEVELS=L1,L2 SAL_FAKE_HOST_RANKS=1 SAL_ASYNC_LEVELS=yes
     # each checkpoint commits at L1; the next one completes its partner copies and records them.
     # Meanwhile the application's messages (any source, any tag) take none of theirs.
     DRV_APP_MSGS=1 run 4 write 3
     expect_events '"event":"ckpt_commit".*"id":2,.*"level":"L1","pending":"L2"'
     expect_events '"event":"levels_complete".*"id":1,"levels":"L2"'
     grep -qx "levels 3" "$D/ckpt.1/levels" && grep -qx "levels 1" "$D/ckpt.2/levels" ||
         { cat "$D"/ckpt.*/levels; echo "FAILED: levels records"; exit 1; }
     test ! -e "$D/ckpt.1/pending" && grep -qx L2 "$D/ckpt.2/pending" ||
         { ls "$D"/ckpt.*; echo "FAILED: pending files"; exit 1; }
     # checkpoint 2 lost a file and is L1 only: the restore falls back to checkpoint 1's copies
     damage "$D/ckpt.2" rank 1; damage "$D/ckpt.1" level L1
     run 4 restore 1 2 4; expect_log "restored from L2"
     # the end of the job (sal_finalize) completes the last one
     DRV_FINISH=1 run 4 write 1; damage "$D/ckpt.3" level L1
     test ! -e "$D/ckpt.3/pending" || { echo "FAILED: checkpoint 3 still pending"; exit 1; }
     run 4 restore 3 1 4; expect_log "restored from L2" ;;
async_l3) export SAL_LEVELS=L1,L3 SAL_FAKE_HOST_RANKS=1 SAL_XOR_GROUP_SIZE=2 DRV_ROWS=440001 SAL_ASYNC_LEVELS=yes
     # stripes of two pieces (l3_big), encoded piece by piece behind the writes
     run 4 write 4; expect_events '"event":"levels_complete".*"id":2,"levels":"L3"'
     grep -qx "levels 5" "$D/ckpt.2/levels" || { cat "$D/ckpt.2/levels"; echo "FAILED: levels record"; exit 1; }
     damage "$D/ckpt.3" rank 0; damage "$D/ckpt.2" rank 1
     run 4 restore 2 3 4; expect_log "restored from L3"
     # the rebuilt files serve again: the other group's loss
     damage "$D/ckpt.3" rank 2; damage "$D/ckpt.2" rank 3; run 4 restore 2 3 4 ;;
*)   echo "unknown case $case_name"; exit 2 ;;
esac
echo "PASSED $case_name"
