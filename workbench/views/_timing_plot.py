"""The timing view (Bokeh): each candidate's timed calls and its speedup with its spread."""

from __future__ import annotations

from typing import Any

from .._errors import require
from ..optimizer._render import fmt_bytes, fmt_seconds
from ._model import CandidateNode, ExplorerModel

REFERENCE_COLOUR = "#0969da"


def _rows(model: ExplorerModel) -> list[tuple[str, str, str, CandidateNode | None]]:
    """(row name, colour, status text, node) for the reference and every timed candidate."""
    rows: list[tuple[str, str, str, CandidateNode | None]] = []
    if model.reference is not None:
        rows.append((f"reference ({model.entry})", REFERENCE_COLOUR, "reference", None))
    for node in model.nodes():
        if node.timing is not None:
            rows.append((node.label, node.colour, node.status_text, node))
    return rows


def timing_figure(model: ExplorerModel, *, width: int = 900) -> Any:
    """A Bokeh layout: timed calls per candidate (left) and speedup with its spread (right)."""
    plotting = require("bokeh.plotting", "ui", "the timing view")
    from bokeh.layouts import row
    from bokeh.models import ColumnDataSource, HoverTool, Span, Whisker

    rows = _rows(model)
    names = [name for name, *_ in rows][::-1]  # first row on top
    height = max(160, 60 + 28 * len(rows))
    calls: dict[str, list[Any]] = {"name": [], "t": [], "colour": []}
    summary: dict[str, list[Any]] = {
        k: []
        for k in (
            "name",
            "median",
            "q1",
            "q3",
            "colour",
            "status",
            "median_text",
            "spread_text",
            "repeats",
            "compile_text",
            "memory_text",
            "speedup",
            "low",
            "high",
            "speedup_text",
        )
    }
    for name, colour, status, node in rows:
        timing = model.reference if node is None else node.timing
        assert timing is not None
        for t in timing.times:
            calls["name"].append(name)
            calls["t"].append(t)
            calls["colour"].append(colour)
        summary["name"].append(name)
        summary["median"].append(timing.median)
        summary["q1"].append(timing.q1)
        summary["q3"].append(timing.q3)
        summary["colour"].append(colour)
        summary["status"].append(status)
        summary["median_text"].append(fmt_seconds(timing.median))
        spread = (timing.q3 - timing.q1) / timing.median * 50 if timing.median else 0.0
        summary["spread_text"].append(f"±{spread:.0f}%")
        summary["repeats"].append(timing.repeats)
        summary["compile_text"].append(fmt_seconds(timing.compile_time))
        summary["memory_text"].append(fmt_bytes(timing.peak_memory))
        speedup = 1.0 if node is None else node.speedup
        summary["speedup"].append(speedup if speedup is not None else float("nan"))
        summary["low"].append(1.0 if node is None else (node.speedup_low or float("nan")))
        summary["high"].append(1.0 if node is None else (node.speedup_high or float("nan")))
        summary["speedup_text"].append("1x (the baseline)" if node is None else node.speedup_text)
    # readable ticks: show times in the unit of the slowest median (s, ms or µs)
    slowest = max(summary["median"], default=1.0)
    unit, scale = next(
        ((u, f) for u, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)) if slowest >= f), ("ns", 1e-9)
    )
    calls["t"] = [t / scale for t in calls["t"]]
    for key in ("median", "q1", "q3"):
        summary[key] = [t / scale for t in summary[key]]
    ratios = [v for v in summary["low"] + summary["high"] if v == v]  # drop NaN
    calls_src = ColumnDataSource(calls)
    summary_src = ColumnDataSource(summary)
    tooltips = [
        ("candidate", "@name"),
        ("status", "@status"),
        ("median", "@median_text @spread_text"),
        ("timed calls", "@repeats"),
        ("first call (compile)", "@compile_text"),
        ("peak memory", "@memory_text"),
        ("speedup", "@speedup_text"),
    ]

    times = plotting.figure(
        y_range=names,
        x_axis_type="log",
        width=width * 3 // 5,
        height=height,
        title="Time per call (each dot is one timed call; bar = middle half)",
        x_axis_label=f"{unit} per call (log scale, lower is better)",
        toolbar_location=None,
    )
    times.hbar(
        y="name",
        left="q1",
        right="q3",
        height=0.5,
        fill_color="colour",
        fill_alpha=0.25,
        line_color="colour",
        source=summary_src,
    )
    dots = times.scatter(
        x="t", y={"field": "name"}, size=5, color="colour", alpha=0.6, source=calls_src
    )
    medians = times.scatter(
        x="median", y="name", marker="diamond", size=12, color="colour", source=summary_src
    )
    times.add_tools(HoverTool(renderers=[medians], tooltips=tooltips))
    times.add_tools(HoverTool(renderers=[dots], tooltips=[("call", f"@t{{0.[00]}} {unit}")]))

    speed = plotting.figure(
        y_range=times.y_range,
        x_axis_type="log",
        x_range=(min([1.0, *ratios]) / 1.3, max([1.0, *ratios]) * 1.3),
        width=width * 2 // 5,
        height=height,
        title="Speedup over the reference (line = its spread)",
        x_axis_label="times faster (log scale, right of 1 is better)",
        toolbar_location=None,
    )
    speed.yaxis.visible = False
    speed.add_layout(Span(location=1.0, dimension="height", line_dash="dashed"))
    speed.add_layout(
        Whisker(base="name", lower="low", upper="high", dimension="width", source=summary_src)
    )
    points = speed.scatter(x="speedup", y="name", size=10, color="colour", source=summary_src)
    speed.add_tools(HoverTool(renderers=[points], tooltips=tooltips))
    return row(times, speed)
