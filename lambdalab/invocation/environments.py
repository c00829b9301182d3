"""The pool of execution environments, and concurrency admission in front of it.

Lambda keeps an environment warm after an invoke and reuses it for the next one of the
same function version; when every warm environment is busy it starts another (scale
out), as long as concurrency allows; idle environments are eventually shut down
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).

An environment belongs to one *generation* of its version: the code and configuration
it was started from. An update of ``$LATEST`` starts a new generation once it is
``Successful``; until then invokes keep running the old one, warm, and the first invoke
of the new one retires the old one's idle environments ("invocations continue to use
the previous code and configuration until the update completes",
https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html). A change of the
function's ``RevisionId`` alone (AddPermission, RemovePermission) is no new generation.

Concurrency is the number of environments busy at once
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html): a function with
reserved concurrency R may have at most R; all other functions share what is left of
the account's limit once every reservation is set aside.
"""

from __future__ import annotations

import shutil
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable
from ..clock import Clock, Timer
from ..errors import TooManyRequestsException
from ..models import FunctionConfiguration
from ..registry import content_digest
from ..sandbox import ExecutionEnvironment

#: The generations remembered by RevisionId before the memo starts afresh.
_GENERATIONS_KEPT = 4096

PoolKey = tuple[str, str, str]


@dataclass(eq=False)
class PooledEnvironment:
    """An environment with what the pool knows about it."""

    env: ExecutionEnvironment
    function_name: str
    version: str
    generation: str
    tmp_dir: str
    last_used: float = 0.0
    invocations: int = 0

    @property
    def key(self) -> PoolKey:
        return (self.function_name, self.version, self.generation)


@dataclass
class _Counts:
    by_function: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: The account's: the sum of ``by_function``, kept rather than summed on every
    #: invoke (the dict holds every function invoked since the lab opened).
    account: int = 0
    unreserved: int = 0


def throttled(reserved: bool) -> TooManyRequestsException:
    return TooManyRequestsException(
        "Rate Exceeded.",
        Reason=(
            "ReservedFunctionConcurrentInvocationLimitExceeded"
            if reserved
            else "ConcurrentInvocationLimitExceeded"
        ),
    )


#: Told after the pool destroyed an environment, and why: ``reaped`` (idle for the idle
#: timeout), ``replaced`` (its version's code or configuration changed), ``retired``
#: (its function was deleted or let its environments go), ``lost`` (an invoke or INIT
#: it did not survive) or ``closed`` (the lab closed).
Stopped = Callable[["PooledEnvironment", str], None]


