"""Judging a figure from its facts: what a reader would reject at a glance, and whether it shows
what the request asked for.

The worker measures (``workbench.sandbox._plot_facts``); this module judges, in the kernel, on
plain values only. Two kinds of judgement:

- findings: faults of the figure itself (a line whose x jumps back to the start, series in the
  same colour and style, a legend that names fewer series than are drawn, tick labels that
  overlap or are cut, a range that wants a log axis, empty or clipped subplots, text past the
  figure's edge), each one short sentence;
- expectations: what the request asks of the figure ("one series per value of `region`", "one
  series stands out", "x in order", "the title mentions revenue"), read from the request's
  words and proposed by the model, kept only when the request or the data's schema backs them,
  and checked against the figure's artists and the data's schema.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass, field
from typing import Any

MAX_GROUPS = 30  # a column with more distinct values is not a grouping column
MIN_POINTS_FOR_RESTART = 6
LOG_RANGE = 1e3  # max/min of positive values beyond which a linear axis squashes most of them


# -- the data's schema -------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "number", "time", "category", "bool"
    distinct: int
    values: tuple[str, ...] = ()  # the distinct values, as text, when few


@dataclass(frozen=True)
class Schema:
    """Column names, kinds and (for grouping columns) their distinct values."""

    columns: tuple[Column, ...] = ()

    def column(self, name: str) -> Column | None:
        wanted = _norm(name)
        for col in self.columns:
            if _norm(col.name) in (wanted, wanted.rstrip("s"), wanted + "s"):
                return col
        return None

    def describe(self) -> str:
        parts = []
        for col in self.columns:
            if col.kind == "category" and col.values:
                shown = ", ".join(col.values[:8]) + (", ..." if len(col.values) > 8 else "")
                parts.append(f"{col.name} ({col.distinct} values: {shown})")
            else:
                parts.append(f"{col.name} ({col.kind})")
        return "; ".join(parts)

    @classmethod
    def of(cls, data: Any) -> Schema:
        """The schema of a DataFrame, a dict of columns or of DataFrames; empty otherwise."""
        frames = _frames(data)
        return cls(tuple(col for frame in frames for col in _columns(frame)))


def _frames(data: Any) -> list[Any]:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with the visualize extra
        return []
    if isinstance(data, pd.DataFrame):
        return [data]
    if isinstance(data, pd.Series):
        return [data.to_frame(name=data.name if data.name is not None else "value")]
    if isinstance(data, dict):
        if data and all(isinstance(v, pd.DataFrame) for v in data.values()):
            return list(data.values())
        try:
            return [pd.DataFrame({k: v for k, v in data.items() if _is_column(v)})]
        except (ValueError, TypeError):
            return []
    return []


def _is_column(value: Any) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, (str, bytes, dict))


def _columns(frame: Any) -> list[Column]:
    import pandas as pd

    out = []
    for name in frame.columns:
        series = frame[name]
        try:
            distinct = int(series.nunique(dropna=True))
        except TypeError:  # unhashable cells
            continue
        if pd.api.types.is_bool_dtype(series):
            kind = "bool"
        elif pd.api.types.is_datetime64_any_dtype(series):
            kind = "time"
        elif pd.api.types.is_numeric_dtype(series):
            kind = "number"
        elif _looks_like_time(series):
            kind = "time"
        else:
            kind = "category"
        values: tuple[str, ...] = ()
        if kind == "category" and distinct <= MAX_GROUPS:
            values = tuple(str(v) for v in pd.unique(series.dropna()))
        out.append(Column(str(name), kind, distinct, values))
    return out


def _looks_like_time(series: Any) -> bool:
    import pandas as pd

    sample = series.dropna().astype(str).head(20)
    if sample.empty or not sample.str.contains(r"\d").all():
        return False
    try:
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        return False
    return bool(parsed.notna().all())


# -- findings on the figure --------------------------------------------------------------------
def figure_findings(facts: Any) -> list[str]:
    """What a reader would find wrong with the figure, one short sentence each."""
    if facts.error is not None:
        return [f"the script failed: {facts.error.splitlines()[-1]}"]
    if facts.n_figures == 0 or not facts.axes:
        return ["the script drew no figure"]
    found: list[str] = []
    many = len(facts.axes) > 1
    if not facts.suptitle and not any(a.get("title") for a in facts.axes):
        found.append("the figure has no title")
    figure_entries = [e for lg in facts.figure_legends for e in lg.get("entries", [])]
    for a in facts.axes:
        where = f"subplot {a['index'] + 1}" if many else "the plot"
        if a.get("empty"):
            found.append(f"{where} is empty: nothing was drawn on it")
            continue
        found += [f"{where} {text}" for text in _axes_findings(a, figure_entries)]
    if facts.overflowing_texts:
        shown = ", ".join(repr(t) for t in facts.overflowing_texts[:3])
        found.append(f"text reaches past the figure's edge and is cut: {shown}")
    return found


_ERROR_HINTS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"'numpy\.ndarray' object has no attribute '(\w+)'"),
        "plt.subplots(rows, cols) with several subplots returns an array of Axes: call {0}() "
        "on one of them (axes[0, 1].{0}(...), or loop: for ax in axes.flat: ax.{0}(...))",
    ),
    (
        re.compile(
            r"(?:Figure|Line2D|Axes|Text)\.set\(\) got an unexpected keyword argument "
            r"'projection'"
        ),
        "projection belongs to the subplot: fig.add_subplot(projection='3d') or "
        "plt.subplots(subplot_kw={{'projection': '3d'}})",
    ),
    *[
        (
            re.compile(rf"'{axis.upper()}Axis' object has no attribute '(\w+)'"),
            f"ax.{axis}axis has no method {{0}}: call it on the Axes, e.g. "
            f"ax.tick_params(axis='{axis}', ...) or ax.set_{axis}ticks(...)",
        )
        for axis in "xy"
    ],
    (
        re.compile(r"'Axes' object has no attribute '(\w+)'"),
        "Axes has no method {0}: it may belong to the figure or pyplot (fig.{0}(...), "
        "plt.{0}(...))",
    ),
    (
        re.compile(r"got an unexpected keyword argument '(\w+)'"),
        "that call takes no argument {0}: remove it or use the call's own parameter",
    ),
    (
        re.compile(r"'NoneType' object has no attribute '(\w+)'"),
        "a variable the script uses is None: make or load the value before calling .{0} on it",
    ),
    (
        re.compile(r"name '(\w+)' is not defined"),
        "define {0} before it is used, or import it",
    ),
]


def error_hints(error: str) -> list[str]:
    """What usually fixes an error small models make often: the first matching hint."""
    for pattern, hint in _ERROR_HINTS:
        found = pattern.search(error)
        if found:
            return [hint.format(*found.groups())]
    return []


def _axes_findings(a: dict[str, Any], figure_entries: list[str]) -> list[str]:
    found = []
    series = _series(a)
    axis_on = a.get("axis_on", True)
    polar = a.get("projection", "rectilinear") == "polar"
    if a.get("outside_figure"):
        found.append("reaches outside the figure: part of it is cut off")
    outside, total = (a.get("points_outside_limits") or [0, 0])[:2]
    if total >= 10 and outside / total > 0.25:
        found.append(
            f"hides {outside / total:.0%} of its points outside the axis limits: widen them"
        )
    if axis_on and not a.get("pie") and not polar:
        if not a.get("xlabel"):
            found.append("has no x-axis label")
        if not a.get("ylabel"):
            found.append("has no y-axis label")
    if a.get("series", 0) > 1 and not a.get("legend") and not a.get("pie"):
        found.append(f"draws {a['series']} series but has no legend")
    if not polar:
        for s in series:
            restarts = s.get("x_restarts", 0)
            if s["kind"] == "line" and restarts and s.get("n", 0) >= MIN_POINTS_FOR_RESTART:
                found.append(
                    f"draws one line whose x jumps back to the start {restarts} time(s): "
                    "several groups are joined into one line; draw one line per group"
                )
                break
            repeats, n = s.get("x_repeats", 0), s.get("n", 0)
            if s["kind"] == "line" and n >= MIN_POINTS_FOR_RESTART and repeats >= n / 3:
                found.append(
                    f"draws one line that goes up and down at the same x {repeats} time(s): "
                    "several groups are joined into one line; draw one line per group"
                )
                break
    hidden = _bars_over_bars(series)
    if hidden >= 2:
        found.append(
            f"draws {hidden} bar series over each other at the same places: the ones behind "
            "are hidden; stack them (bottom=...) or put them side by side"
        )
    same = _indistinguishable(series)
    if same >= 2 and not _emphasised(series):
        found.append(
            f"draws {same} series in the same colour and style: a reader cannot tell them apart"
        )
    entries = a.get("legend_entries") or []
    if a.get("legend") and (entries or figure_entries):
        found += _legend_findings(entries or figure_entries, series)
    if a.get("overlapping_xticks"):
        found.append(
            f"has {a['overlapping_xticks']} overlapping x tick label pair(s): rotate them or show fewer"
        )
    if a.get("overlapping_yticks"):
        found.append(f"has {a['overlapping_yticks']} overlapping y tick label pair(s): show fewer")
    if a.get("cut_ticks"):
        found.append(f"has {a['cut_ticks']} tick label(s) cut off at the figure's edge")
    values = a.get("y_values") or {}
    if a.get("yscale") == "linear" and values.get("min", 0) > 0 and values.get("n", 0) >= 5:
        low, high, median = values["min"], values["max"], values["median"]
        if high / low >= LOG_RANGE and median <= high / 100:
            found.append(
                f"spans {high / low:.0e} from smallest to largest y on a linear axis: most values "
                "are squashed near zero; use a log scale"
            )
    return found


def _legend_findings(entries: list[str], series: list[dict[str, Any]]) -> list[str]:
    found = []
    repeated = sorted({e for e in entries if entries.count(e) > 1})
    if repeated:
        found.append(f"has a legend that repeats {', '.join(repr(e) for e in repeated[:3])}")
    drawn = [s for s in series if s["kind"] in ("line", "bars", "collection") and _is_data(s)]
    named = {s["label"] for s in drawn if not s["label"].startswith("_")}
    if len(drawn) > 1 and len(set(entries)) < min(len(drawn), len(named) or len(drawn)):
        found.append(
            f"has a legend that names {len(set(entries))} of the {len(drawn)} series drawn: "
            "label every series"
        )
    return found


def _series(a: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in a.get("series_facts") or [] if isinstance(s, dict) and "kind" in s]


def _is_data(s: dict[str, Any]) -> bool:
    """A series that shows data, not a reference line, error-bar cap or marker."""
    if s["kind"] == "line":
        return s.get("linestyle") not in ("None", "", " ") and s.get("n", 0) > 2
    return s.get("n", 0) > 0


def _style(s: dict[str, Any]) -> tuple[Any, ...]:
    return (
        s["kind"],
        tuple(s.get("colors") or ()),
        s.get("linestyle"),
        s.get("marker"),
        s.get("hatch"),
    )


def _bars_over_bars(series: list[dict[str, Any]]) -> int:
    """How many opaque bar series share most of their places with another one."""
    bars = [
        {tuple(a) for a in s.get("anchors") or []}
        for s in series
        if s["kind"] == "bars" and s.get("alpha", 1.0) >= 0.95 and s.get("anchors")
    ]
    hiding = {
        i
        for i, a in enumerate(bars)
        for j, b in enumerate(bars)
        if i != j and len(a & b) >= max(1, min(len(a), len(b)) / 2)
    }
    return len(hiding)


def _indistinguishable(series: list[dict[str, Any]]) -> int:
    """The size of the largest set of data series drawn alike (0 or 1: none)."""
    counts: dict[tuple[Any, ...], int] = {}
    for s in series:
        if (
            not _is_data(s)
            or "colormap" in (s.get("colors") or [])
            or len(s.get("colors") or []) != 1
        ):
            continue
        counts[_style(s)] = counts.get(_style(s), 0) + 1
    return max(counts.values(), default=0)


def _emphasised(series: list[dict[str, Any]]) -> bool:
    """One data series (or one bar) stands out from the rest by width, opacity or colour."""
    drawn = [s for s in series if _is_data(s)]
    for s in drawn:
        colors = s.get("bar_colors") or []
        if s["kind"] == "bars" and len(colors) >= 3:
            distinct = set(colors)
            if len(distinct) == 2 and min(colors.count(c) for c in distinct) == 1:
                return True
    if len(drawn) < 2:
        return False
    for s in drawn:
        others = [o for o in drawn if o is not s]
        width = s.get("linewidth", 1.0)
        if all(width >= 1.5 * o.get("linewidth", 1.0) for o in others):
            return True
        if all(s.get("alpha", 1.0) - o.get("alpha", 1.0) >= 0.3 for o in others):
            return True
        if _saturated(s) and not any(_saturated(o) for o in others):
            return True
    return False


def _saturated(s: dict[str, Any]) -> bool:
    colors = s.get("colors") or []
    if len(colors) != 1 or not re.fullmatch(r"#[0-9a-fA-F]{6}", colors[0]):
        return False
    r, g, b = (int(colors[0][i : i + 2], 16) / 255 for i in (1, 3, 5))
    _, saturation, value = colorsys.rgb_to_hsv(r, g, b)
    return saturation >= 0.25 and value >= 0.2


# -- expectations from the request -------------------------------------------------------------
KINDS = ("groups", "emphasis", "x_sorted", "title", "chart", "log_y", "subplots")
CHARTS = {
    "line": r"\blines?\b|line chart|line plot|trend",
    # not a colour bar or error bars: "a 3D scatter ... include a color bar" is no bar chart
    "bar": r"(?<!color )(?<!colour )(?<!error )(?<!error-)\bbars?\b|bar chart|barplot|column chart",
    "scatter": r"scatter",
    "pie": r"\bpie\b|donut|doughnut",
    "hist": r"histogram",
    "heatmap": r"heat ?map",
}
_EMPHASIS = r"highlight|emphasi[sz]|stand(s)? out|call out|draw attention"
_GROUPING = (
    r"\b(?:by|per|for each|for every|each|across|between|coloured by|colored by|"
    r"one (?:line|bar|series|colou?r|panel|subplot|plot) (?:per|for each))\s+(?:the\s+)?"
    r"([A-Za-z_][A-Za-z0-9_]*)"
)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


@dataclass(frozen=True)
class Expectation:
    """One checkable thing the figure should show."""

    kind: str
    arg: str = ""
    source: str = "request"  # "request": read from its words; "model": proposed by the model

    def text(self) -> str:
        return {
            "groups": f"one series, bar or subplot per value of `{self.arg}`",
            "emphasis": "one series stands out (highlighted)",
            "x_sorted": "x runs in order (lines go left to right)",
            "title": f"the title mentions {self.arg!r}",
            "chart": f"a {self.arg} chart",
            "log_y": "a log scale on y",
            "subplots": f"{self.arg} subplots",
        }.get(self.kind, f"{self.kind} {self.arg}".strip())


@dataclass
class Expectations:
    """The run's expectations and what was said about the model's proposals."""

    items: list[Expectation] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # model proposals without backing

    def add(self, item: Expectation) -> None:
        if not any(e.kind == item.kind and _norm(e.arg) == _norm(item.arg) for e in self.items):
            if item.kind in ("chart", "subplots") and any(e.kind == item.kind for e in self.items):
                return  # one chart kind, one subplot count: the request's own words win
            self.items.append(item)


def from_request(request: str, schema: Schema) -> Expectations:
    """The expectations the request's own words state."""
    text = request.lower()
    found = Expectations()
    for word in re.findall(_GROUPING, text):
        col = schema.column(word)
        if col is not None and _groupable(col):
            found.add(Expectation("groups", col.name))
    if re.search(_EMPHASIS, text):
        found.add(Expectation("emphasis"))
    if re.search(r"log(arithmic)?[- ]?scale|\blog y\b|logarithmic", text):
        found.add(Expectation("log_y"))
    grid = re.search(r"\b(\w+) rows? and (\w+) columns?\b|\b(\d)\s*[x×]\s*(\d)\b", text)
    if grid:
        rows, cols = (g for g in grid.groups() if g is not None)
        n_rows, n_cols = _number(rows), _number(cols)
        if n_rows and n_cols:
            found.add(Expectation("subplots", str(n_rows * n_cols)))
    title = re.search(r"title[^'\"\n]{0,40}?['\"]([^'\"\n]{3,80})['\"]", request, re.IGNORECASE)
    if title:
        found.add(Expectation("title", title.group(1)))
    for kind, pattern in CHARTS.items():
        if kind != "line" and re.search(pattern, text):
            found.add(Expectation("chart", kind))
            break
    return found


