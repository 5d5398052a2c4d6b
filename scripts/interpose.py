#!/usr/bin/env python3
"""The MPI interposition layer is the only place that defines MPI functions, and defines its list.

    scripts/interpose.py [--list] [--mpi-include DIR] --ulfm ON|OFF BUILD_DIR LIB

Three checks (docs/architecture.md, "MPI interposition"):
- The MPI_* / MPIX_* functions LIB (libsalamander-runtime.so) exports are exactly the rows of
  runtime/interpose/mpi_functions.def for this build: every ANY row, the MPI4 rows when the mpi.h
  of --mpi-include declares the MPI 4.0 functions (has_mpi4; without --mpi-include they are
  expected), and the ULFM rows when --ulfm is ON. A wrapper missing from the library, or an MPI function the library exports that the list
  does not declare, fails.
- No object file of BUILD_DIR outside runtime/interpose/ defines an MPI_*, MPIX_* or Fortran mpi_*_
  symbol: the object files of every target (libraries, salrun, examples, benchmarks, tests), with
  `nm` as scripts/deps.py reads them, and the source of each object found from its path in the
  build tree (an object whose source no longer exists, left by an earlier build, is left out).
- With --mpi-include (the directory of Open MPI's mpi.h): each row's parameter list is mpi.h's (or,
  for ULFM rows, that of a header mpi-ext.h includes), and every function those headers declare
  with an MPI_Comm parameter passed by value is a row, or one of LEFT_OUT below, which the
  application cannot call on MPI_COMM_WORLD. Another MPI's headers are left unchecked (a note).
--list prints the list's rows for this build. Exit status 0 when all agree, 1 on a difference, 2 on
error.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abi import exported  # noqa: E402  (readelf --dyn-syms of a library)
from deps import symbols  # noqa: E402  (nm -P of an object file: defined and used symbols)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYER = "runtime/interpose"
LIST = os.path.join(REPO, LAYER, "mpi_functions.def")
ROW = re.compile(r"^SAL_MPI_FN\(\s*(MPIX?)\s*,\s*(\w+)\s*,.*,\s*(ANY|MPI4|ULFM)\s*\)$")
C_SYMBOL = re.compile(r"^MPIX?_\w+$")
PARAMS = re.compile(r"^SAL_MPI_FN\(\s*MPIX?\s*,\s*\w+\s*,\s*\(([^()]*)\)")
DECL = re.compile(r"OMPI_DECLSPEC\s+int\s+(MPIX?_\w+)\s*\(([^()]*)\)")
COMM_BY_VALUE = re.compile(r"(?:^|,)\s*MPI_Comm\s+\w+\s*(?=,|$)")

# Functions with a communicator parameter that are not wrapped: MPI_COMM_WORLD is never a valid
# argument (it has no topology and is no intercommunicator), or MPI-3.0 removed them.
_TOPOLOGY = ("Cart_coords Cart_get Cart_rank Cart_shift Cart_sub Cartdim_get Graph_get "
             "Graph_neighbors Graph_neighbors_count Graphdims_get Dist_graph_neighbors "
             "Dist_graph_neighbors_count")
_NEIGHBOR = ["%s%s%s" % (i, c, s) for i in ("Neighbor_", "Ineighbor_")
             for c in ("allgather", "allgatherv", "alltoall", "alltoallv", "alltoallw")
             for s in ("", "_init") if not (i == "Ineighbor_" and s)]
LEFT_OUT = dict(
    [("MPI_" + n, "needs a Cartesian or graph communicator") for n in _TOPOLOGY.split()] +
    [("MPI_" + n, "a neighbourhood collective: needs a topology") for n in _NEIGHBOR] +
    [("MPI_Comm_remote_group", "needs an intercommunicator"),
     ("MPI_Comm_remote_size", "needs an intercommunicator"),
     ("MPI_Errhandler_get", "removed in MPI-3.0"), ("MPI_Errhandler_set", "removed in MPI-3.0")])
FORTRAN_SYMBOL = re.compile(r"^mpi_\w+_$")

errors = []


def fail(msg):
    errors.append(msg)
    print("interpose: FAIL: " + msg)


def read_list(path):
    """[(symbol, build)] of the list's rows; a line that is neither a row, a comment nor blank
    fails."""
    with open(path) as f:
        text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), f.read(), flags=re.S)
    rows, seen = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = ROW.match(line)
        if not m:
            fail("%s:%d: not a row SAL_MPI_FN(prefix, name, params, args, comms, impl, hooks, "
                 "ANY|MPI4|ULFM)"
                 % (os.path.relpath(path, REPO), n))
            continue
        name = "%s_%s" % (m.group(1), m.group(2))
        if name in seen:
            fail("%s:%d: %s is listed twice" % (os.path.relpath(path, REPO), n, name))
        seen.add(name)
        rows.append((name, m.group(3)))
    return rows


def read_params(path):
    """{symbol: its parameter list, blanks normalised} of the list's rows."""
    out = {}
    with open(path) as f:
        for line in f:
            m, r = PARAMS.match(line.strip()), ROW.match(line.strip())
            if m and r:
                out["%s_%s" % (r.group(1), r.group(2))] = " ".join(m.group(1).split())
    return out


