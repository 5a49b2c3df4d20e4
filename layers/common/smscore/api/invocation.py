"""This invocation's dependencies, as the routes of an API function read them."""

from __future__ import annotations

from contextvars import ContextVar


class InvocationDeps[T]:
    """The dependencies `lambda_handler` was given, held per thread of execution (a ContextVar).

    Powertools' `app.context` is one dict on the module's resolver, cleared at the end of every resolve: two
    invocations running at once in one process (the tests' concurrent races; Lambda runs one at a time) could read
    a dict another had cleared. A ContextVar is per thread, so each invocation reads only its own.
    """

    def __init__(self, name: str) -> None:
        self._current: ContextVar[T] = ContextVar(name)

    def bind(self, deps: T) -> None:
        self._current.set(deps)

    def get(self) -> T:
        return self._current.get()
