"""``optimize``'s options in three typed groups; its keywords fill or override them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Verification:
    """What a candidate must match: the user's tests, tolerances, and the input sizes."""

    tests: Iterable[Callable] | Callable | None = None
    rtol: float | None = None
    atol: float | None = None
    sizes: Sequence[int] | None = None  # verification sizes; the largest is the timing size
    timing_size: int | None = None  # else calibrated to ``settings.timing_target``
    stress: bool = False  # also time on the input shape that slows the reference most


@dataclass(frozen=True)
class Refinement:
    """Further LLM rounds on the results so far, and when they stop.

    ``search="rounds"`` refines the best and failed candidates round by round;
    ``search="tree"`` grows a candidate tree instead (``_search.tree_search``): each step
    refines one parent chosen by verified speedup and diversity, its siblings shown as
    inspiration, ``rounds - 1`` levels deep, until a budget (``candidate_budget``,
    ``time_limit``, ``token_budget``) is used up, nothing is left to expand, or Stop.
    """

    rounds: int = 1
    patience: int = 2  # rounds without a better speedup before stopping ("rounds" only)
    hint: str | None = None
    token_budget: int | None = None
    time_limit: float | None = None  # seconds for the whole run
    search: str = "rounds"  # or "tree"
    candidate_budget: int | None = None  # candidates in all, the first round's included


@dataclass(frozen=True)
class RunControl:
    """Where and how long the jobs run, progress events, and Stop."""

    time_budget: float | None = None  # seconds of timed calls per candidate
    executor: Any = None  # "local", "serial", a Dask address or Client, an Executor
    stop: threading.Event | None = None
    progress: Callable[[dict[str, Any]], None] | None = None


def merged(group: Any, keywords: dict[str, Any]) -> Any:
    """``group`` with each keyword that was given (differs from the field's default) on top."""
    defaults = {f.name: f.default for f in fields(group)}
    given = {k: v for k, v in keywords.items() if k in defaults and v is not defaults[k]}
    return type(group)(**{**{k: getattr(group, k) for k in defaults}, **given})
