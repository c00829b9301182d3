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

import itertools
from typing import Any, Callable

import pluggy

#: pluggy's own call loop: a plugin manager whose loop is another traces or monitors calls.
_MULTICALL = getattr(getattr(pluggy, "_callers", None), "_multicall", None)


class HookWatch:
    """Numbers the changes of one plugin manager's plugins, so that a :class:`DirectHook`
    learns of one by comparing a number rather than copying its hook's implementations
    on every call.

    The manager's ``register`` and ``unregister`` are wrapped on the instance: every way
    pluggy adds or removes implementations goes through them (entry points,
    ``set_blocked``, ``unregister`` by name).
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._numbers = itertools.count(1)
        #: Changed after every registration or unregistration (even one that failed).
        self.generation = 0
        pm.register = self._counted(pm.register)  # type: ignore[method-assign]
        pm.unregister = self._counted(pm.unregister)  # type: ignore[method-assign]

    def _counted(self, change: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return change(*args, **kwargs)
            finally:
                self.generation = next(self._numbers)  # atomic: two threads may register

        return counted


class DirectHook:
    """One hook of ``pm``, called without pluggy's per-call work where that is the same.

    Its implementations are read again after ``watch`` saw a plugin registered or
    unregistered (while the lab runs, too).
    """

    def __init__(self, pm: pluggy.PluginManager, name: str, watch: HookWatch) -> None:
        self._pm = pm
        self._watch = watch
        self._caller = getattr(pm.hook, name)
        self._spec_args: tuple[str, ...] = tuple(self._caller.spec.argnames)
        self._firstresult = bool(self._caller.spec.opts.get("firstresult"))
        #: (the generation read, the implementations to call in pluggy's order or None
        #: to call through pluggy, whether any): one attribute, replaced whole.
        self._state: tuple[int, list[Callable[..., Any]] | None, bool] = (-1, None, False)

    def _current(self) -> tuple[int, list[Callable[..., Any]] | None, bool]:
        state = self._state
        if state[0] != self._watch.generation:
            generation = self._watch.generation  # read first: a change meanwhile is seen next time
            impls = self._caller.get_hookimpls()
            plain = all(
                not (i.hookwrapper or i.wrapper) and tuple(i.argnames) == self._spec_args
                for i in impls
            )
            functions = [i.function for i in reversed(impls)] if plain else None
            state = self._state = (generation, functions, bool(impls))
        return state

    @property
    def listened(self) -> bool:
        """Whether any plugin implements the hook (else an invoke need not build its arguments)."""
        return self._current()[2]

    def __call__(self, *args: Any) -> Any:
        """Call every implementation with ``args`` (the spec's arguments, in its order):
        the first answer that is not None for a ``firstresult`` hook, else None."""
        functions = self._current()[1]
        if functions is None or getattr(self._pm, "_inner_hookexec", None) is not _MULTICALL:
            answer = self._caller(**dict(zip(self._spec_args, args)))
            return answer if self._firstresult else None
        for function in functions:
            answer = function(*args)
            if self._firstresult and answer is not None:
                return answer
        return None
