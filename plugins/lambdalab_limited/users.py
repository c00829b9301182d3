"""A user of its own for each confined environment, so the kernel can cap its tasks.

Lambda caps an execution environment at 1,024 processes and threads: the 1,025th
``fork()`` or ``pthread_create()`` fails with ``EAGAIN`` inside the handler
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Linux's
``RLIMIT_NPROC`` refuses a new task in just that way, but counts every task of the
process's *real user*: held to one environment only when that environment has a user
no other process runs as. So each confined environment gets its own uid, taken when it
starts and given back when it ends (:class:`SandboxUser`).

The first is 993, the uid of AWS's ``sbx_user1051``; more environments at once take
uids from :data:`MORE_UIDS`, far above the ranges systems give users and rootless
containers. A uid the passwd database names is never taken. Several lambdalab
processes on one machine share the choice through lock files (:data:`LOCK_FOLDERS`): a
uid is held by an exclusive ``flock`` on its file, which the kernel drops when the
holder closes it or dies, so a crashed lab leaves no uid taken.

Files stay readable to any of these users: code is written ``0644`` in ``0755``
folders, and the private ``/tmp`` is mounted owned by the environment's user. The
environments share one group, :data:`SANDBOX_GID`, and write files group-writable, so
a file one environment creates in a host folder that several reach (a test's or a
learner's shared folder) stays writable by the function's other environments, as it
was when they all ran as 993.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import threading
from itertools import chain
from pathlib import Path

#: AWS's ``sbx_user1051``: the uid the first confined environment runs as.
SANDBOX_UID = 993
#: The group every confined environment runs as (they write files ``0664``: see
#: ``lambdalab.runtime.forkserver.sandbox``).
SANDBOX_GID = 993
#: Where further environments' uids come from.
MORE_UIDS = range(993_000_000, 993_000_000 + 65_536)
#: Where the lock files that say which uids are taken live, one per uid, shared by every
#: lambdalab process of the machine (root's alone: only root confines); the first of
#: these folders that can be made.
LOCK_FOLDERS = (Path("/run/lambdalab/sandbox-uids"), Path("/var/tmp/lambdalab-sandbox-uids"))

_lock = threading.Lock()


def is_sandbox_uid(uid: int) -> bool:
    """Whether ``uid`` is one an environment may run as."""
    return uid == SANDBOX_UID or uid in MORE_UIDS


def _named(uid: int) -> bool:
    """A host user's uid: its processes would share the cap, and be the handler's to signal."""
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _lock_folder() -> Path:
    """The first of :data:`LOCK_FOLDERS` that exists or can be made (``/run`` may be
    read-only in a container)."""
    for folder in LOCK_FOLDERS[:-1]:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return folder
        except OSError:
            continue
    LOCK_FOLDERS[-1].mkdir(mode=0o700, parents=True, exist_ok=True)
    return LOCK_FOLDERS[-1]


class SandboxUser:
    """One uid, held until :meth:`release` (or until this process ends)."""

    def __init__(self) -> None:
        with _lock:
            locks = _lock_folder()
            for uid in chain((SANDBOX_UID,), MORE_UIDS):
                fd = self._take(locks, uid)
                if fd is not None:
                    self.uid, self._fd = uid, fd
                    return
        raise OSError(f"all {1 + len(MORE_UIDS)} sandbox uids are in use")

    @staticmethod
    def _take(locks: Path, uid: int) -> int | None:
        if _named(uid):
            return None
        fd = os.open(locks / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def release(self) -> None:
        """Give the uid back (once its processes are gone). Idempotent."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