def declarations(include):
    """{symbol: parameter list} of mpi.h and of the headers mpi-ext.h includes; None when mpi.h is
    not Open MPI's."""
    headers = [os.path.join(include, "mpi.h")]
    ext = os.path.join(include, "mpi-ext.h")
    if os.path.exists(ext):
        with open(ext) as f:
            headers += [os.path.join(include, h) for h in re.findall(r'#include\s+"([^"]+)"', f.read())]
    out = {}
    for h in headers:
        if not os.path.exists(h):
            continue
        with open(h) as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        for name, params in DECL.findall(text):
            out[name] = " ".join(params.split())
    return out if "MPI_Send" in out else None


def in_build(build, ulfm, mpi4):
    """Whether a row of the given build column is defined by this build."""
    return build == "ANY" or (build == "MPI4" and mpi4) or (build == "ULFM" and ulfm)


def has_mpi4(include):
    """Whether include/mpi.h declares the MPI 4.0 functions (the MPI4 rows): MPI_VERSION >= 4, or
    Open MPI 5, which has them but says MPI_VERSION 3 (runtime/interpose/wrappers.c). True when
    the header cannot be read."""
    try:
        with open(os.path.join(include, "mpi.h")) as f:
            text = f.read()
    except OSError:
        return True
    version = re.search(r"^#\s*define\s+MPI_VERSION\s+(\d+)", text, re.M)
    ompi = re.search(r"^#\s*define\s+OMPI_MAJOR_VERSION\s+(\d+)", text, re.M)
    return bool((version and int(version.group(1)) >= 4) or (ompi and int(ompi.group(1)) >= 5))


def check_mpi_h(include, rows, ulfm, mpi4):
    decls = declarations(include)
    if decls is None:
        print("interpose: note: %s/mpi.h is not Open MPI's: prototypes and coverage not checked"
              % include)
        return
    params = read_params(LIST)
    listed = {name for name, build in rows if in_build(build, ulfm, mpi4)}
    for name in sorted(listed):
        if name not in decls:
            fail("%s: a row of the list, not declared by %s/mpi.h or mpi-ext.h" % (name, include))
        elif params.get(name) != decls[name]:
            fail("%s: the row's parameters (%s) differ from the header's (%s)"
                 % (name, params.get(name), decls[name]))
    comm = {n for n, p in decls.items() if COMM_BY_VALUE.search(p) and (ulfm or n.startswith("MPI_"))}
    for name in sorted(comm - listed - set(LEFT_OUT)):
        fail("%s takes a communicator: add a row to the list (or to LEFT_OUT, with the reason)"
             % name)
    print("interpose: %d functions of the headers take a communicator: %d rows, %d left out"
          % (len(comm), len(comm & listed), len(comm & set(LEFT_OUT))))


