"""What a Matplotlib figure shows, as plain values: runs in the plotting worker.

The kernel judges these facts (``workbench.visualizer._checks``); here they are only measured,
from the figure's artists after a draw: each series with its colour, style, emphasis and the
shape of its x data, the legend's entries, tick labels that overlap or are cut by the figure's
edge, text that overflows the figure, the y range, and data outside the axis limits. Every
value is a str, number, bool, list or dict, so the ``_wire`` codec carries it.
"""

from __future__ import annotations

import math
from typing import Any

MAX_SERIES = 40  # per axes: a figure with more is summarised by its first ones
MAX_TEXTS = 20
EDGE_PX = 2.0  # how far past the figure's edge a text may reach before it counts as cut


def figure_facts(fig: Any) -> dict[str, Any]:
    """What ``fig`` (a Matplotlib figure) shows, as plain values."""
    fig.canvas.draw()  # tick labels get their final text and position only when drawn
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    axes_facts = []
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible() or _is_colorbar(ax):
            continue
        axes_facts.append(_axes_facts(index, ax, renderer, frame))
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    width, height = fig.get_size_inches()
    return {
        "axes": axes_facts,
        "suptitle": suptitle,
        "size_inches": [float(width), float(height)],
        "figure_legends": [_legend_facts(legend) for legend in fig.legends],
        "overflowing_texts": _overflowing_texts(fig, renderer, frame),
    }


def _axes_facts(index: int, ax: Any, renderer: Any, frame: Any) -> dict[str, Any]:
    from matplotlib.container import BarContainer
    from matplotlib.patches import Wedge

    lines = [line for line in ax.lines if len(line.get_xdata()) > 0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer) and len(c) > 0]
    collections = [c for c in ax.collections if _collection_has_data(c)]
    wedges = [p for p in ax.patches if isinstance(p, Wedge)]
    bar_patches = {id(p) for c in bars for p in c}
    other_patches = [p for p in ax.patches if id(p) not in bar_patches and not isinstance(p, Wedge)]
    series: list[dict[str, Any]] = []
    series += [_line_facts(line) for line in lines]
    series += [_bars_facts(c) for c in bars]
    series += [_collection_facts(c) for c in collections]
    n_series = len(lines) + len(bars) + len(collections) + len(ax.images) + (1 if wedges else 0)
    legend = ax.get_legend()
    labelled = [
        a
        for a in [*lines, *bars, *collections]
        if a.get_label() and not str(a.get_label()).startswith("_")
    ]
    position = ax.get_position()
    xticks, yticks = _shown_ticks(ax.xaxis, 0), _shown_ticks(ax.yaxis, 1)
    return {
        "index": index,
        "series": n_series,
        "lines": len(lines),
        "bar_groups": len(bars),
        "collections": len(collections),
        "images": len(ax.images),
        "pie": bool(wedges),
        "wedge_labels": [t.get_text() for t in ax.texts if t.get_text().strip()][:MAX_TEXTS]
        if wedges
        else [],
        "empty": n_series == 0 and not other_patches,
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "xscale": ax.get_xscale(),
        "projection": str(ax.name),
        "axis_on": bool(ax.axison),
        "yscale": ax.get_yscale(),
        "legend": legend is not None or bool(ax.figure.legends),
        "legend_entries": _legend_facts(legend)["entries"] if legend is not None else [],
        "labelled_series": len(labelled),
        "series_facts": series[:MAX_SERIES],
        "texts": [t.get_text()[:80] for t in ax.texts if t.get_text().strip()][:MAX_TEXTS],
        "xticklabels": _tick_texts(xticks),
        "yticklabels": _tick_texts(yticks),
        "overlapping_xticks": _overlapping(xticks, renderer, "x"),
        "overlapping_yticks": _overlapping(yticks, renderer, "y"),
        "cut_ticks": _cut(xticks + yticks, renderer, frame),
        "outside_figure": bool(
            position.x0 < -0.01 or position.y0 < -0.01 or position.x1 > 1.01 or position.y1 > 1.01
        ),
        "points_outside_limits": _points_outside(ax, [*lines, *collections]),
        "y_values": _value_summary(ax, lines, bars, collections),
    }


