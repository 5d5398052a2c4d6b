#!/usr/bin/env bash
# Static analysis of the library, runtime and launcher sources with clang-tidy:
#   scripts/tidy.sh [BUILD_DIR [FILE.c...]]   (FILEs, relative to the repository: only these)
# Checks: clang-analyzer-* (the Clang static analyzer, with its MPI and Unix API checkers),
# bugprone-*, cert-* and misc-*, on every .c file of ckpt/src, runtime/src, runtime/interpose and
# runtime/salrun and on the ckpt/ and runtime/ headers they include, with the compile commands of
# BUILD_DIR (compile_commands.json, which CMake writes; a source the configuration does not build,
# such as agree_mpi.c in a ULFM build, gets the commands of its nearest neighbour). Every finding fails
# (exit status 1). Registered in ctest as lint.clang_tidy (label lint). Disabled, reviewed:
#   bugprone-easily-swappable-parameters: flags any two adjacent parameters of the same type, which
#     is most of an MPI-style API (rank, size, count...); a style opinion, not a defect.
#   clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling: asks for the C11 Annex K
#     functions (memcpy_s, snprintf_s...), which glibc does not provide (246 calls).
#   clang-analyzer-security.insecureAPI.strcpy: flags every strcpy/strcat whatever the bound; each of
#     the 8 in these sources copies a string whose length was checked against the buffer just before,
#     or a constant.
# Narrowed: cert-err33-c (unchecked return values) checks its default function list except fprintf,
# vfprintf, fputs, fputc, putc, snprintf and vsnprintf (196 calls): they write diagnostics, reports
# and messages, where a failed write has no better recovery than carrying on and a message may be
# truncated; paths go through sal_path_join, which fails instead of truncating.
# Suppressed in the code with a reason (NOLINT): misc-no-recursion on the two depth-bounded
# recursions (fsutil.c directory removal, salrun_json.c parser); bugprone-not-null-terminated-result
# on memcpy into a counted buffer (events.c) and of a binary magic (level_xor.c); the analyzer's
# NonNullParamChecker on option values salrun_cli.c always has, and its MPI checker on the receive of
# level_partner.c that a failed MPI_Irecv never posted or that end_exchange ended, and on the chunk
# exchange of level_xor.c, whose requests sal_msg_end waits for.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$REPO/build}" && pwd)"
shift $(($# > 0 ? 1 : 0))
tidy="$(command -v clang-tidy || command -v clang-tidy-14 || true)"
[ -n "$tidy" ] || { echo "tidy: clang-tidy is not installed" >&2; exit 1; }
[ -f "$build/compile_commands.json" ] ||
    { echo "tidy: $build/compile_commands.json is missing (configure the build first)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "tidy: python3 is needed to filter the compile commands" >&2; exit 1; }

checks='-*,clang-analyzer-*,bugprone-*,cert-*,misc-*'
checks+=',-bugprone-easily-swappable-parameters'
checks+=',-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling'
checks+=',-clang-analyzer-security.insecureAPI.strcpy'
# cert-err33-c's own default list (entries ::f; or, in newer releases, ^::f$;) minus the output
# functions named above.
err33="$(cd / && "$tidy" --checks='-*,cert-err33-c' --dump-config 2>/dev/null |
    sed -n "s/^[^']*'\(.*::fclose.*\)'$/\1/p")"
[ -n "$err33" ] || { echo "tidy: cannot read the cert-err33-c function list" >&2; exit 1; }
for fn in fprintf vfprintf fputs fputc putc snprintf vsnprintf; do
    err33="${err33//::$fn;/}"
    err33="${err33//^::$fn\$;/}"
done
config="{Checks: '$checks', WarningsAsErrors: '*', HeaderFilterRegex: '^$REPO/(ckpt|runtime)/',
 CheckOptions: [{key: cert-err33-c.CheckedFunctions, value: '$err33'}]}"

# The compile commands of these sources only, one per file (a source built into two targets would
# otherwise be analysed twice), in a directory of their own.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$build/compile_commands.json" "$work/compile_commands.json" "$REPO" <<'EOF'
import json, os, sys
src, dst, repo = sys.argv[1:4]
dirs = tuple(os.path.join(repo, d) + os.sep
             for d in ("ckpt/src", "runtime/src", "runtime/interpose", "runtime/salrun"))
seen, out = set(), []
for e in json.load(open(src)):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(dirs) and f not in seen:
        seen.add(f)
        out.append(e)
json.dump(out, open(dst, "w"), indent=1)
EOF

cd "$REPO"
if [ "$#" -gt 0 ]; then
    printf '%s\n' "$@" >"$work/files"
else
    # Largest first, so that the longest analyses do not come last on one core.
    find ckpt/src runtime/src runtime/interpose runtime/salrun -name '*.c' -printf '%s %p\n' |
        sort -k1,1nr -k2 |
        cut -d' ' -f2- >"$work/files"
fi
status=0
xargs -P 2 -n 1 "$tidy" -p "$work" --quiet --config="$config" <"$work/files" >"$work/out" \
    2>"$work/err" || status=$?
if [ "$status" -ne 0 ] || grep -q -E ': (warning|error):' "$work/out"; then
    cat "$work/out"
    grep -v -E '^[0-9]+ (warning|error)s? (generated|treated as error)' "$work/err" >&2 || true
    echo "tidy: clang-tidy: findings above" >&2
    exit 1
fi
echo "tidy: clang-tidy: no findings"
