#!/usr/bin/env bash
# An emulated cluster on this machine, for multi-host tests (docs/cluster.md):
#
#   scripts/cluster.sh up N              hosts node1..nodeN (N from 1 to 16)
#   scripts/cluster.sh down              removes every host, bridge and file it made (idempotent)
#   scripts/cluster.sh status            the hosts and their processes
#   scripts/cluster.sh kill K [--silent] loses host K: SIGKILL of every process on it, its node-local
#                                        files gone with it; later launches to it fail like an
#                                        unreachable ssh target. --silent cuts its link first.
#   scripts/cluster.sh freeze K          hangs host K: SIGSTOP of every process on it (its files
#                                        stay); later launches to it fail like an unreachable
#                                        ssh target. `down` ends the stopped processes.
#   scripts/cluster.sh hostfile [SLOTS] [--addresses]  a hostfile of the hosts by name, or by
#                                        address (default 2 slots each)
#   scripts/cluster.sh mpiexec-args [--slurm]  the mpiexec options that reach the hosts (pass them
#                                        to salrun before --, with --map-by slot:oversubscribe);
#                                        --slurm: the network options only, for jobs under the
#                                        cluster's Slurm (PRRTE starts its daemons with srun)
#   scripts/cluster.sh address [K]       the address of host K, or of this machine on the bridge
#   scripts/cluster.sh agent HOST CMD... runs CMD on HOST; PRRTE's ssh launcher calls this script
#                                        as its agent (plm_ssh_agent) with HOST CMD... only
#
# Host K is a network namespace salnK (address 10.251.0.(10+K) on the bridge salbr0, which has no
# route out: traffic stays between the namespaces this script makes), a UTS namespace (hostname
# nodeK: PRRTE tells nodes apart by hostname) and a mount namespace with its own tmpfs on /dev/shm
# (node-local storage, lost with the host). /tmp stays shared, like a cluster's shared file system.
# State lives in /run/salns. Needs root.
#
# SALNS_INSTANCE=I (1-4; default 0) makes a separate cluster beside the default one, so that
# two test runs on one machine do not share hosts: state /run/salnsI, bridge salbrI, namespaces
# salInK, veths salIvK, addresses 10.(251+I).0.(10+K). Every command, the agent included (it
# inherits the variable from mpiexec's environment), acts on that instance only.
set -euo pipefail

INSTANCE=${SALNS_INSTANCE:-0}
[[ "$INSTANCE" =~ ^[0-4]$ ]] || {
    echo "cluster.sh: SALNS_INSTANCE must be 0 to 4, not '$INSTANCE'" >&2
    exit 2
}
if [ "$INSTANCE" = 0 ]; then
    STATE=/run/salns NS=saln VETH=salv
else
    STATE=/run/salns$INSTANCE NS=sal${INSTANCE}n VETH=sal${INSTANCE}v
fi
NET=10.$((251 + INSTANCE)).0
BRIDGE=salbr$INSTANCE
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1 needs root (network, UTS and mount namespaces); run it as root"
}

hosts_up() {
    ip netns list 2>/dev/null | awk -v p="^${NS}[0-9]+\$" '$1 ~ p {print $1}' | sed "s/^$NS//" | sort -n
}

down() {
    local any=0 ns l f
    for ns in $(ip netns list 2>/dev/null | awk -v p="^${NS}[0-9]+\$" '$1 ~ p {print $1}'); do
        any=1
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    # the bridge-side veths: a deleted netns is destroyed asynchronously, and its veth pair can
    # outlive "ip netns del" long enough to make the next "up" fail with "File exists"
    for l in $(ip -o link show 2>/dev/null | awk -F'[ :@]+' -v p="^${VETH}[0-9]+\$" '$2 ~ p {print $2}'); do
        any=1
        ip link del "$l" 2>/dev/null || true
    done
    for f in "$STATE"/uts* "$STATE"/mnt*; do
        [ -e "$f" ] || continue
        any=1
        umount "$f" 2>/dev/null || true
        rm -f "$f"
    done
    rm -f "$STATE"/down* "$STATE"/hosts
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        any=1
        ip link del "$BRIDGE" 2>/dev/null || true
    fi
    if mountpoint -q "$STATE"; then
        umount "$STATE" 2>/dev/null || true
    fi
    [ "$any" = 1 ] && echo "cluster.sh: cluster removed" || echo "cluster.sh: no cluster to remove"
}

