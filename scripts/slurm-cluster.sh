#!/usr/bin/env bash
# A private Slurm cluster on this host, for tests and trials (docs/slurm.md):
#
#   scripts/slurm-cluster.sh up DIR [NODES] [--hosts]  start munged, slurmctld and NODES slurmd
#                                             (default 2)
#   scripts/slurm-cluster.sh down DIR         stop them (by the PIDs recorded under DIR, then any
#                                             daemon still started with DIR's files)
#   scripts/slurm-cluster.sh status DIR       print the daemons' PIDs and `sinfo`
#   scripts/slurm-cluster.sh env DIR          print `export SLURM_CONF=...` for the clients
#
# Everything lives under DIR: slurm.conf, the munge key and socket, the controller's state, one
# spool directory, PID file and log per node. The emulated nodes n1..nNODES share this host
# (NodeHostname) and differ by port; each has CPUS_PER_NODE CPUs (default 4) whatever the host
# has (SlurmdParameters=config_overrides). Clients find the cluster through SLURM_CONF=DIR/slurm.conf.
#
# --hosts: the nodes are the hosts node1..nodeNODES of the emulated cluster (scripts/cluster.sh,
# instance $SALNS_INSTANCE), brought up fresh by `up`: the slurmd of nodeK runs inside host K's
# namespaces (started through the cluster's agent), with its hostname and its address on the
# bridge (NodeAddr), and reaches slurmctld, which runs on this machine, at the bridge's address;
# munged runs on this machine and its socket under DIR is shared by every host. `down` also
# removes the emulated hosts (the instance is recorded in DIR/run/hosts).
#
# `up` first stops whatever a previous run left in DIR, then waits until every node is idle and
# prints the seconds that took. Needs Debian's slurmctld, slurmd, slurm-client and munge (scripts/setup.sh),
# and root (slurmd runs jobs as their users). Exit status 0, or 1 with the reason on stderr.
set -euo pipefail

die() {
    echo "slurm-cluster: error: $*" >&2
    exit 1
}

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="$REPO/scripts/cluster.sh"
[ "$#" -ge 2 ] || usage
CMD="$1"
DIR="$2"
shift 2
HOSTS=0
NODES=2
for arg in "$@"; do
    case "$arg" in
    --hosts) HOSTS=1 ;;
    *) NODES="$arg" ;;
    esac
done
if [ "$HOSTS" = 1 ] && [ "$CMD" != up ]; then
    die "--hosts is an option of up only (down and status find the hosts in DIR/run/hosts)"
fi
CPUS_PER_NODE="${CPUS_PER_NODE:-4}"
case "$NODES" in
'' | *[!0-9]*) die "NODES must be a number from 1 to 8, not '$NODES'" ;;
esac
if [ "$NODES" -lt 1 ] || [ "$NODES" -gt 8 ]; then
    die "NODES must be a number from 1 to 8, not '$NODES'"
fi

# A free TCP port on 127.0.0.1 below the kernel's ephemeral range (ip_local_port_range): a port
# the kernel chose would be free only until the daemon binds it, meanwhile any process's socket
# may take it ("Address already in use": a slurmd that never registers). Below the range the
# kernel never hands it out; a random one that binds now is taken.
free_port() {
    python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randint(10000, max(10001, low - 1))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port below %d" % low)'
}

