"""Tree search: grow a tree of candidates from the verified ones, instead of whole rounds.

As in CodeTree and Scattered Forest Search: each step picks one parent, asks a strategy that
can refine (the LLM) for its children, and verifies and times them like every candidate. The
parent is the candidate with the best score: the lower bound of its verified speedup (log2,
so 2x better counts one point), a bonus for a path no step has taken yet, less a penalty for
each child it already has (diversity: the search spreads out instead of digging one branch).
A failed candidate gets the repair turn once, scored like one no faster than the reference.
The prompt shows the parent's siblings-to-be (its earlier children) and the best candidates
of other branches as inspiration. Every child records its ``parent``.

The search ends when a budget is used (``candidate_budget`` candidates in all, ``time_limit``
seconds, ``token_budget`` tokens; checked before each step), when no parent is left (each is
expanded at most ``MAX_EXPANSIONS`` times, ``rounds - 1`` levels deep when ``rounds > 1``),
or on Stop; a note says which. Every finished candidate is kept, Stop included.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._errors import UsageError
from .._timeline import phase
from ._options import Refinement
from ._results import CandidateResult
from .strategies._base import dedupe

SEARCHES = ("rounds", "tree")
SPEED_WEIGHT = 1.0  # score per doubling of the speedup's lower bound
NEW_PATH_BONUS = 0.5  # for a path (or strategy) no step has expanded yet
CHILD_PENALTY = 0.5  # per child the parent already has
REPAIR_SCORE = 0.0  # a failed candidate's repair turn: like one no faster than the reference
MAX_EXPANSIONS = 3  # steps one parent gets at most
DEFAULT_CANDIDATE_BUDGET = 20  # tree search without any budget: candidates in all
REPAIRABLE = ("error", "failed", "crashed")


def check_search(options: Refinement) -> None:
    if options.search not in SEARCHES:
        raise UsageError(f"search is 'rounds' or 'tree', not {options.search!r}")
    if options.candidate_budget is not None and options.candidate_budget < 1:
        raise UsageError("candidate_budget must be at least 1")


def tokens_used(strategies: Sequence[Any]) -> int:
    return sum(
        (getattr(e, "prompt_tokens", 0) or 0) + (getattr(e, "completion_tokens", 0) or 0)
        for s in strategies
        for e in getattr(s, "exchanges", None) or []
    )


def family(c: CandidateResult) -> str:
    """The branch a candidate belongs to for diversity: its reasoning path, else strategy."""
    return c.path or c.strategy


@dataclass
class SearchState:
    """What the search has done so far: steps per parent and per family."""

    expansions: Counter = field(default_factory=Counter)  # parent id -> steps
    families: Counter = field(default_factory=Counter)  # family -> steps
    exhausted: set[str] = field(default_factory=set)  # gave nothing new

    def expanded(self, parent: CandidateResult) -> None:
        self.expansions[parent.id] += 1
        self.families[family(parent)] += 1


def score(
    c: CandidateResult, candidates: Sequence[CandidateResult], state: SearchState
) -> float | None:
    """How promising ``c`` is as the next parent; None when it cannot be one."""
    if c.status == "passed" and c.speedup_low is not None and c.speedup_low > 0:
        base = SPEED_WEIGHT * math.log2(c.speedup_low)
    elif c.status in REPAIRABLE and c.code and not state.expansions[c.id]:
        base = REPAIR_SCORE
    else:
        return None
    children = sum(1 for other in candidates if other.parent == c.id)
    bonus = NEW_PATH_BONUS if not state.families[family(c)] else 0.0
    return base + bonus - CHILD_PENALTY * children


def choose_parent(
    candidates: Sequence[CandidateResult], state: SearchState, levels: int | None = None
) -> CandidateResult | None:
    """The next parent: the best score among those that may still have children (fewer
    than ``MAX_EXPANSIONS`` steps, above level ``levels``); the earlier one on a tie."""
    best, best_score = None, -math.inf
    for c in sorted(candidates, key=lambda c: c.order):
        if c.id in state.exhausted or state.expansions[c.id] >= MAX_EXPANSIONS:
            continue
        if levels is not None and c.round >= levels:
            continue
        s = score(c, candidates, state)
        if s is not None and s > best_score:
            best, best_score = c, s
    return best


def inspiration(
    parent: CandidateResult, candidates: Sequence[CandidateResult], most: int = 3
) -> list[CandidateResult]:
    """What the prompt shows beside ``parent``: its children so far (the new child's
    siblings), then the fastest verified candidates elsewhere."""
    children = [c for c in candidates if c.parent == parent.id]
    children.sort(key=lambda c: (c.status != "passed", -(c.speedup_low or 0.0)))
    others = sorted(
        (c for c in candidates if c.status == "passed" and c.speedup_low is not None),
        key=lambda c: -c.speedup_low,
    )
    out: list[CandidateResult] = []
    for c in [*children, *others]:
        if c.id != parent.id and c not in out and len(out) < most:
            out.append(c)
    return out


def budget_used(
    options: Refinement, candidates: int, seconds: float, tokens: int, budget: int | None
) -> str | None:
    """Which budget is used up, in words, or None."""
    if budget is not None and candidates >= budget:
        return f"the budget of {budget} candidates was used"
    if options.time_limit is not None and seconds >= options.time_limit:
        return f"the time budget of {options.time_limit:g} s was used ({seconds:.1f} s)"
    if options.token_budget is not None and tokens >= options.token_budget:
        return f"the token budget of {options.token_budget:,} tokens was used ({tokens:,})"
    return None


def tree_search(run: Any, strategies: Sequence[Any], options: Refinement, started: float) -> None:
    """Grow the tree on ``run`` (the engine's ``_Run``) until a budget, the end or Stop."""
    result = run.result
    expanders = [s for s in strategies if hasattr(s, "expand") or hasattr(s, "refine")]
    if not expanders:
        result.notes.append("tree search needs a strategy that can refine (the LLM): none ran")
        return
    budget = options.candidate_budget
    if budget is None and options.time_limit is None and options.token_budget is None:
        budget = DEFAULT_CANDIDATE_BUDGET
    levels = options.rounds - 1 if options.rounds > 1 else None
    run.emit({"kind": "search", "budget": budget, "levels": levels})
    state, steps, before = SearchState(), 0, len(result.candidates)
    ended = None
    while not run.stopped():
        ended = budget_used(
            options,
            len(result.candidates),
            time.perf_counter() - started,
            tokens_used(strategies),
            budget,
        )
        if ended:
            break
        parent = choose_parent(result.candidates, state, levels)
        if parent is None:
            ended = "no candidate is left to expand"
            break
        state.expanded(parent)
        strategy = expanders[steps % len(expanders)]
        steps += 1
        round_ = parent.round + 1
        with phase("generate", timeline=run.timeline, strategy=strategy.name, round=round_):
            if hasattr(strategy, "expand"):
                shown = inspiration(parent, result.candidates)
                specs = strategy.expand(run.task, parent, shown, round=round_, hint=options.hint)
            else:
                specs = strategy.refine(run.task, [parent], round=round_, hint=options.hint)
        run.store_exchanges(strategy)
        known = {c.code.strip() for c in result.candidates}
        specs = [
            replace(s, parent=parent.id, round=round_)
            for s in dedupe(specs)
            if s.code.strip() not in known
        ]
        if budget is not None:
            specs = specs[: max(budget - len(result.candidates), 0)]
        if not specs:
            state.exhausted.add(parent.id)
            continue
        run.evaluate_all(specs)
    if run.stopped():
        ended = "stopped by the user"
    made = len(result.candidates) - before
    result.notes.append(
        f"tree search: {steps} step{'s' * (steps != 1)}, {made} new candidate"
        f"{'s' * (made != 1)}; search ended: {ended}"
    )