up() {
    local n=$1 k addrs
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 16 ]; then
        die "up: the number of hosts must be 1 to 16, not '$n'"
    fi
    for cmd in ip nsenter unshare mountpoint; do
        command -v "$cmd" >/dev/null || die "up: '$cmd' is missing (Debian: iproute2, util-linux)"
    done
    # Read whole, then searched: a `| grep -q` under pipefail fails when grep exits first.
    addrs="$(ip -o addr show 2>/dev/null | grep -v " $BRIDGE ")" || true
    if grep -q " $NET\." <<<"$addrs"; then
        die "up: addresses $NET.0/24 are already in use by an interface this script did not make"
    fi
    down >/dev/null # a half-made cluster of an earlier run
    trap 'echo "cluster.sh: up failed; removing what was made" >&2; down >/dev/null' ERR
    mkdir -p "$STATE"
    mountpoint -q "$STATE" || { mount --bind "$STATE" "$STATE"; mount --make-private "$STATE"; }
    ip link add "$BRIDGE" type bridge
    ip link set "$BRIDGE" up
    ip addr add "$NET.1/24" dev "$BRIDGE"
    for k in $(seq 1 "$n"); do
        ip netns add "$NS$k"
        ip link add "$VETH$k" type veth peer name eth0 netns "$NS$k"
        ip link set "$VETH$k" master "$BRIDGE" up
        ip netns exec "$NS$k" ip addr add "$NET.$((10 + k))/24" dev eth0
        ip netns exec "$NS$k" ip link set eth0 up
        ip netns exec "$NS$k" ip link set lo up
        touch "$STATE/uts$k"
        unshare --uts="$STATE/uts$k" hostname "node$k"
        touch "$STATE/mnt$k"
        unshare --mount="$STATE/mnt$k" --propagation private \
            mount -t tmpfs -o size=1g,mode=1777 tmpfs /dev/shm
        echo "$NET.$((10 + k)) node$k" >>"$STATE/hosts"
    done
    trap - ERR
    echo "cluster.sh: $n hosts up: $(awk '{print $2 " (" $1 ")"}' "$STATE/hosts" | paste -sd, - | sed 's/,/, /g')"
}

# host_index HOST: K of an address 10.251.0.(10+K) or a name nodeK.
host_index() {
    local h=$1
    case "$h" in
    "$NET".*) echo $((${h##*.} - 10)) ;;
    node*) echo "${h#node}" ;;
    *) echo 0 ;;
    esac
}

agent() {
    local h=$1 k
    shift
    k=$(host_index "$h")
    if [ "$k" -lt 1 ] || [ ! -e "$STATE/uts$k" ]; then
        echo "ssh: Could not resolve hostname $h: not a host of the emulated cluster" >&2
        exit 255
    fi
    # a lost host behaves like an unreachable ssh target
    if [ -e "$STATE/down$k" ]; then
        sleep 3
        echo "ssh: connect to host $h port 22: No route to host" >&2
        exit 255
    fi
    # Open MPI 5's launcher refuses to start when the session directory of its pid, left behind
    # by one killed earlier (a lost host's daemon), holds a rendezvous file (docs/reliability.md):
    # the daemons' directories whose process is gone are removed first (the hosts share /tmp and
    # the pids of this machine).
    local d
    for d in "${TMPDIR:-/tmp}"/prted.*; do
        if [ -d "$d" ] && [ ! -e "/proc/${d##*.}" ]; then
            rm -rf -- "$d" 2>/dev/null || true
        fi
    done
    # detached: PRRTE's ssh launcher ends the whole job when its agent process dies abnormally
    nsenter --net="/run/netns/$NS$k" --uts="$STATE/uts$k" --mount="$STATE/mnt$k" \
        setsid /bin/sh -c "$*" </dev/null >>"/tmp/${STATE##*/}-node$k.out" 2>&1 &
    exit 0
}

