#!/usr/bin/env python3
"""Tests of scripts/sal-timeline: test_timeline.py --script PATH --data DIR CASE.

draw CASE (a recorded log data/CASE.jsonl) must give exit status 0 and a non-empty PNG;
malformed and missing must give exit status 1 and a message naming the file (and the line).
Exit status 0 when the case passes, 1 with the reason on stderr.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def timeline(script, log, out):
    cmd = [script, log, "-o", out]
    print("+ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    sys.stdout.write(r.stdout + r.stderr)
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--script", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("case")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="sal-timeline-")
    try:
        out = os.path.join(tmp, "timeline.png")
        if args.case == "malformed":
            log = os.path.join(args.data, "malformed.jsonl")
            r = timeline(args.script, log, out)
            if r.returncode != 1:
                fail("a malformed log gave exit status %d, expected 1" % r.returncode)
            if log + " line 4:" not in r.stderr or "not valid JSON" not in r.stderr:
                fail("the message should name %s line 4 and say it is not valid JSON: %r"
                     % (log, r.stderr))
            if os.path.exists(out):
                fail("a picture was written for a malformed log")
        elif args.case == "missing":
            log = os.path.join(tmp, "no-such.events.jsonl")
            r = timeline(args.script, log, out)
            if r.returncode != 1 or "cannot read %s: No such file or directory" % log \
                    not in r.stderr:
                fail("a missing log: expected exit status 1 and 'cannot read %s: No such file or "
                     "directory', got %d: %r" % (log, r.returncode, r.stderr))
        else:
            log = os.path.join(args.data, args.case + ".jsonl")
            if not os.path.isfile(log):
                fail("unknown case %r: no %s" % (args.case, log))
            r = timeline(args.script, log, out)
            if r.returncode != 0:
                fail("sal-timeline exited with status %d" % r.returncode)
            with open(out, "rb") as f:
                head = f.read(len(PNG_SIGNATURE))
            size = os.path.getsize(out)
            if head != PNG_SIGNATURE or size < 10000:
                fail("%s is not a PNG picture of plausible size (%d bytes)" % (out, size))
            print("PNG of %d bytes" % size)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
