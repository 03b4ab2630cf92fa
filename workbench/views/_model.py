"""View-models: plain data the explorer, timing plot and dashboard draw from.

Built from an ``OptimizeResult`` or from a session run dict (``SessionStore.run(id)``), so a
saved session looks the same as a live one. No UI library is imported here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..optimizer._render import fmt_bytes, fmt_seconds, fmt_speedup
from ..optimizer._results import CandidateResult, HotLine, Mismatch, OptimizeResult, Timing

# status -> colour; passed candidates get a shade of green by speedup instead
STATUS_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#b35900",
    "error": "#cf222e",
    "timeout": "#8250df",
    "crashed": "#cf222e",
    "oom": "#8250df",
    "unverified": "#6e7781",  # a result of a type that cannot be compared
}
SLOWER_COLOUR = "#d4a72c"  # passed, but significantly slower than the reference
SAME_COLOUR = "#57606a"  # passed, no significant change


def speed_colour(candidate: CandidateResult) -> str:
    """Colour of a candidate: its status, or for passed ones how much faster it is."""
    if candidate.status != "passed":
        return STATUS_COLOURS.get(candidate.status, "#cf222e")
    if candidate.speedup is None or not candidate.significant:
        return SAME_COLOUR
    if candidate.speedup < 1:
        return SLOWER_COLOUR
    # light green at 1x to dark green at >=100x, on a log scale
    import math

    strength = min(math.log10(candidate.speedup) / 2, 1.0)
    light, dark = (0x6F, 0xDD, 0x8B), (0x0A, 0x5C, 0x24)
    rgb = [round(a + (b - a) * strength) for a, b in zip(light, dark)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def status_text(candidate: CandidateResult) -> str:
    """One short phrase a person reads first: 'passed, 3.2x faster', 'failed'."""
    if candidate.status != "passed":
        return candidate.status
    if candidate.speedup is None:
        return "passed"
    if not candidate.significant:
        return f"passed, {candidate.speedup:.2f}x (no significant change)"
    if candidate.speedup >= 1:
        return f"passed, {candidate.speedup:.3g}x faster"
    return f"passed, {1 / candidate.speedup:.3g}x slower"


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        old.strip().splitlines(), new.strip().splitlines(), old_name, new_name, lineterm=""
    )
    return "\n".join(lines)


@dataclass
class TimingSummary:
    median: float
    q1: float
    q3: float
    repeats: int
    size: int | None
    compile_time: float
    peak_memory: int | None
    times: list[float]

    @classmethod
    def of(cls, timing: Timing | None) -> TimingSummary | None:
        if timing is None:
            return None
        return cls(
            median=timing.median,
            q1=timing.q1,
            q3=timing.q3,
            repeats=timing.repeats,
            size=timing.size,
            compile_time=timing.compile_time,
            peak_memory=timing.peak_memory,
            times=list(timing.times),
        )

    def text(self) -> str:
        spread = (self.q3 - self.q1) / self.median * 50 if self.median else 0.0
        parts = [f"median {fmt_seconds(self.median)} ±{spread:.0f}% over {self.repeats} calls"]
        if self.size is not None:
            parts.append(f"size {self.size}")
        if self.compile_time:
            parts.append(f"first call (compile) {fmt_seconds(self.compile_time)}")
        if self.peak_memory is not None:
            parts.append(f"peak memory +{fmt_bytes(self.peak_memory)}")
        return ", ".join(parts)


@dataclass
class CandidateNode:
    """One candidate as the views show it."""

    id: str
    label: str  # short name in the tree: strategy, path and round
    strategy: str
    path: str
    parent: str | None
    round: int
    depth: int  # 0 for first-round candidates, +1 per refinement
    status: str
    status_text: str
    colour: str
    speedup: float | None
    speedup_low: float | None
    speedup_high: float | None
    speedup_text: str
    reason: str
    note: str
    code: str
    diff: str  # unified diff against ``diff_against``
    diff_against: str  # "reference" or the parent's id
    timing: TimingSummary | None
    warnings: list[str]
    accepted: bool = False
    children: list[CandidateNode] = field(default_factory=list)
    hot_lines: list[HotLine] = field(default_factory=list)  # most time first
    profile_note: str = ""  # why there is no line profile
    mismatch: Mismatch | None = None  # the input it got wrong, to show side by side


@dataclass
class PathGroup:
    """Candidates that share a reasoning path (or, without one, a strategy)."""

    name: str
    roots: list[CandidateNode]

    @property
    def title(self) -> str:
        """The group's heading: an LLM reasoning path, your candidates, or mechanical variants."""
        if any(root.strategy == "llm" for root in self.roots):
            return f"path: {self.name}"
        if self.name == "user":
            return "your candidates"
        return f"{self.name} variants"

    def walk(self) -> list[CandidateNode]:
        out: list[CandidateNode] = []

        def visit(node: CandidateNode) -> None:
            out.append(node)
            for child in node.children:
                visit(child)

        for root in self.roots:
            visit(root)
        return out