def _line_facts(line: Any) -> dict[str, Any]:
    xy = _finite_xy(line.get_xydata())
    return {
        "kind": "line",
        "label": str(line.get_label()),
        "colors": [_hex(line.get_color())],
        "linestyle": str(line.get_linestyle()),
        "marker": str(line.get_marker()),
        "linewidth": float(line.get_linewidth()),
        "alpha": _alpha(line.get_alpha()),
        "zorder": float(line.get_zorder()),
        "n": len(xy),
        **_x_shape([x for x, _ in xy]),
    }


def _bars_facts(container: Any) -> dict[str, Any]:
    patches = list(container)
    colors = [_hex(p.get_facecolor()) for p in patches]
    return {
        "kind": "bars",
        "label": str(container.get_label()),
        "colors": _distinct(colors),
        "bar_colors": colors[:MAX_SERIES],
        "linestyle": "-",
        "marker": "",
        "linewidth": float(patches[0].get_linewidth()) if patches else 0.0,
        "alpha": _alpha(patches[0].get_alpha()) if patches else 1.0,
        "zorder": float(patches[0].get_zorder()) if patches else 0.0,
        "n": len(patches),
        "hatch": str(patches[0].get_hatch() or "") if patches else "",
        # where each bar stands: bars of two series at the same places hide one another
        "anchors": [_anchor(p, container) for p in patches[:MAX_SERIES]],
    }


def _anchor(patch: Any, container: Any) -> list[float]:
    """A bar's base corner and its extent across the category axis, rounded."""
    x, y = float(patch.get_x()), float(patch.get_y())
    across = (
        patch.get_height()
        if getattr(container, "orientation", "") == "horizontal"
        else (patch.get_width())
    )
    return [round(x, 6), round(y, 6), round(float(across), 6)]


def _collection_facts(collection: Any) -> dict[str, Any]:
    colors: list[str] = []
    try:
        if collection.get_array() is None:  # a colormapped collection has no single colour
            colors = _distinct([_hex(c) for c in collection.get_facecolors()])
            if not colors:
                colors = _distinct([_hex(c) for c in collection.get_edgecolors()])
        else:
            colors = ["colormap"]
    except Exception:  # noqa: BLE001 - an odd collection is described by what it has
        colors = []
    try:
        n = len(collection.get_offsets())
    except Exception:  # noqa: BLE001
        n = 0
    widths = list(getattr(collection, "get_linewidths", lambda: [1.0])()) or [1.0]
    return {
        "kind": "collection",
        "label": str(collection.get_label()),
        "colors": colors[:8],
        "linestyle": "-",
        "marker": type(collection).__name__,
        "linewidth": float(widths[0]),
        "alpha": _alpha(collection.get_alpha()),
        "zorder": float(collection.get_zorder()),
        "n": n,
    }


def _legend_facts(legend: Any) -> dict[str, Any]:
    if legend is None:
        return {"entries": []}
    return {"entries": [t.get_text() for t in legend.get_texts()][:MAX_SERIES]}


def _x_shape(xs: list[float]) -> dict[str, Any]:
    """How the x values run: steps back, and jumps back across most of the x range (several
    groups' data joined into one line jumps back once per group)."""
    if len(xs) < 3:
        return {"x_backward_steps": 0, "x_restarts": 0, "x_repeats": 0}
    span = max(xs) - min(xs)
    steps = [b - a for a, b in zip(xs, xs[1:], strict=False)]
    backward = sum(1 for s in steps if s < 0)
    # the last step is left out: a closed outline (a radar chart) jumps back to its start once
    restarts = sum(1 for s in steps[:-1] if span > 0 and s < -0.5 * span)
    repeats = sum(1 for s in steps if s == 0)  # sorted groups joined: a zigzag at each x
    return {"x_backward_steps": backward, "x_restarts": restarts, "x_repeats": repeats}


