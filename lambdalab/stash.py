"""Per-lab state for plugins, typed, and closed with the lab (pytest's ``Stash``).

A plugin that keeps something per :class:`~lambdalab.Lab` (a database connection, a
poller, a cache) keeps it in ``lab.stash`` under a key of its own, not in a module-level
dict keyed by the lab: such a dict keeps every lab alive (its values hold the lab), and
nothing closes what it holds. A value in the stash dies with the lab, and the lab calls
its ``close()``, if it has one, when the lab closes::

    from lambdalab.plugin import StashKey

    COUNTS = StashKey[Counter]()

    def counts_of(lab) -> Counter:
        return lab.stash.setdefault(COUNTS, Counter)

Modelled on pytest's ``src/_pytest/stash.py``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, TypeVar, cast

T = TypeVar("T")
D = TypeVar("D")


_MISSING = object()


class StashKey(Generic[T]):
    """A key of a :class:`Stash`, typed by the value kept under it.

    Make one per kind of state, at module level (``KEY = StashKey[MyState]()``); keys
    compare by identity, so two plugins' keys never collide.
    """

    __slots__ = ()


class Stash:
    """Values of any type, each under a :class:`StashKey`; closed together.

    Reads and writes are safe from several threads. :meth:`close` calls ``close()`` on
    every value that has one, newest first, and empties the stash.
    """

    __slots__ = ("_values", "_lock")

    def __init__(self) -> None:
        self._values: dict[StashKey[Any], object] = {}
        self._lock = threading.RLock()

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        with self._lock:
            self._values[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        """The value under ``key``; KeyError if there is none."""
        return cast(T, self._values[key])

    def get(self, key: StashKey[T], default: D) -> T | D:
        """The value under ``key``, or ``default``."""
        return cast("T | D", self._values.get(key, default))

    def setdefault(self, key: StashKey[T], make: Callable[[], T]) -> T:
        """The value under ``key``; made by ``make()`` and kept there the first time.

        ``make`` runs at most once per key, even when threads ask together.
        """
        found = self._values.get(key, _MISSING)  # the lock only to make it: this is read per request
        if found is not _MISSING:
            return cast(T, found)
        with self._lock:
            if key not in self._values:
                self._values[key] = make()
            return cast(T, self._values[key])

    def __delitem__(self, key: StashKey[T]) -> None:
        with self._lock:
            del self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def close(self) -> None:
        """Close every value that has a ``close()``, newest first, and forget them all.

        A value whose ``close()`` fails does not stop the others from closing; the first
        error is raised once all were tried.
        """
        with self._lock:
            values = list(self._values.values())
            self._values.clear()
        first: BaseException | None = None
        for value in reversed(values):
            close = getattr(value, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as error:  # close the rest, then report
                    first = first or error
        if first is not None:
            raise first
