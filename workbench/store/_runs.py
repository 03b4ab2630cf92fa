"""The live side of a result, one shape for optimize, generate and visualize.

Results are plain data (``to_dict``, ``from_record``). What they can do beyond that goes through
a :class:`RunHandle` beside the data: accepting binds the chosen code in the user's namespace,
records the choice in the session and offers the code as the next cell; refining asks the
engine that made the result, which only a result made in this kernel has (a loaded one says so).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._errors import UsageError
from ._sessions import SessionStore


class Refiner(Protocol):
    """The engine state a result needs to be refined (inputs, strategies, model)."""

    def refine(self, result: Any, hint: str | None, **options: Any) -> Any: ...


@dataclass
class RunHandle:
    """Where a result lives (its session run), where accepting binds, and who can refine it."""

    kind: str  # "optimize" | "generate" | "visualize"
    run_id: str | None = None
    store_path: str | None = None
    namespace: MutableMapping[str, Any] | None = field(default=None, repr=False)
    refiner: Refiner | None = field(default=None, repr=False)
    watchers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def accept(
        self,
        code: str,
        choice: str,
        *,
        header: str | None,
        namespace: MutableMapping[str, Any] | None = None,
        bind: bool = True,
    ) -> None:
        """Run the accepted code in the namespace, record the choice in the session, and
        (when ``header`` is given) offer the code as the next cell. ``bind=False`` records the
        choice only: no code runs here (the standalone dashboard's server)."""
        namespace = namespace if namespace is not None else self.namespace
        if bind:
            if namespace is None:
                raise UsageError(
                    "accept() needs namespace=globals() when the result was not made in a notebook"
                )
            exec(compile(code, f"<accepted {choice}>", "exec"), namespace)  # noqa: S102 - the user accepts it
        if self.run_id and self.store_path:
            SessionStore(self.store_path).update_run(self.run_id, accepted=choice)
        elif not bind:
            raise UsageError("this result has no session to record the choice in")
        if bind and header is not None:
            offer_next_cell(f"# accepted from workbench session {self.run_id}: {header}\n{code}")
        for callback in list(self.watchers):
            callback()

    def refine(self, result: Any, hint: str | None, **options: Any) -> Any:
        if self.refiner is None:
            raise UsageError(
                f"this {self.kind} result was loaded from the session without its inputs and "
                f"model: run %%{self.kind} again (with a hint) to refine it"
            )
        return self.refiner.refine(result, hint, **options)


def offer_next_cell(code: str) -> None:
    """Put ``code`` into the next notebook cell, when running under IPython (never imported
    here: only a kernel that already has IPython can have a next cell)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        shell.set_next_input(code, replace=False)
