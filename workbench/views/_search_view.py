"""The search view: the candidate tree as it grows, drawn by ``widgets/search_view.js``.

An anywidget whose state is plain data: ``nodes`` (one dict per candidate: id, round,
speedup and its interval, status, strategy, idea, parent) and ``selected`` (the id a click
chose, which the explorer follows). The ES module and its CSS live in the repository's
top-level ``widgets/`` folder, shipped in the package as ``workbench/widgets``; nothing is
built and nothing is fetched. ``search_nodes`` needs no UI library.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._errors import require
from ..optimizer._results import CandidateResult, OptimizeResult
from ._model import speed_colour, status_text

WIDGETS = Path(__file__).resolve().parent.parent / "widgets"  # -> the top-level widgets/


def node_kind(c: CandidateResult, best: str | None) -> str:
    """The view's class: best, faster, same, slower, failed (wrong results) or error (it
    raised, crashed, timed out, ran out of memory, or cannot be compared)."""
    if c.status != "passed":
        return "failed" if c.status == "failed" else "error"
    if c.id == best:
        return "best"
    if c.speedup is None or not c.significant:
        return "same"
    return "faster" if c.speedup > 1 else "slower"


def _best(candidates: Sequence[CandidateResult]) -> str | None:
    faster = [c for c in candidates if c.faster]
    return max(faster, key=lambda c: c.speedup).id if faster else None


def search_nodes(
    source: OptimizeResult | Sequence[CandidateResult], best: str | None = None
) -> list[dict[str, Any]]:
    """One plain dict per candidate, for the widget (a result, or the candidates so far)."""
    if isinstance(source, OptimizeResult):
        candidates = list(source.candidates)
        best = best or (source.best.id if source.best else None)
    else:
        candidates = list(source)
        best = best or _best(candidates)
    ids = {c.id for c in candidates}
    out = []
    for c in sorted(candidates, key=lambda c: c.order):
        label = f"{c.strategy}{f' [{c.path}]' if c.path else ''} · {c.id}"
        out.append(
            {
                "id": c.id,
                "label": label,
                "round": c.round,
                "order": c.order,
                "speedup": c.speedup if c.status == "passed" else None,
                "low": c.speedup_low,
                "high": c.speedup_high,
                "status": c.status,
                "kind": node_kind(c, best),
                "colour": speed_colour(c),
                "text": status_text(c) if c.status == "passed" else f"{c.status}: {c.reason}",
                "strategy": c.strategy,
                "idea": c.note,
                "parent": c.parent if c.parent in ids and c.parent != c.id else None,
            }
        )
    return out


@functools.cache
def _widget_class() -> type:
    anywidget = require("anywidget", "ui", "the search view")
    import traitlets

    class SearchWidget(anywidget.AnyWidget):
        _esm = WIDGETS / "search_view.js"
        _css = WIDGETS / "search_view.css"
        nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
        selected = traitlets.Unicode("").tag(sync=True)
        title = traitlets.Unicode("Search").tag(sync=True)

    return SearchWidget


def search_view(
    source: OptimizeResult | Sequence[CandidateResult] = (), *, title: str | None = None
) -> Any:
    """The search view widget of ``source`` (a result, or candidates so far); set its
    ``nodes`` with ``search_nodes(...)`` to redraw, observe ``selected`` for clicks."""
    default = "Search: candidates by round and speedup; lines lead from parent to child"
    return _widget_class()(nodes=search_nodes(source), title=title or default)
