"""The hooks every invoke calls, called as plain functions.

pluggy's call machinery (the keyword check, the wrapper protocol, a list of results)
costs about 2 µs a call, and an invoke calls three hooks; their implementations are
plain functions that return at once. :class:`DirectHook` calls them the way pluggy
would (in its order, each with the arguments it names; a ``firstresult`` hook stops at
the first answer that is not None) and goes through pluggy whenever a plain call could
differ: a hook wrapper, an implementation that takes fewer arguments than the spec, or
tracing (``LAMBDALAB_TRACE_PLUGINS``, ``add_hookcall_monitoring``).
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

#: pluggy's own call loop: a plugin manager whose loop is another traces or monitors calls.
_MULTICALL = getattr(getattr(pluggy, "_callers", None), "_multicall", None)


class DirectHook:
    """One hook of ``pm``, called without pluggy's per-call work where that is the same.

    Its implementations are read again whenever they change (a plugin registered or
    unregistered while the lab runs); reading them is a short list copy and compare.
    """

    def __init__(self, pm: pluggy.PluginManager, name: str) -> None:
        self._pm = pm
        self._caller = getattr(pm.hook, name)
        self._spec_args: tuple[str, ...] = tuple(self._caller.spec.argnames)
        self._firstresult = bool(self._caller.spec.opts.get("firstresult"))
        self._impls: list[Any] | None = None
        #: The implementations to call, in pluggy's order; None: call through pluggy.
        self._functions: list[Callable[..., Any]] | None = []

    def _current(self) -> list[Callable[..., Any]] | None:
        impls = self._caller.get_hookimpls()
        if impls != self._impls:
            self._impls = impls
            plain = all(
                not (i.hookwrapper or i.wrapper) and tuple(i.argnames) == self._spec_args
                for i in impls
            )
            self._functions = [i.function for i in reversed(impls)] if plain else None
        if getattr(self._pm, "_inner_hookexec", None) is not _MULTICALL:
            return None
        return self._functions

    @property
    def listened(self) -> bool:
        """Whether any plugin implements the hook (else an invoke need not build its arguments)."""
        return bool(self._caller.get_hookimpls())

    def __call__(self, *args: Any) -> Any:
        """Call every implementation with ``args`` (the spec's arguments, in its order):
        the first answer that is not None for a ``firstresult`` hook, else None."""
        functions = self._current()
        if functions is None:
            answer = self._caller(**dict(zip(self._spec_args, args)))
            return answer if self._firstresult else None
        for function in functions:
            answer = function(*args)
            if self._firstresult and answer is not None:
                return answer
        return None