class EnvironmentPool:
    """Warm environments per function version; admission by concurrency."""

    def __init__(
        self,
        clock: Clock,
        idle_ttl: float,
        account_limit: int,
        stopped: Stopped | None = None,
    ) -> None:
        self.clock = clock
        self._stopped = stopped
        self.idle_ttl = idle_ttl
        self.account_limit = account_limit
        self._idle: dict[PoolKey, list[PooledEnvironment]] = defaultdict(list)
        #: (function, version) -> the generation its invokes run now.
        self._current: dict[tuple[str, str], str] = {}
        self._generations: dict[str, str] = {}
        self._busy: set[PooledEnvironment] = set()
        self._counts = _Counts()
        self._reserved_of: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self._reaper: Timer | None = None

    # -- admission --------------------------------------------------------------------

    def admit(self, name: str, reserved: int | None, total_reserved: int) -> None:
        """Count one more concurrent execution of ``name``, or raise TooManyRequests."""
        with self._lock:
            if reserved is not None:
                if self._counts.by_function[name] >= reserved:
                    raise throttled(reserved=True)
            elif self._counts.unreserved >= self.account_limit - total_reserved:
                raise throttled(reserved=False)
            self._counts.by_function[name] += 1
            self._counts.account += 1
            if reserved is None:
                self._counts.unreserved += 1
            self._reserved_of[name] = reserved

    def leave(self, name: str) -> tuple[int, int, int]:
        """One execution of ``name`` finished: the executions running until now, it
        among them (as :meth:`concurrency` counts them)."""
        with self._lock:
            counts = self._counts
            running = counts.by_function[name], counts.account, counts.unreserved
            self._counts.by_function[name] -= 1
            self._counts.account -= 1
            if self._reserved_of.get(name) is None:
                self._counts.unreserved -= 1
        return running

    def concurrency(self, name: str) -> tuple[int, int, int]:
        """Executions running now: of ``name``, in the account, and in the unreserved pool."""
        with self._lock:
            counts = self._counts
            return counts.by_function[name], counts.account, counts.unreserved

    def in_use(self, name: str | None = None) -> int:
        with self._lock:
            if name is None:
                return self._counts.account
            return self._counts.by_function[name]

    # -- environments -----------------------------------------------------------------

    def key_of(self, config: FunctionConfiguration) -> PoolKey:
        """The environments ``config`` may run in: its version's, of its generation."""
        generation = self._generations.get(config.revision_id)
        if generation is None:  # a RevisionId names one content: digest it once
            if len(self._generations) >= _GENERATIONS_KEPT:
                self._generations = {}
            generation = f"{config.last_modified}/{content_digest(config)}"
            self._generations[config.revision_id] = generation
        return (config.function_name, config.version, generation)

    def take_warm(self, key: PoolKey) -> PooledEnvironment | None:
        """The most recently used idle environment for this version, if any; idle
        environments of an older generation of the version are retired."""
        with self._lock:
            stale = self._supersede(key)
            idle = self._idle.get(key)
            pooled = idle.pop() if idle else None
            if pooled is not None:
                self._busy.add(pooled)
        for old in stale:
            self._destroy(old, "replaced")
        return pooled

    def _supersede(self, key: PoolKey) -> list[PooledEnvironment]:
        """Make ``key`` its version's generation; the idle environments of the one it
        replaces (called with the lock held)."""
        version = key[:2]
        previous = self._current.get(version)
        if previous == key[2]:
            return []
        self._current[version] = key[2]
        return self._idle.pop((*version, previous), []) if previous is not None else []

    def add_busy(self, pooled: PooledEnvironment) -> None:
        with self._lock:
            self._busy.add(pooled)

    def give_back(self, pooled: PooledEnvironment, healthy: bool) -> None:
        """Return an environment after an invoke: keep it warm, or destroy it."""
        key = pooled.key
        with self._lock:
            self._busy.discard(pooled)
            current = self._current.get(key[:2]) == pooled.generation
            if healthy and current:
                pooled.last_used = self.clock.now()
                self._idle[key].append(pooled)
                reaper = self._reaper  # one due sooner serves (the hot path: no second lock)
                reaped = reaper is not None and not reaper.cancelled and (
                    reaper.when <= pooled.last_used + self.idle_ttl)
        if healthy and current:
            if not reaped:
                self._schedule_reaper(pooled.last_used + self.idle_ttl)
        else:
            self._destroy(pooled, "replaced" if healthy else "lost")

    def retire(self, function_name: str, version: str | None = None) -> int:
        """Destroy idle environments of a function (all versions, or one)."""
        doomed = []
        with self._lock:
            for key in list(self._idle):
                if key[0] == function_name and version in (None, key[1]):
                    doomed.extend(self._idle.pop(key))
            for current in list(self._current):
                if current[0] == function_name and version in (None, current[1]):
                    del self._current[current]
        for pooled in doomed:
            self._destroy(pooled, "retired")
        return len(doomed)

    def task_roots(self) -> set[str]:
        """The code directories of every environment, idle or busy: still in use."""
        with self._lock:
            pooled = [*self._busy, *(p for envs in self._idle.values() for p in envs)]
        return {p.env.spec.task_root for p in pooled}

    def idle_environments(self) -> list[PooledEnvironment]:
        with self._lock:
            return [p for envs in self._idle.values() for p in envs]

    def busy_environments(self) -> list[PooledEnvironment]:
        """The environments running an invoke now."""
        with self._lock:
            return list(self._busy)

    def reap_idle(self) -> int:
        """Destroy environments idle for ``idle_ttl`` seconds or more."""
        now = self.clock.now()
        doomed: list[PooledEnvironment] = []
        with self._lock:
            for key, envs in list(self._idle.items()):
                keep = [p for p in envs if p.last_used + self.idle_ttl > now]
                doomed.extend(p for p in envs if p not in keep)
                self._idle[key] = keep
        for pooled in doomed:
            self._destroy(pooled, "reaped")
        return len(doomed)

    def _schedule_reaper(self, when: float) -> None:
        with self._lock:
            if self._reaper is not None and not self._reaper.cancelled and self._reaper.when <= when:
                return
            if self._reaper is not None:
                self._reaper.cancel()
            self._reaper = self.clock.call_at(when, self._on_reaper)

    def _on_reaper(self) -> None:
        with self._lock:
            self._reaper = None
        self.reap_idle()
        remaining = self.idle_environments()
        if remaining:
            self._schedule_reaper(min(p.last_used for p in remaining) + self.idle_ttl)

    def close(self) -> None:
        with self._lock:
            doomed = [p for envs in self._idle.values() for p in envs] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
            if self._reaper is not None:
                self._reaper.cancel()
        for pooled in doomed:
            self._destroy(pooled, "closed")

    def _destroy(self, pooled: PooledEnvironment, reason: str) -> None:
        destroy(pooled)
        if self._stopped is not None:
            self._stopped(pooled, reason)


def destroy(pooled: PooledEnvironment) -> None:
    pooled.env.destroy()
    shutil.rmtree(pooled.tmp_dir, ignore_errors=True)