def source_of(build, obj):
    """The source file of an object, relative to the repository: CMake puts the object of
    <dir>/<path>.c of the target T at <build>/<dir>/CMakeFiles/T.dir/<path>.c.o, with each ".." of
    <path> written "__"."""
    rel = os.path.relpath(obj, build).split(os.sep)
    i = max(k for k, p in enumerate(rel) if p == "CMakeFiles")
    inside = [".." if p == "__" else p for p in rel[i + 2:]]
    return os.path.normpath(os.path.join(*(rel[:i] + inside)))[:-2]


def objects(build):
    found = []
    for root, dirs, files in os.walk(build):
        # CMake's own compiler and feature checks
        dirs[:] = [d for d in dirs if d not in ("CMakeScratch", "CMakeTmp")]
        if "CMakeFiles" in root.split(os.sep):
            found += [os.path.join(root, f) for f in files if f.endswith(".o")]
    return sorted(found)


def check_library(lib, rows, ulfm, mpi4):
    expected = {name for name, build in rows if in_build(build, ulfm, mpi4)}
    defined = {n for n in exported(lib) if C_SYMBOL.match(n)}
    base = os.path.basename(lib)
    for name in sorted(expected - defined):
        fail("%s does not export %s, which the list declares for this build" % (base, name))
    for name in sorted(defined - expected):
        fail("%s exports %s, which the list does not declare for this build (a ULFM row in a "
             "build without ULFM, an MPI4 row with an MPI 3 library, or a definition outside the "
             "list)" % (base, name))
    print("interpose: %s: %d MPI functions exported, %d rows of the list for this build (ULFM %s, "
          "MPI 4 rows %s)" % (base, len(defined), len(expected), "ON" if ulfm else "OFF",
                              "ON" if mpi4 else "OFF"))


def check_objects(build):
    objs = objects(build)
    if not objs:
        print("interpose: no object files under %s" % build, file=sys.stderr)
        sys.exit(2)
    inside = stale = 0
    for obj in objs:
        src = source_of(build, obj)
        if not os.path.exists(os.path.join(REPO, src)):
            stale += 1  # left behind by a source that was moved or removed
            continue
        defined, _ = symbols(obj)
        mpi = sorted(s for s in defined if C_SYMBOL.match(s) or FORTRAN_SYMBOL.match(s))
        if not mpi:
            continue
        if src.startswith(LAYER + "/"):
            inside += 1
            continue
        fail("%s defines %s%s: MPI functions are defined only in %s/ (add a row to the list)"
             % (src, ", ".join(mpi[:4]), ", ..." if len(mpi) > 4 else "", LAYER))
    if stale:
        print("interpose: note: %d object files of sources that no longer exist, left out" % stale)
    print("interpose: %d object files, %d of them define MPI functions, all in %s/ unless named "
          "above" % (len(objs) - stale, inside, LAYER))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("lib")
    p.add_argument("--ulfm", required=True, choices=("ON", "OFF"), type=str.upper)
    p.add_argument("--list", action="store_true")
    p.add_argument("--mpi-include", help="the directory of the MPI library's mpi.h")
    a = p.parse_args()
    ulfm = a.ulfm == "ON"
    mpi4 = has_mpi4(a.mpi_include) if a.mpi_include else True
    rows = read_list(LIST)
    if a.list:
        for name, build in rows:
            if in_build(build, ulfm, mpi4):
                print("  %-28s %s" % (name, build))
    check_library(a.lib, rows, ulfm, mpi4)
    if a.mpi_include:
        check_mpi_h(a.mpi_include, rows, ulfm, mpi4)
    check_objects(a.build)
    print("interpose: %d difference%s" % (len(errors), "" if len(errors) == 1 else "s"))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
