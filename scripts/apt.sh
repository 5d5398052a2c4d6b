# shellcheck shell=bash
# Debian packages for the scripts: source it, do not run it.

# sal_as_root COMMAND...: runs COMMAND as root (directly, or through sudo); returns its status, 1
# with a message when neither is possible.
sal_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "need root to run '$*' (install sudo or run as root)" >&2
        return 1
    fi
}

# sal_apt_install WHO PACKAGE...: installs the packages that are not installed yet, with one line
# "WHO: installing Debian packages: ..."; silent when they all are. Returns 1 on failure, with a line
# "WHO: error: ..." on the standard error.
sal_apt_install() {
    local who="$1" missing=() pkg status
    shift
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
        if [ "$status" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    echo "$who: installing Debian packages: ${missing[*]}"
    if ! sal_as_root apt-get update -qq; then
        echo "$who: error: apt-get update failed" >&2
        return 1
    fi
    if ! sal_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        echo "$who: error: apt-get install ${missing[*]} failed" >&2
        return 1
    fi
}
