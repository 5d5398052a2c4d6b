#!/usr/bin/env python3
"""What the shared libraries export, compared with what their headers declare.

    scripts/abi.py [--list] [--max-private N] [--user LIB]... LIB...

LIB is a built libsalamander-<component>.so; its headers are the public ones of
<component>/include/salamander/ and the private ones of <component>/src/. The library must export
exactly the functions declared there with SAL_API (public headers) or SAL_PRIVATE (private headers,
the private interface of ckpt/src/private_api.h), plus the MPI functions it defines (interposed
through PMPI, SAL_INTERPOSE). It fails on a symbol exported but not declared, one declared but not
exported, a public function declared without SAL_API, an exported variable, a `sal_` function that
one of the libraries (or a --user library) takes from another but that none exports, and more
exported private functions than --max-private. Prints the counts; --list prints every symbol.
Exit status 0 when all agree, 1 on a difference, 2 on error.
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Symbols some linkers define in every shared library.
LINKER = {"_init", "_fini", "_edata", "_end", "__bss_start"}
INTERPOSED = re.compile(r"^MPIX?_\w+$")
MARKED = r"\b%s\b[^;(]*?\b([A-Za-z_]\w*)\s*\("

errors = []


def fail(msg):
    errors.append(msg)
    print("abi: FAIL: " + msg)


def run(*cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print("abi: %s: %s" % (" ".join(cmd), e), file=sys.stderr)
        sys.exit(2)


def c_text(path):
    """The declarations of a header: comments, preprocessor lines and extern "C" braces removed."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    return re.sub(r'extern\s+"C"\s*\{|^\s*\}\s*$', " ", text, flags=re.M)


def unmarked_prototypes(text):
    """Names of the function prototypes of a public header that do not start with SAL_API."""
    out = []
    for stmt in text.split(";"):
        stmt = stmt.strip()
        m = re.match(r"[^(]*?\b([A-Za-z_]\w*)\s*\(", stmt, flags=re.S)
        if m and not stmt.startswith(("typedef", "SAL_API")):
            out.append(m.group(1))
    return out


def declared(component):
    """{name: (mark, header)} of the SAL_API and SAL_PRIVATE declarations of a component."""
    found = {}
    sets = (("SAL_API", "%s/include/salamander/*.h"), ("SAL_PRIVATE", "%s/src/*.h"))
    for mark, pattern in sets:
        for path in sorted(glob.glob(os.path.join(REPO, pattern % component))):
            text, rel = c_text(path), os.path.relpath(path, REPO)
            for name in re.findall(MARKED % mark, text, flags=re.S):
                found[name] = (mark, rel)
            other = "SAL_PRIVATE" if mark == "SAL_API" else "SAL_API"
            for name in re.findall(MARKED % other, text, flags=re.S):
                fail("%s: %s is marked %s, which belongs in the %s headers"
                     % (rel, name, other, "private" if mark == "SAL_API" else "public"))
            if mark == "SAL_API":
                for name in unmarked_prototypes(text):
                    fail("%s: %s is declared without SAL_API: the library hides it" % (rel, name))
    return found


def sections(lib):
    """{index: (name, flags)} of the section headers."""
    out = {}
    for line in run("readelf", "-S", "-W", lib).splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S*)", line)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def exported(lib):
    """{name: (type, section index)} of the symbols lib defines in its dynamic symbol table."""
    out = {}
    for line in run("readelf", "--dyn-syms", "-W", lib).splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":") or f[6] in ("UND", "ABS"):
            continue
        if f[4] in ("GLOBAL", "WEAK", "UNIQUE") and f[5] in ("DEFAULT", "PROTECTED"):
            name = f[7].split("@")[0]
            if name not in LINKER:
                out[name] = (f[3], f[6])
    return out


def mpi_defined(lib, dynamic):
    """The MPI functions lib defines, hidden or not (its full symbol table); None when stripped."""
    out = run("nm", "--defined-only", lib)
    if not out.strip():
        return None
    names = {f[2] for f in (line.split() for line in out.splitlines())
             if len(f) == 3 and f[1] in "TtWi" and INTERPOSED.match(f[2])}
    return names | {n for n in dynamic if INTERPOSED.match(n)}


