# shellcheck shell=bash
# mpi_launch ERRFILE COMMAND...: runs COMMAND (an mpiexec launch), its standard error in ERRFILE.
# Open MPI 5's mpiexec fails to start ("The PMIx server's listener thread failed to start", status
# 213, before any rank ran) when a killed launcher of the same pid left its session directory,
# ${TMPDIR:-/tmp}/ompi.<pid>, behind: COMMAND runs in a shell that removes the directory of its own
# pid and then becomes COMMAND, as salrun does (docs/reliability.md). A launch that still fails that
# way is made again, at most twice, with a line saying so.
# Returns the status of the last launch.
mpi_launch() {
    local err="$1" attempt rc
    shift
    for attempt in 1 2 3; do
        rc=0
        bash -c 'rm -rf -- "${TMPDIR:-/tmp}/ompi.$$"; exec "$@"' mpi_launch "$@" 2>"$err" || rc=$?
        if [ "$rc" -ne 213 ] || ! grep -q "listener thread failed to start" "$err"; then
            return "$rc"
        fi
        [ "$attempt" -lt 3 ] || break
        echo "mpiexec did not start (status 213, listener thread); launching again (attempt $((attempt + 1)) of 3)" >&2
    done
    return "$rc"
}
