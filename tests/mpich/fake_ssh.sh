#!/bin/sh
# A stand-in for ssh that Hydra's mpiexec runs (-launcher ssh -launcher-exec fake_ssh.sh) to start
# its proxy on a "host": it runs the command on this machine, so that host names that do not exist
# become hosts of one job. The host named by $FAKE_SSH_DIES works once, then is lost: every later
# connection to it fails with status 255, as ssh does for a host that is down. $FAKE_SSH_LOG
# (optional) gets one line per connection: "HOST ok" or "HOST down".
while [ $# -gt 0 ]; do
    case "$1" in
    -o | -p | -l | -i | -F) shift 2 ;;
    -*) shift ;;
    *) break ;;
    esac
done
host="$1"
shift
state="${FAKE_SSH_STATE:?FAKE_SSH_STATE names the directory of the lost-host marker}"
if [ -n "${FAKE_SSH_DIES:-}" ] && [ "$host" = "$FAKE_SSH_DIES" ]; then
    if [ -e "$state/used.$host" ]; then
        [ -n "${FAKE_SSH_LOG:-}" ] && echo "$host down" >>"$FAKE_SSH_LOG"
        echo "ssh: connect to host $host port 22: No route to host" >&2
        exit 255
    fi
    : >"$state/used.$host"
fi
[ -n "${FAKE_SSH_LOG:-}" ] && echo "$host ok" >>"$FAKE_SSH_LOG"
exec sh -c "$*"