@dataclass
class ExplorerModel:
    """The candidate tree: task -> paths -> candidates -> refinements."""

    entry: str
    source: str
    run_id: str | None
    reference: TimingSummary | None
    paths: list[PathGroup]
    notes: list[str]
    accepted: str | None
    inputs: str = ""  # where the inputs came from and their sizes

    def nodes(self) -> list[CandidateNode]:
        """Every candidate in tree order (path by path, each followed by its refinements)."""
        return [node for group in self.paths for node in group.walk()]

    def node(self, candidate_id: str) -> CandidateNode:
        for node in self.nodes():
            if node.id == candidate_id:
                return node
        raise KeyError(candidate_id)


def inputs_text(inputs: dict[str, Any]) -> str:
    """One line: where the inputs came from and their sizes (empty for older sessions)."""
    return str(inputs.get("description") or inputs.get("source") or "")


def _label(c: CandidateResult) -> str:
    text = c.strategy
    if c.path:
        text += f" [{c.path}]"
    if c.round:
        text += f" round {c.round}"
    return f"{text} · {c.id}"


def _as_result(source: OptimizeResult | dict[str, Any]) -> OptimizeResult:
    return source if isinstance(source, OptimizeResult) else OptimizeResult.from_record(source)


def build_model(source: OptimizeResult | dict[str, Any]) -> ExplorerModel:
    """The explorer's tree from a result, or from ``SessionStore(...).run(run_id)``."""
    result = _as_result(source)
    by_id = {c.id: c for c in result.candidates}
    nodes: dict[str, CandidateNode] = {}
    for c in result.candidates:
        parent = by_id.get(c.parent) if c.parent and c.parent != c.id else None
        base, base_name = (parent.code, parent.id) if parent else (result.source, "reference")
        nodes[c.id] = CandidateNode(
            id=c.id,
            label=_label(c),
            strategy=c.strategy,
            path=c.path or c.strategy.split(".")[0],  # mechanical variants: one group
            parent=parent.id if parent else None,
            round=c.round,
            depth=0,
            status=c.status,
            status_text=status_text(c),
            colour=speed_colour(c),
            speedup=c.speedup,
            speedup_low=c.speedup_low,
            speedup_high=c.speedup_high,
            speedup_text=fmt_speedup(c),
            reason=c.reason,
            note=c.note,
            code=c.code,
            diff=unified_diff(base, c.code, base_name, c.id),
            diff_against=base_name,
            timing=TimingSummary.of(c.timing),
            warnings=list(c.warnings),
            accepted=c.id == result.accepted,
            hot_lines=list(c.hot_lines),
            mismatch=c.mismatch,
            profile_note=c.profile_note,
        )
    groups: dict[str, PathGroup] = {}
    for c in result.candidates:
        node = nodes[c.id]
        if node.parent is not None:
            nodes[node.parent].children.append(node)
        else:
            groups.setdefault(node.path, PathGroup(node.path, [])).roots.append(node)
    for group in groups.values():
        for node in group.walk():
            for child in node.children:
                child.depth = node.depth + 1
    return ExplorerModel(
        entry=result.entry,
        source=result.source,
        run_id=result.run_id,
        reference=TimingSummary.of(result.reference.timing),
        paths=list(groups.values()),
        notes=list(result.notes),
        accepted=result.accepted,
        inputs=inputs_text(result.inputs),
    )
