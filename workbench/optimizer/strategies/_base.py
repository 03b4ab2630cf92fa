from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..._errors import UsageError
from .._task import Task


@dataclass(frozen=True)
class CandidateSpec:
    """A program to evaluate, and where it came from."""

    code: str
    strategy: str  # e.g. "numba.parallel", "user", "llm"
    note: str = ""  # one line: what this variant changes
    path: str | None = None  # the reasoning path (multi-path generation)
    parent: str | None = None  # id of the candidate this one refines
    round: int = 0


@runtime_checkable
class Strategy(Protocol):
    name: str

    def propose(self, task: Task) -> list[CandidateSpec]:
        """Candidates for ``task`` (may be empty, never raises for unsupported code)."""
        ...


def resolve_strategies(
    names: Iterable[str | Strategy] | str, *, target: str = "cpu"
) -> list[Strategy]:
    """Strategy objects from names (``"numba"``) or objects; ``"llm"`` writes code for
    ``target`` (``cpu``, ``cupy``, ``numba-cuda``)."""
    from ._gpu import CupyStrategy, NumbaCudaStrategy
    from ._llm import LLMStrategy
    from ._numba import NumbaStrategy

    known = {
        "numba": NumbaStrategy,
        "cupy": CupyStrategy,
        "numba-cuda": NumbaCudaStrategy,
        "llm": LLMStrategy,
    }
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[Strategy] = []
    for item in names:
        if isinstance(item, str):
            if item not in known:
                raise UsageError(
                    f"unknown strategy {item!r}; available: {', '.join(sorted(known))}"
                )
            out.append(LLMStrategy(target=target) if item == "llm" else known[item]())
        elif isinstance(item, Strategy):
            out.append(item)
        else:
            raise UsageError(f"a strategy is a name or an object with .propose(task), not {item!r}")
    return out


def dedupe(specs: Sequence[CandidateSpec]) -> list[CandidateSpec]:
    seen, out = set(), []
    for spec in specs:
        key = spec.code.strip()
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out