def undefined(lib):
    out = run("nm", "-D", "--undefined-only", lib)
    return {f[-1].split("@")[0] for f in (line.split() for line in out.splitlines()) if f}


def check_variables(lib, dyn):
    secs = sections(lib)
    for name, (typ, ndx) in sorted(dyn.items()):
        if typ not in ("OBJECT", "TLS", "COMMON"):
            continue
        sec, flags = secs.get(ndx, ("?", "W"))
        writable = typ == "TLS" or ("W" in flags and not sec.startswith(".data.rel.ro"))
        fail("%s exports the %s variable %s (%s): keep it inside, reach it through a function"
             % (os.path.basename(lib), "writable" if writable else "read-only", name, sec))


def check_library(lib, listing):
    """Compares one library with its headers; returns {mark: [(header, name)]} of what it exports
    and the set of every name it exports."""
    base = os.path.basename(lib)
    m = re.match(r"libsalamander-(\w+)\.so", base)
    if not m or not os.path.isdir(os.path.join(REPO, m.group(1))):
        print("abi: %s is not a libsalamander-<component>.so of %s" % (lib, REPO), file=sys.stderr)
        sys.exit(2)
    decl, dyn = declared(m.group(1)), exported(lib)
    mpi = mpi_defined(lib, dyn)
    if mpi is None:
        print("abi: note: %s is stripped: its exported MPI functions count as interposed" % base)
        mpi = {n for n in dyn if INTERPOSED.match(n)}
    check_variables(lib, dyn)
    for name in sorted(mpi - set(dyn)):
        fail("%s hides the interposed %s: mark its definition SAL_INTERPOSE" % (base, name))
    for name in sorted(set(decl) - set(dyn)):
        fail("%s: %s is declared %s in %s but not exported (is the header included where it is "
             "defined?)" % (base, name, decl[name][0], decl[name][1]))
    functions = {n for n, (typ, _) in dyn.items() if typ not in ("OBJECT", "TLS", "COMMON")}
    for name in sorted(functions - set(decl) - mpi):
        fail("%s exports %s, declared with neither SAL_API nor SAL_PRIVATE" % (base, name))
    kinds = collections.defaultdict(list)
    for name in sorted(set(dyn) & set(decl)):
        kinds[decl[name][0]].append((decl[name][1], name))
    kinds["SAL_INTERPOSE"] = [("", n) for n in sorted(mpi & set(dyn))]
    print("abi: %s: %d exported = %d public + %d private + %d interposed MPI functions"
          % (base, len(dyn), len(kinds["SAL_API"]), len(kinds["SAL_PRIVATE"]),
             len(kinds["SAL_INTERPOSE"])))
    if listing:
        for mark in ("SAL_API", "SAL_PRIVATE", "SAL_INTERPOSE"):
            for header, name in kinds[mark]:
                print("  %-13s %-30s %s" % (mark, name, header))
    return kinds, set(dyn)


def check_uses(libs, users, exports, private):
    """Every sal_ symbol a library takes from another is exported; private ones nobody uses."""
    used = set()
    for lib in libs + users:
        need = {n for n in undefined(lib) if n.startswith("sal_")}
        used |= need
        for name in sorted(need - exports):
            fail("%s uses %s, which none of the libraries exports: mark its declaration "
                 "SAL_PRIVATE" % (os.path.basename(lib), name))
    for name in sorted(private - used):
        print("abi: note: the private %s is used by none of the libraries given" % name)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("libs", nargs="+", metavar="LIB")
    p.add_argument("--user", action="append", default=[],
                   help="a library that only uses the others (libsalamander-fortran)")
    p.add_argument("--max-private", type=int)
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    exports, private = set(), set()
    for lib in a.libs:
        kinds, names = check_library(lib, a.list)
        private |= {n for _, n in kinds["SAL_PRIVATE"]}
        exports |= names
    check_uses(a.libs, a.user, exports, private)
    limit = "" if a.max_private is None else " (at most %d)" % a.max_private
    print("abi: %d private functions exported%s" % (len(private), limit))
    if a.max_private is not None and len(private) > a.max_private:
        fail("%d private functions exported, more than %d: narrow the private interface"
             % (len(private), a.max_private))
    print("abi: %d difference%s" % (len(errors), "" if len(errors) == 1 else "s"))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
