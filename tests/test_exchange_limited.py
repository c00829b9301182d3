"""The ``limited`` governor's readings of an environment's tree, cheap enough for every
invoke's end and for its ticks (issue 21): what they save must not cost a process.

The ticks found new processes by scanning all of ``/proc`` every 25th tick (1.4 ms of
CPU on a 2-core VM); they now read the tree's own ``children`` files, as every invoke's
end already did. Those reads are held here to find a large tree whole.
"""

from __future__ import annotations

import os
import select
import signal
import sys

import pytest

from lambdalab_limited.proctree import ProcessTree

def idle_tree(children: int) -> int:
    """A session leader (forked from this process) with ``children`` idle children; its pid."""
    ready, told = os.pipe()
    root = os.fork()
    if root == 0:  # pragma: no cover (the child)
        try:
            os.setsid()
            for _ in range(children):
                if os.fork() == 0:
                    signal.pause()
                    os._exit(0)
            os.write(told, b"x")
            signal.pause()
        finally:
            os._exit(0)
    os.close(told)
    try:
        assert select.select([ready], [], [], 60)[0], "the tree was not ready in a minute"
        assert os.read(ready, 1) == b"x"
    finally:
        os.close(ready)
    return root


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_a_tree_of_eleven_hundred_children_is_discovered_whole() -> None:
    """The kernel hands a ``children`` file over a page at a time: its first read held
    683 of 1,100 children, so a tree's end-of-invoke count missed the rest."""
    root = idle_tree(1100)
    try:
        tree = ProcessTree(root)
        assert tree.discover() == 1101  # the root's one thread and its children
        assert len(tree.members) == 1101
        assert tree.task_count() == 1101
    finally:
        os.killpg(root, signal.SIGKILL)
        os.waitpid(root, 0)
