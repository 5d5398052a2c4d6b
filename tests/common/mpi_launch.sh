# shellcheck shell=bash
# mpi_launch ERRFILE COMMAND...: runs COMMAND (an mpiexec launch), its standard error in ERRFILE.
# Open MPI 5's mpiexec sometimes fails to start at all when several launches start together ("The
# PMIx server's listener thread failed to start", status 213, before any rank ran): such a launch
# is made again, at most twice, as salrun does (docs/reliability.md), with a line saying so.
# Returns the status of the last launch.
mpi_launch() {
    local err="$1" attempt rc
    shift
    for attempt in 1 2 3; do
        rc=0
        "$@" 2>"$err" || rc=$?
        if [ "$rc" -ne 213 ] || ! grep -q "listener thread failed to start" "$err"; then
            return "$rc"
        fi
        echo "mpiexec did not start (Open MPI's start race); launching again (attempt $((attempt + 1)) of 3)" >&2
    done
    return "$rc"
}
