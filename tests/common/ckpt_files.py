"""Checkpoint files as a test sees them on disk.

    from ckpt_files import lose_ranks
    lose_ranks(job_dir, (2, 3), fail)   # deletes rank.2.* and rank.3.* from every checkpoint
"""
import os


def lose_ranks(job_dir, ranks, fail, at_least=3):
    """Deletes the node-local files rank.<r>.* of the given ranks from every checkpoint under
    job_dir, as the loss of their host would; calls fail(message) when fewer than at_least were
    found (the test did not produce the checkpoints it meant to)."""
    gone = 0
    for root, _, files in os.walk(job_dir):
        for name in files:
            if any(name.startswith("rank.%d." % r) for r in ranks):
                os.unlink(os.path.join(root, name))
                gone += 1
    print("deleted %d node-local files of ranks %s" % (gone, ranks), flush=True)
    if gone < at_least:
        fail("expected the files of ranks %s in at least %d checkpoints, deleted %d"
             % (ranks, at_least, gone))
