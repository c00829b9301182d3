"""The ``limited`` governor's readings of an environment's tree, cheap enough for every
invoke's end and for its ticks (issue 21): what they save must not cost a process.

The ticks found new processes by scanning all of ``/proc`` every 25th tick (1.4 ms of
CPU on a 2-core VM); they now read the tree's own ``children`` files, as every invoke's
end already did. Those reads are held here to find a large tree whole.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from typing import Iterator

import pytest

from lambdalab_limited.proctree import ProcessTree

#: The tree's root: a shell whose children are ``sleep`` processes (a few hundred KB
#: each). Forks of this test's own process would each copy pages of pytest's heap as
#: they ran: 1,100 of a full suite's 550 MB process ran a loaded CI out of memory.
TREE_SCRIPT = 'for i in $(seq "$1"); do sleep 3600 & done; echo ready; wait'


@contextlib.contextmanager
def idle_tree(children: int) -> Iterator[int]:
    """A session leader with ``children`` idle children, its pid; the whole session is
    killed on the way out, whatever happened meanwhile."""
    proc = subprocess.Popen(["bash", "-c", TREE_SCRIPT, "tree", str(children)],
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        assert select.select([proc.stdout], [], [], 120)[0], "the tree was not ready in 2 minutes"
        assert proc.stdout.readline() == b"ready\n"
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_a_tree_of_eleven_hundred_children_is_discovered_whole() -> None:
    """The kernel hands a ``children`` file over a page at a time: its first read held
    683 of 1,100 children, so a tree's end-of-invoke count missed the rest."""
    with idle_tree(1100) as root:
        tree = ProcessTree(root)
        assert tree.discover() == 1101  # the root's one thread and its children
        assert len(tree.members) == 1101
        assert tree.task_count() == 1101
