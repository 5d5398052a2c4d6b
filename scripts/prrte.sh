#!/usr/bin/env bash
# Builds the launcher stack that survives the loss of a host in-job, OpenPMIx 7 + PRRTE 5, from the
# pinned sources of thirdparty/ and installs it into PREFIX (docs/cluster.md, "Two launcher
# stacks"):
#   scripts/prrte.sh [PREFIX]          (default PREFIX: $REPO/.prrte)
# Then: salrun --prrte PREFIX ...  (or SAL_PRRTE_PREFIX=PREFIX).
#
# Does nothing when PREFIX/bin/prterun exists and PREFIX/.salamander-prrte records the checksums of
# the same two tarballs and the same configure options (a second run takes well under a second).
# A PREFIX holding a PRRTE >= 5 installed by other means (a cluster's own) is checked and used as
# is, never built over. SAL_PRRTE_SOURCES=DIR takes the two tarballs from DIR instead of
# thirdparty/. Installs the Debian packages the build needs when missing. Prints one line per step;
# the build's full output goes to PREFIX/build.log, named when a step fails. Takes 3.5 to 6.5
# minutes on 2 cores, depending on the load.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-$REPO/.prrte}"
SOURCES="${SAL_PRRTE_SOURCES:-$REPO/thirdparty}"
PMIX_TARBALL="openpmix-494e9d9.tar.gz"
PRRTE_TARBALL="prrte-52d5e4b.tar.gz"
STAMP_NAME=".salamander-prrte"
PACKAGES=(autoconf automake libtool flex make gcc libevent-dev libhwloc-dev zlib1g-dev)
# Every component is built into the libraries (--disable-mca-dso): Open MPI 5's mpiexec runs prterun
# with PRTE_PREFIX and PMIX_PREFIX set to its own installation, where PRRTE and PMIx would look for
# their plugins in vain (PRRTE's Slurm allocation reader, PMIx's zlib compression).
PMIX_CONFIGURE=(--disable-debug --with-libevent --with-hwloc --without-tests-examples
                --disable-mca-dso)
PRRTE_CONFIGURE=(--enable-prte-prefix-by-default --disable-mca-dso)

# shellcheck source=scripts/apt.sh
source "$REPO/scripts/apt.sh"

die() {
    echo "prrte: error: $*" >&2
    exit 1
}

# The major version of the PRRTE installed in PREFIX ("prterun (PRRTE) 5.0.0a1"), empty if unknown.
installed_major() {
    local version
    version="$("$PREFIX/bin/prterun" --version 2>/dev/null)" || true
    sed -n 's/.*(PRRTE) \([0-9][0-9]*\)\..*/\1/p;T;q' <<<"$version"
}

[ -n "$PREFIX" ] || die "empty PREFIX"
PREFIX="$(realpath -m "$PREFIX")"
stamp="$PREFIX/$STAMP_NAME"

if [ -x "$PREFIX/bin/prterun" ] && [ ! -f "$stamp" ]; then
    major="$(installed_major)"
    if [ -z "$major" ] || [ "$major" -lt 5 ]; then
        die "$PREFIX/bin/prterun is not PRRTE 5 or later ('$("$PREFIX/bin/prterun" --version 2>&1 |
            head -n 1)'): choose another PREFIX, or remove that installation"
    fi
    echo "prrte: using the PRRTE $major installation in $PREFIX (not built by this script)"
    exit 0
fi

for t in "$PMIX_TARBALL" "$PRRTE_TARBALL"; do
    [ -f "$SOURCES/$t" ] || die "$SOURCES/$t is missing (set SAL_PRRTE_SOURCES to the directory \
holding $PMIX_TARBALL and $PRRTE_TARBALL)"
done
# The stamp: what was built, and how.
sums="$(cd "$SOURCES" && sha256sum "$PMIX_TARBALL" "$PRRTE_TARBALL")
pmix: ${PMIX_CONFIGURE[*]}
prrte: ${PRRTE_CONFIGURE[*]}"
if [ -x "$PREFIX/bin/prterun" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sums" ]; then
    exit 0
fi

sal_apt_install prrte "${PACKAGES[@]}" || exit 1

mkdir -p "$PREFIX" || die "cannot create $PREFIX"
work="$(mktemp -d "${TMPDIR:-/tmp}/sal-prrte.XXXXXX")"
log="$PREFIX/build.log"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
: >"$log"
# Until the build succeeds, the stamp marks PREFIX as this script's own, unfinished: the next run
# builds again rather than taking a half-installed prterun for someone else's installation.
echo "unfinished build" >"$stamp"
# Plugins of an earlier build would be loaded beside the built-in components.
rm -rf "$PREFIX/lib/pmix" "$PREFIX/lib/prte"

# step TEXT COMMAND...: runs COMMAND with its output appended to the log; stops on failure.
step() {
    local text="$1" t0=$SECONDS
    shift
    echo "== $text: $*" >>"$log"
    if ! "$@" >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "$text failed after $((SECONDS - t0)) s; full log: $log"
    fi
}

# build NAME TARBALL MINUTES CONFIGURE_ARGS...: unpacks, generates, configures, builds, installs.
build() {
    local name="$1" tarball="$2" minutes="$3" dir t0=$SECONDS
    shift 3
    dir="$work/${tarball%.tar.gz}"
    echo "prrte: building $name (about $minutes min)..."
    step "unpack $tarball" tar -xzf "$SOURCES/$tarball" -C "$work"
    cd "$dir"
    step "$name autogen" ./autogen.pl
    step "$name configure" ./configure "$@"
    step "$name make" make -j2
    step "$name make install" make install
    cd "$REPO"
    echo "prrte: $name installed in $((SECONDS - t0)) s"
}

build "PMIx 7.0.0a1" "$PMIX_TARBALL" 4 --prefix="$PREFIX" "${PMIX_CONFIGURE[@]}"
build "PRRTE 5.0.0a1" "$PRRTE_TARBALL" 2 --prefix="$PREFIX" --with-pmix="$PREFIX" \
    "${PRRTE_CONFIGURE[@]}"
[ -x "$PREFIX/bin/prterun" ] || die "$PREFIX/bin/prterun is missing after the build; full log: $log"
echo "$sums" >"$stamp"
echo "prrte: PMIx 7 + PRRTE 5 ready in $PREFIX (salrun --prrte $PREFIX)"