def _finite_xy(xy: Any) -> list[tuple[float, float]]:
    out = []
    for row in xy:
        try:
            x, y = float(row[0]), float(row[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            out.append((x, y))
    return out


def _value_summary(ax: Any, lines: list[Any], bars: list[Any], collections: list[Any]) -> dict:
    """Positive-range facts of the y values drawn (for a log-worthy range on a linear axis)."""
    values: list[float] = []
    for line in lines:
        values += [y for _, y in _finite_xy(line.get_xydata())]
    for container in bars:
        values += [float(p.get_height()) for p in container]
    for collection in collections:
        try:
            values += [float(y) for _, y in collection.get_offsets() if math.isfinite(float(y))]
        except Exception:  # noqa: BLE001
            continue
    values = [v for v in values if math.isfinite(v)][:100_000]
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "median": ordered[len(ordered) // 2],
        "min_positive": next((v for v in ordered if v > 0), None),
    }


def _points_outside(ax: Any, artists: list[Any]) -> list[int]:
    """[points outside the view limits, points] over lines and scatter collections."""
    x0, x1 = sorted(ax.get_xlim())
    y0, y1 = sorted(ax.get_ylim())
    outside = total = 0
    for artist in artists:
        try:
            points = artist.get_xydata() if hasattr(artist, "get_xydata") else artist.get_offsets()
            for x, y in _finite_xy(points)[:20_000]:
                total += 1
                slack_x, slack_y = 1e-9 * (x1 - x0), 1e-9 * (y1 - y0)
                if not (x0 - slack_x <= x <= x1 + slack_x and y0 - slack_y <= y <= y1 + slack_y):
                    outside += 1
        except Exception:  # noqa: BLE001 - a transform-less artist is not counted
            continue
    return [outside, total]


def _shown_ticks(axis: Any, coordinate: int) -> list[Any]:
    """The tick labels drawn: those of ticks inside the view (Matplotlib keeps labels for
    ticks just outside it, which are never drawn)."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * (high - low)
    shown = []
    for label in axis.get_ticklabels():
        try:
            where = float(label.get_position()[coordinate])
        except (TypeError, ValueError):
            continue
        if (
            label.get_visible()
            and label.get_text().strip()
            and low - slack <= where <= high + slack
        ):
            shown.append(label)
    return shown


def _tick_texts(labels: list[Any]) -> list[str]:
    return [t.get_text() for t in labels if t.get_visible() and t.get_text().strip()][:60]


def _overlapping(labels: list[Any], renderer: Any, axis: str) -> int:
    """How many neighbouring visible tick labels overlap on screen."""
    boxes = [
        label.get_window_extent(renderer)
        for label in labels
        if label.get_visible() and label.get_text().strip()
    ]
    boxes.sort(key=lambda box: box.x0 if axis == "x" else box.y0)
    return sum(1 for a, b in zip(boxes, boxes[1:], strict=False) if a.overlaps(b))


def _cut(labels: list[Any], renderer: Any, frame: Any) -> int:
    return sum(
        1
        for label in labels
        if label.get_visible()
        and label.get_text().strip()
        and _beyond(label.get_window_extent(renderer), frame)
    )


def _beyond(box: Any, frame: Any) -> bool:
    return (
        box.x0 < frame.x0 - EDGE_PX
        or box.y0 < frame.y0 - EDGE_PX
        or box.x1 > frame.x1 + EDGE_PX
        or box.y1 > frame.y1 + EDGE_PX
    )


def _overflowing_texts(fig: Any, renderer: Any, frame: Any) -> list[str]:
    """Titles, labels, legend and annotation texts that reach past the figure's edge (tick
    labels are counted per axes)."""
    from matplotlib.text import Text

    ticks = {id(t) for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()}
    found = []
    for text in fig.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        try:
            if _beyond(text.get_window_extent(renderer), frame):
                found.append(text.get_text()[:60])
        except Exception:  # noqa: BLE001 - a text that cannot be measured is not judged
            continue
    return found[:MAX_TEXTS]


def _hex(color: Any) -> str:
    from matplotlib.colors import to_hex

    try:
        return to_hex(color, keep_alpha=False)
    except (ValueError, TypeError):
        return str(color)[:20]


def _alpha(value: Any) -> float:
    return 1.0 if value is None else float(value)


def _distinct(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _is_colorbar(ax: Any) -> bool:
    return hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>"


def _collection_has_data(collection: Any) -> bool:
    try:
        offsets = collection.get_offsets()
        if offsets is not None and len(offsets) > 0:
            return True
        return len(collection.get_paths()) > 0
    except Exception:  # noqa: BLE001
        return False