def expectations_messages(request: str, schema: Schema, system: str) -> list[dict[str, str]]:
    """Ask the model for a few checkable expectations, in a fixed small vocabulary."""
    columns = schema.describe() or "no data given: the script makes its own"
    user = (
        f"The plotting request: {request}\nThe data's columns: {columns}\n\n"
        "List what the finished figure must show to satisfy the request, 1 to 5 lines, using "
        "ONLY these forms (COLUMN is a column name, WORD a word of the request):\n"
        "series per COLUMN\nhighlight one\nx sorted\ntitle mentions WORD\n"
        "chart line|bar|scatter|pie|hist|heatmap\nlog y\nsubplots N\n"
        "Answer with the lines only."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_expectations(reply: str, request: str, schema: Schema, into: Expectations) -> None:
    """Add the model's proposals that the request or the schema backs; note the others."""
    text = request.lower()
    for raw in (reply or "").splitlines()[:12]:
        line = re.sub(r"^[\s\-*\d.)]+|[`*]", "", raw).strip().lower()
        if not line or line.startswith(("import ", "#", "python", "fig", "plt.", "ax.")):
            continue  # a small model answers with a script now and then: not proposals
        item, why = _proposal(line, text, schema)
        if item is not None:
            into.add(item)
        elif why and len(into.dropped) < 8:
            into.dropped.append(f"{line[:60]!r}: {why}")


def _proposal(line: str, request: str, schema: Schema) -> tuple[Expectation | None, str]:
    if m := re.match(r"series per (?:value of )?(?:the )?([\w ]+)$", line):
        col = schema.column(m.group(1).strip().replace(" ", "_"))
        if col is None:
            return None, "no such column"
        if not _groupable(col):
            return None, f"`{col.name}` is not a grouping column"
        if not re.search(rf"\b{re.escape(col.name.lower().rstrip('s'))}", request):
            return None, "the request does not name that column"
        return Expectation("groups", col.name, "model"), ""
    if re.match(r"highlight", line):
        backed = re.search(_EMPHASIS + r"|fastest|largest|highest|most|best|top|lowest", request)
        return (Expectation("emphasis", "", "model"), "") if backed else (None, "not asked")
    if re.match(r"x sorted", line):
        timed = any(c.kind == "time" for c in schema.columns) or re.search(
            r"time|trend|month|daily|weekly|year|over the|sorted|order", request
        )
        return (Expectation("x_sorted", "", "model"), "") if timed else (None, "no order asked")
    if m := re.match(r"title mentions (.+)$", line):
        word = m.group(1).strip(" '\".")
        if word and re.search(rf"\b{re.escape(word[:5])}", request):
            return Expectation("title", word, "model"), ""
        return None, "not a word of the request"
    if m := re.match(r"chart (\w+)", line):
        kind = m.group(1)
        if kind in CHARTS and re.search(CHARTS[kind], request):
            return Expectation("chart", kind, "model"), ""
        return None, "the request names no such chart"
    if re.match(r"log y", line):
        backed = re.search(r"\blog|orders of magnitude|exponential", request)
        return (Expectation("log_y", "", "model"), "") if backed else (None, "not asked")
    if m := re.match(r"subplots (\d+)", line):
        if re.search(r"subplot|panel|grid|side by side|rows?|columns?", request):
            return Expectation("subplots", m.group(1), "model"), ""
        return None, "no subplots asked"
    return None, "not one of the forms"


def _groupable(col: Column) -> bool:
    return col.kind in ("category", "bool") and 2 <= col.distinct <= MAX_GROUPS


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() else _NUMBERS.get(word)


def _norm(text: str) -> str:
    return re.sub(r"\s+", "_", str(text).strip().lower())


# -- checking expectations on the figure -------------------------------------------------------
def unmet(expectations: list[Expectation], facts: Any, schema: Schema) -> list[str]:
    """One sentence per expectation the figure does not meet (empty: all met)."""
    if facts.error is not None or not facts.axes:
        return []  # the findings already say the script failed
    out = []
    for item in expectations:
        why = _check(item, facts, schema)
        if why:
            out.append(f"expected {item.text()}: {why}")
    return out


def _check(item: Expectation, facts: Any, schema: Schema) -> str | None:
    axes = [a for a in facts.axes if not a.get("empty")]
    series = [s for a in axes for s in _series(a)]
    if item.kind == "groups":
        return _check_groups(item.arg, facts, axes, schema)
    if item.kind == "emphasis":
        annotated = any(a.get("texts") for a in axes if a.get("series", 0) > 1)
        if any(_emphasised(_series(a)) for a in axes) or annotated:
            return None
        return "no series differs from the rest in colour, width or opacity, and none is annotated"
    if item.kind == "x_sorted":
        back = [
            s for s in series if s["kind"] == "line" and _is_data(s) and s.get("x_backward_steps")
        ]
        if back:
            return f"a line's x goes back {back[0]['x_backward_steps']} time(s)"
        return None
    if item.kind == "title":
        titles = " ".join([facts.suptitle, *(a.get("title", "") for a in facts.axes)]).lower()
        if not titles.strip():
            return "there is no title"
        words = [w for w in re.findall(r"\w+", item.arg.lower()) if len(w) > 2] or [
            item.arg.lower()
        ]
        missing = [w for w in words if w[:5] not in titles]
        return f"the title reads {titles.strip()[:60]!r}" if missing else None
    if item.kind == "chart":
        return None if _has_chart(item.arg, axes, series) else f"no {item.arg} is drawn"
    if item.kind == "log_y":
        scales = {a.get("yscale") for a in axes}
        return None if scales & {"log", "symlog"} else "the y axis is linear"
    if item.kind == "subplots":
        want = int(item.arg)
        return None if len(axes) == want else f"{len(axes)} subplot(s) are drawn"
    return None


def _check_groups(name: str, facts: Any, axes: list[dict[str, Any]], schema: Schema) -> str | None:
    col = schema.column(name)
    if col is None or not col.values:
        return None
    shown = set()
    for a in axes:
        for key in ("legend_entries", "xticklabels", "yticklabels", "texts", "wedge_labels"):
            shown |= {_norm(t) for t in a.get(key) or []}
        shown.add(_norm(a.get("title", "")))
        shown |= {_norm(s["label"]) for s in _series(a) if not s["label"].startswith("_")}
    shown |= {_norm(e) for lg in facts.figure_legends for e in lg.get("entries", [])}
    titles = " ".join(_norm(a.get("title", "")) for a in axes)
    found = [v for v in col.values if _norm(v) in shown or (_norm(v) and _norm(v) in titles)]
    if len(found) == len(col.values):
        return None
    names = ", ".join(col.values[:6]) + (", ..." if len(col.values) > 6 else "")
    return (
        f"the figure names {len(found)} of its {len(col.values)} values ({names}) as series, "
        "bars, subplots or legend entries"
    )


def _has_chart(kind: str, axes: list[dict[str, Any]], series: list[dict[str, Any]]) -> bool:
    if kind == "line":
        return any(s["kind"] == "line" and _is_data(s) for s in series)
    if kind in ("bar", "hist"):
        return any(s["kind"] == "bars" for s in series)
    if kind == "scatter":
        return any(
            s["kind"] == "collection" and s.get("marker") == "PathCollection" for s in series
        )
    if kind == "pie":
        return any(a.get("pie") for a in axes)
    if kind == "heatmap":
        return any(a.get("images") for a in axes) or any(
            s.get("marker") in ("QuadMesh", "PolyQuadMesh") for s in series
        )
    return True


def score(executed: bool, has_code: bool, findings: int, unmet_count: int) -> tuple[int, ...]:
    """Higher is better: it ran, then fewer unmet expectations, then fewer findings."""
    return (int(has_code), int(executed), -unmet_count, -findings)