kill_host() {
    local k=$1 silent=${2:-} pids t0
    [ -e "$STATE/uts$k" ] || die "kill: host $k is not up (scripts/cluster.sh status)"
    t0=$(date +%s.%N)
    if [ "$silent" = --silent ]; then
        ip link set "$VETH$k" down
    fi
    pids=$(ip netns pids "$NS$k" | tr '\n' ' ')
    echo "$pids" | xargs -r kill -9 2>/dev/null || true
    for _ in $(seq 1 100); do
        [ -z "$(ip netns pids "$NS$k")" ] && break
        sleep 0.05
    done
    # its node-local files go with it: a new, empty tmpfs on /dev/shm
    nsenter --mount="$STATE/mnt$k" umount /dev/shm 2>/dev/null || true
    nsenter --mount="$STATE/mnt$k" mount -t tmpfs -o size=1g,mode=1777 tmpfs /dev/shm
    # and the session directory of its PRRTE daemon, which the emulated hosts keep in this
    # machine's shared /tmp (a real node's /tmp goes with it)
    for p in $pids; do
        rm -rf "/tmp/prted.$p"
    done
    touch "$STATE/down$k"
    echo "cluster.sh: host node$k lost (pids $pids) in $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.3f", a - b}') s${silent:+, link cut}"
}

freeze_host() {
    local k=$1 pids
    [ -e "$STATE/uts$k" ] || die "freeze: host $k is not up (scripts/cluster.sh status)"
    pids=$(ip netns pids "$NS$k" | tr '\n' ' ')
    echo "$pids" | xargs -r kill -STOP 2>/dev/null || true
    touch "$STATE/down$k"
    echo "cluster.sh: host node$k frozen (pids $pids stopped)"
}

cmd=${1:-}
case "$cmd" in
up)
    need_root up
    up "${2:-}"
    ;;
down)
    need_root down
    down
    ;;
status)
    if [ ! -e "$STATE/hosts" ]; then
        echo "cluster.sh: no cluster"
        exit 0
    fi
    while read -r addr name; do
        k=${name#node}
        state=up
        [ -e "$STATE/down$k" ] && state=lost
        echo "$name $addr $state processes: $(ip netns pids "$NS$k" 2>/dev/null | wc -l)"
    done <"$STATE/hosts"
    ;;
kill)
    need_root kill
    kill_host "${2:?kill K}" "${3:-}"
    ;;
freeze)
    need_root freeze
    freeze_host "${2:?freeze K}"
    ;;
hostfile)
    [ -e "$STATE/hosts" ] || die "hostfile: no cluster (scripts/cluster.sh up N)"
    # host names, not addresses: PRRTE and Salamander's placement name hosts by hostname, and a
    # replacement spawned on "node3" must reach the daemon the hostfile started there
    # (--addresses: by address, as many clusters' hostfiles are; salrun learns the names)
    col=2
    [ "${3:-}" = --addresses ] && col=1
    awk -v s="${2:-2}" -v c="$col" '{print $c " slots=" s}' "$STATE/hosts"
    ;;
mpiexec-args)
    net="--prtemca oob_tcp_if_include $NET.0/24 --mca btl_tcp_if_include $NET.0/24"
    case "${2:-}" in
    '') echo "--prtemca plm_ssh_agent $SELF --prtemca plm_ssh_no_tree_spawn 1 $net" ;;
    --slurm) echo "$net" ;;
    *) die "mpiexec-args: unknown option '$2' (--slurm or nothing)" ;;
    esac
    ;;
address)
    k=${2:-0}
    if ! [[ "$k" =~ ^[0-9]+$ ]] || [ "$k" -gt 16 ]; then
        die "address: K must be 0 to 16, not '$k'"
    fi
    if [ "$k" = 0 ]; then
        echo "$NET.1"
    else
        [ -e "$STATE/uts$k" ] || die "address: host $k is not up (scripts/cluster.sh status)"
        echo "$NET.$((10 + k))"
    fi
    ;;
agent)
    shift
    agent "$@"
    ;;
"$NET".* | node[0-9]*) # called by PRRTE as its ssh agent: HOST CMD...
    agent "$@"
    ;;
*)
    sed -n '2,20p' "$SELF" >&2
    exit 2
    ;;
esac
