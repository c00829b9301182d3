"""Which isolation backend runs a function, and the one instance of each that a lab keeps.

Backends come from plugins (:func:`~lambdalab.hookspecs.lambdalab_sandbox_backends`). A
function runs in its own ``Sandbox`` when it names one; else in the lab's default, if that
runs the function's runtime; else in the loaded backend made for that runtime: of those
that run it, the one that runs the fewest runtimes (a backend lists what it runs in its
``runtimes`` attribute; without one, it runs the Python runtimes).

So a ``nodejs20.x`` function runs in ``limited`` in a lab whose default is ``limited``
(it runs every runtime), and in ``runtime-api``, not ``limited``, in a lab whose default
is ``subprocess``, which runs Python only.
"""

from __future__ import annotations

import threading
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from .. import limits
from ..errors import InvalidParameterValueException
from ..models import FunctionConfiguration
from ..sandbox import SandboxBackend

#: What the loaded plugins offer: one list of backend classes per plugin (the hook's answer).
Offered = Callable[[], Iterable[Iterable[Any]]]


class Backends:
    """The backends a lab's plugins offer; each started once, on first use, and closed
    with the lab."""

    def __init__(self, offered: Offered, default: str, preload: tuple[str, ...]) -> None:
        self._offered = offered
        self.default = default
        self._preload = preload
        self._started: dict[str, SandboxBackend] = {}
        self._lock = threading.Lock()

    def classes(self) -> dict[str, type]:
        """Every backend class the loaded plugins offer, by name."""
        found: dict[str, type] = {}
        for classes in self._offered():
            for cls in classes:
                found.setdefault(cls.name, cls)
        return found

    def for_function(self, config: FunctionConfiguration) -> SandboxBackend:
        """The started backend that runs ``config``'s function."""
        return self._start(self.name_for(config))

    def prepare(self, configs: Iterable[FunctionConfiguration] = ()) -> None:
        """Start the default backend and those ``configs`` run in, and let each prepare
        what its first cold start needs (a backend with a ``prepare()`` method: the fork
        server and its preloads), so that the first invoke after ``serve`` starts does not
        wait for them. Blocking: call it from a thread."""
        names = dict.fromkeys([self.default, *(self.name_for(c) for c in configs)])
        for name in names:
            prepare = getattr(self._start(name), "prepare", None)
            if prepare is not None:
                prepare()

    def _start(self, name: str) -> SandboxBackend:
        with self._lock:
            if name not in self._started:
                available = self.classes()
                if name not in available:
                    raise InvalidParameterValueException(
                        f"Sandbox: {name!r} is not a loaded sandbox backend. Loaded: "
                        f"{', '.join(sorted(available)) or 'none'}. Run `lambdalab plugins`."
                    )
                self._started[name] = available[name](preload=self._preload)
            return self._started[name]

    def name_for(self, config: FunctionConfiguration) -> str:
        """The backend's name for ``config`` (the rule in this module's docstring)."""
        if config.sandbox:
            return config.sandbox
        runtimes = self.runtimes_of
        if config.runtime in runtimes(self.default):
            return self.default
        candidates = [name for name in self.classes() if config.runtime in runtimes(name)]
        return min(candidates, key=lambda name: len(runtimes(name)), default=self.default)

    def runtimes_of(self, sandbox: str) -> tuple[str, ...]:
        """The runtimes a loaded backend runs (its ``runtimes``; else the Python ones)."""
        backend = self.classes().get(sandbox)
        return tuple(getattr(backend, "runtimes", limits.PYTHON_RUNTIMES))

    def check(self, name: Any, runtime: str) -> str:
        """``name`` if a loaded plugin offers that backend and it runs ``runtime``, else
        InvalidParameterValue saying which to use."""
        available = self.classes()
        if name not in available:
            raise InvalidParameterValueException(
                f"Sandbox: {name!r} is not a loaded sandbox backend. Use one of: "
                f"{', '.join(sorted(available)) or 'none'} (see `lambdalab plugins`)."
            )
        if runtime not in self.runtimes_of(name):
            fitting = [other for other in sorted(available) if runtime in self.runtimes_of(other)]
            raise InvalidParameterValueException(
                f"Sandbox: {name!r} does not run {runtime}. Use one of: "
                f"{', '.join(fitting) or 'none loaded'}, or leave Sandbox unset."
            )
        return name

    @property
    def started(self) -> Mapping[str, SandboxBackend]:
        """The backends started so far, by name."""
        return MappingProxyType(self._started)

    def close(self) -> None:
        """Close every backend started."""
        for backend in self._started.values():
            backend.close()