# The PID recorded in file $1 when that process is alive, else nothing.
live_pid() {
    local pid
    pid="$(cat "$1" 2>/dev/null || true)"
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    if kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

# Sends SIGTERM to the daemons whose PID files are given, SIGKILL to those still alive after 3 s,
# and removes the files.
stop_pidfiles() {
    local f pids=() pid
    for f in "$@"; do
        [ -e "$f" ] || continue
        pid="$(live_pid "$f")"
        [ -n "$pid" ] && pids+=("$pid")
    done
    stop_pids "${pids[@]}"
    for f in "$@"; do
        rm -f "$f"
    done
}

# The daemons started with DIR's files that no PID file names any more: those of a cluster whose
# directory was removed under it without `down` (a test run killed with SIGKILL, then a fresh
# clone at the same path). Left running, they would share the new cluster's files and ports.
orphan_pids() {
    local abs
    abs="$(realpath -m "$DIR" | sed 's/[][\.*^$+?(){}|]/\\&/g')"
    pgrep -f "^(slurmctld|slurmd) .*-f $abs/slurm\.conf( |\$)" || true
    pgrep -f "^munged .*--socket=$abs/munge/" || true
}

stop_orphans() {
    local pids
    mapfile -t pids < <(orphan_pids)
    stop_pids "${pids[@]}"
}

# SIGTERM to the given PIDs, SIGKILL to those still alive after 3 s.
stop_pids() {
    local pid i
    [ "$#" -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for i in $(seq 30); do
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && break
            pid=
        done
        [ -z "${pid:-}" ] && break
        sleep 0.1
    done
    kill -KILL "$@" 2>/dev/null || true
}

# Stops what DIR's PID files name: the nodes and the controller together (the nodes' job
# processes die with their slurmstepd), then munged, which they need until they are gone.
down() {
    local i jobs
    if [ ! -d "$DIR/run" ]; then
        stop_orphans
        return 0
    fi
    # Jobs first: a slurmstepd outlives its slurmd. Cancelled through the controller, if it runs.
    if [ -f "$DIR/slurm.conf" ] && [ -n "$(live_pid "$DIR/run/slurmctld.pid")" ]; then
        export SLURM_CONF="$DIR/slurm.conf"
        mapfile -t jobs < <(squeue -h -o %i 2>/dev/null)
        if [ "${#jobs[@]}" -gt 0 ]; then
            scancel --quiet "${jobs[@]}" 2>/dev/null || true
            for i in $(seq 50); do
                [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    stop_pidfiles "$DIR"/run/slurmd.*.pid "$DIR/run/slurmctld.pid"
    stop_pidfiles "$DIR/run/munged.pid"
    stop_orphans
    # --hosts: the emulated hosts go too, with whatever still runs in them (job steps of a
    # slurmd that was killed, the processes of a lost host)
    if [ -f "$DIR/run/hosts" ]; then
        SALNS_INSTANCE="$(cat "$DIR/run/hosts")" "$CLUSTER" down >/dev/null
        rm -f "$DIR/run/hosts"
    fi
}

# write_conf HOST CTLD_ADDR CTLD_PORT: slurm.conf, with the nodes on this host or (--hosts) on
# the emulated hosts.
write_conf() {
    local host="$1" ctld_addr="$2" ctld_port="$3" i port
    sed -e "s|@DIR@|$DIR|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_ADDR@|$ctld_addr|g" \
        -e "s|@CTLD_PORT@|$ctld_port|g" \
        "$REPO/slurm/test-cluster.conf.in" >"$DIR/slurm.conf" ||
        die "cannot write $DIR/slurm.conf from $REPO/slurm/test-cluster.conf.in"
    for i in $(seq "$NODES"); do
        # Weight: the scheduler fills the first node first, then the second, ...
        if [ "$HOSTS" = 1 ]; then
            # the hostname of host i is its node name; every slurmd has its own address
            echo "NodeName=node$i NodeAddr=$("$CLUSTER" address "$i") Port=6818 CPUs=$CPUS_PER_NODE Weight=$i State=UNKNOWN"
        else
            port="$(free_port)"
            echo "NodeName=n$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$port CPUs=$CPUS_PER_NODE Weight=$i State=UNKNOWN"
        fi >>"$DIR/slurm.conf"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$DIR/slurm.conf"
}

start_munge() {
    install -d -m 0700 "$DIR/munge"
    # munged checks that every directory on the socket's path is not writable by others; clients
    # that are not root need the socket directory readable: 0755.
    chmod 0755 "$DIR/munge"
    if [ ! -s "$DIR/munge/munge.key" ]; then
        mungekey --create --keyfile="$DIR/munge/munge.key" 2>/dev/null ||
            dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
        chmod 0400 "$DIR/munge/munge.key"
    fi
    munged --force --socket="$DIR/munge/munge.socket.2" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munge.seed" ||
        die "munged did not start; see $DIR/log/munged.log"
}

wait_idle() {
    local deadline=$((SECONDS + 30)) idle
    while [ "$SECONDS" -lt "$deadline" ]; do
        idle="$(sinfo -h -N -o '%T' 2>/dev/null | grep -c '^idle$' || true)"
        [ "$idle" -eq "$NODES" ] && return 0
        sleep 0.05
    done
    sinfo -N >&2 || true
    die "the nodes are not idle after 30 s; see $DIR/log/"
}

up() {
    local host t0 i ctld_addr instance
    [ "$(id -u)" -eq 0 ] || die "run as root (slurmd starts jobs as their users)"
    for b in munged mungekey slurmctld slurmd sinfo; do
        command -v "$b" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$b" >/dev/null ||
            die "$b not found: install slurmctld slurmd slurm-client munge (scripts/setup.sh)"
    done
    PATH="$PATH:/usr/sbin"
    down
    t0="$(date +%s.%N)"
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    rm -rf "$DIR/state" "$DIR/spool" "$DIR/log"
    install -d -m 0755 "$DIR/run" "$DIR/state" "$DIR/log" "$DIR/spool"
    host="$(hostname -s)"
    # A bring-up that fails half-way stops what it started.
    trap down EXIT
    ctld_addr=127.0.0.1
    if [ "$HOSTS" = 1 ]; then
        instance="${SALNS_INSTANCE:-0}"
        echo "$instance" >"$DIR/run/hosts"
        "$CLUSTER" up "$NODES" >/dev/null || die "scripts/cluster.sh up $NODES failed"
        ctld_addr="$("$CLUSTER" address)"
    fi
    write_conf "$host" "$ctld_addr" "$(free_port)"
    export SLURM_CONF="$DIR/slurm.conf"
    start_munge
    slurmctld -c -i -f "$SLURM_CONF" || die "slurmctld did not start; see $DIR/log/slurmctld.log"
    for i in $(seq "$NODES"); do
        if [ "$HOSTS" = 1 ]; then
            mkdir -p "$DIR/spool/node$i"
            # detached, inside host i (its network, hostname and /dev/shm); the agent's own
            # output goes to /tmp/salns*-node$i.out
            "$CLUSTER" agent "node$i" "$(printf '%q ' slurmd -N "node$i" -f "$SLURM_CONF")" ||
                die "the agent of host node$i did not start its slurmd"
        else
            mkdir -p "$DIR/spool/n$i"
            slurmd -N "n$i" -f "$SLURM_CONF" || die "slurmd n$i did not start; see $DIR/log/slurmd.n$i.log"
        fi
    done
    wait_idle
    trap - EXIT
    printf 'slurm-cluster: %d node(s)%s idle after %.2f s; export SLURM_CONF=%s\n' "$NODES" \
        "$([ "$HOSTS" = 1 ] && echo " on the emulated hosts (SALNS_INSTANCE=$instance)")" \
        "$(echo "$(date +%s.%N) - $t0" | bc)" "$SLURM_CONF"
}

status() {
    local f
    export SLURM_CONF="$DIR/slurm.conf"
    for f in "$DIR"/run/*.pid; do
        [ -e "$f" ] || continue
        if kill -0 "$(cat "$f")" 2>/dev/null; then
            echo "$(basename "$f" .pid) $(cat "$f") running"
        else
            echo "$(basename "$f" .pid) $(cat "$f") gone"
        fi
    done
    sinfo -N
    if [ -f "$DIR/run/hosts" ]; then
        SALNS_INSTANCE="$(cat "$DIR/run/hosts")" "$CLUSTER" status
    fi
}

case "$CMD" in
up) up ;;
down)
    t0="$(date +%s.%N)"
    down
    printf 'slurm-cluster: stopped in %.2f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
    ;;
status) status ;;
env) echo "export SLURM_CONF=$(cd "$DIR" && pwd)/slurm.conf" ;;
*) usage ;;
esac
