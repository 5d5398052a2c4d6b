#!/usr/bin/env python3
"""File-to-file dependency graph of the libraries and salrun, from a build tree's object files.

    scripts/deps.py BUILD_DIR [--dot FILE] [--list]

For every object file of the targets salamander-base, salamander-ckpt-objects, salamander-runtime
and salrun, `nm` gives the symbols it defines and the ones it uses; file A depends on file B when A
uses a symbol B defines.
Prints the number of files and edges and every circle (a strongly connected component of two files
or more: files that depend on each other through some chain), with the symbols on its edges.
--list prints every edge. Exit status 0 when there is no circle, 1 when there is one, 2 on error.
"""
import argparse
import collections
import os
import subprocess
import sys

TARGETS = (
    "salamander-base.dir",
    "salamander-ckpt-objects.dir",
    "salamander-runtime.dir",
    "salrun.dir",
)


def objects(build):
    found = []
    for root, _, files in os.walk(build):
        if not any(root.endswith(t) or ("/%s/" % t) in root + "/" for t in TARGETS):
            continue
        found += [os.path.join(root, f) for f in files if f.endswith(".o")]
    return sorted(found)


def source_name(obj):
    """ckpt/src/restore.c for .../ckpt/CMakeFiles/salamander-ckpt-objects.dir/src/restore.c.o"""
    parts = obj.split(os.sep)
    i = max(k for k, p in enumerate(parts) if p == "CMakeFiles")
    return "/".join(parts[i - 1:i] + parts[i + 2:])[:-2]


def symbols(obj):
    out = subprocess.run(["nm", "-P", obj], stdout=subprocess.PIPE, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        if f[1] == "U":
            used.add(f[0])
        elif f[1] in "TDBRVWGS":
            defined.add(f[0])
    return defined, used


def sccs(nodes, edges):
    """Tarjan's strongly connected components."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("--dot")
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    objs = objects(a.build)
    if not objs:
        print("deps: no object files of %s under %s" % (", ".join(TARGETS), a.build),
              file=sys.stderr)
        sys.exit(2)
    owner, uses = {}, {}
    for o in objs:
        name = source_name(o)
        d, u = symbols(o)
        uses[name] = u
        for s in d:
            owner.setdefault(s, name)
    edges = collections.defaultdict(set)
    why = collections.defaultdict(set)
    for f, u in uses.items():
        for s in u:
            g = owner.get(s)
            if g and g != f:
                edges[f].add(g)
                why[(f, g)].add(s)
    nodes = set(uses)
    nedges = sum(len(v) for v in edges.values())
    print("deps: %d files, %d file-to-file dependencies" % (len(nodes), nedges))
    if a.list:
        for f in sorted(edges):
            for g in sorted(edges[f]):
                print("  %s -> %s (%s)" % (f, g, ", ".join(sorted(why[(f, g)])[:4])))
    circles = [c for c in sccs(nodes, edges) if len(c) > 1]
    for c in circles:
        print("circle of %d files: %s" % (len(c), " ".join(c)))
        for f in c:
            for g in sorted(edges[f] & set(c)):
                print("    %s -> %s: %s" % (f, g, ", ".join(sorted(why[(f, g)])[:6])))
    if a.dot:
        with open(a.dot, "w") as out:
            out.write("digraph deps {\n")
            for f in sorted(edges):
                for g in sorted(edges[f]):
                    out.write('  "%s" -> "%s";\n' % (f, g))
            out.write("}\n")
    print("deps: %d circle%s" % (len(circles), "" if len(circles) == 1 else "s"))
    sys.exit(1 if circles else 0)


if __name__ == "__main__":
    main()
