"""The pass matrix view (Bokeh): candidates x tests, rows grouped by consensus set, labels marked.

A consensus set is the candidates that pass exactly the same tests. Groups are ordered by the
ranking (best first) when a ``GenerateResult`` is given, else by size; the user's labels show as
a row of marks above the test columns (green = the test is right, red = it is wrong).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import UsageError, require
from ..generator._passmatrix import PassMatrix

if TYPE_CHECKING:
    from ..generator._engine import GenerateResult

OUTCOME_COLOURS = {
    "passed": "#2da44e",
    "failed": "#cf222e",
    "error": "#bc4c00",
    "timeout": "#8250df",
    "crashed": "#57606a",
}
LABEL_COLOURS = {True: "#1a7f37", False: "#cf222e"}
LABEL_ROW = ("labels", "your labels")  # (group, row) on the heatmap's nested y axis
_SHORT = 36  # characters of a test shown on its axis tick


@dataclass(frozen=True)
class MatrixRow:
    """One candidate row of the heatmap, in display order."""

    index: int  # row of the pass matrix
    name: str
    consensus: int  # 1 = the first consensus set shown
    group: int | None  # the ranking's group (1 = leader), None when out of play or unranked
    score: float | None
    ranked: bool = False  # a ranking was given: a row without a group is out of play

    @property
    def factor(self) -> tuple[str, str]:
        """(its group, its name): the heatmap's y axis shows each group once, beside its rows."""
        if self.group is not None:
            return (f"#{self.group}", self.name)
        return ("out of play" if self.ranked else f"set {self.consensus}", self.name)


def _short(text: str) -> str:
    text = " ".join(text.split()).removeprefix("assert ")  # every column is an assert
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def column_name(matrix: PassMatrix, j: int) -> str:
    """The x-axis name of test ``j``: its number and the start of its text."""
    return f"{j}: {_short(matrix.tests[j])}"


def legend_html() -> str:
    """What the heatmap's colours mean."""
    items = [
        (c, f"test {o}" if o != "passed" else "test passed") for o, c in OUTCOME_COLOURS.items()
    ]
    items += [
        (LABEL_COLOURS[True], "you said: test right"),
        (LABEL_COLOURS[False], "you said: test wrong"),
    ]
    spans = "".join(
        f"<span style='margin-right:12px;white-space:nowrap'><span style='display:inline-block;"
        f"width:10px;height:10px;background:{c};border-radius:2px;margin-right:4px'></span>"
        f"{html.escape(t)}</span>"
        for c, t in items
    )
    return f"<div class='wb-matrix-legend' style='font-size:12px;color:#57606a'>{spans}</div>"


def matrix_rows(
    matrix: PassMatrix, result: GenerateResult | None = None
) -> tuple[list[MatrixRow], dict[int, bool]]:
    """The rows in display order and the labels by test column."""
    passed = matrix.passed
    if result is not None:
        names = [c.id for c in result.candidates]
        groups = [c.group for c in result.candidates]
        scores = [c.score for c in result.candidates]
        labels = dict(result.labeller.labels)
    else:
        names = [f"code {i}" for i in range(passed.shape[0])]
        groups, scores, labels = [None] * len(names), [None] * len(names), {}
    patterns: dict[bytes, list[int]] = {}
    for i in range(passed.shape[0]):
        patterns.setdefault(passed[i].tobytes(), []).append(i)

    def order(members: list[int]) -> tuple[float, float, int]:
        ranked = [groups[i] for i in members if groups[i] is not None]
        best_group = min(ranked) if ranked else math.inf  # out of play: last
        size = float(matrix.code_counts[members].sum())
        return (best_group, -size, members[0])

    rows = []
    for consensus, members in enumerate(sorted(patterns.values(), key=order), 1):
        for i in members:
            rows.append(MatrixRow(i, names[i], consensus, groups[i], scores[i], result is not None))
    return rows, labels


def matrix_figure(
    result_or_matrix: GenerateResult | PassMatrix,
    labels: Mapping[int | str, bool] | None = None,
    *,
    width: int = 900,
) -> Any:
    """A Bokeh heatmap of a ``GenerateResult`` (or a bare ``PassMatrix``): one row per candidate,
    one column per test, coloured by outcome; ``labels`` (test number or source -> right?) adds
    to the result's own labels."""
    plotting = require("bokeh.plotting", "ui", "the pass matrix view")
    from bokeh.models import ColumnDataSource, FactorRange, HoverTool

    if isinstance(result_or_matrix, PassMatrix):
        matrix, result = result_or_matrix, None
    elif isinstance(getattr(result_or_matrix, "matrix", None), PassMatrix):
        matrix, result = result_or_matrix.matrix, result_or_matrix
    else:
        raise UsageError("matrix_figure takes a generate result or a PassMatrix")
    rows, marks = matrix_rows(matrix, result)
    for test, correct in (labels or {}).items():
        marks[matrix.test_index(test)] = bool(correct)

    columns = [column_name(matrix, j) for j in range(len(matrix.tests))]
    cells: dict[str, list[Any]] = {
        k: []
        for k in (
            "test",
            "row",
            "colour",
            "outcome",
            "source",
            "candidate",
            "group",
            "score",
            "returned",
        )
    }
    for row in rows:
        group = f"#{row.group}" if row.group is not None else "out of play"
        score = f"{row.score:.4g}" if row.score is not None else "-"
        for j, column in enumerate(columns):
            outcome = str(matrix.outcomes[row.index, j])
            returned = matrix.returned[row.index, j]
            cells["test"].append(column)
            cells["row"].append(row.factor)
            cells["colour"].append(OUTCOME_COLOURS.get(outcome, "#afb8c1"))
            cells["outcome"].append(outcome)
            cells["source"].append(matrix.tests[j])
            cells["candidate"].append(f"{row.name} (consensus set {row.consensus})")
            cells["group"].append(group)
            cells["score"].append(score)
            cells["returned"].append(returned if returned is not None else "-")
    mark_data: dict[str, list[Any]] = {"test": [], "row": [], "colour": [], "verdict": []}
    mark_data["source"] = []
    for j, correct in sorted(marks.items()):
        mark_data["test"].append(columns[j])
        mark_data["row"].append(LABEL_ROW)
        mark_data["colour"].append(LABEL_COLOURS[correct])
        mark_data["verdict"].append("right" if correct else "wrong")
        mark_data["source"].append(matrix.tests[j])

    y_factors = [r.factor for r in rows][::-1] + [LABEL_ROW]  # first row on top, labels above
    height = 230 + 22 * len(y_factors)  # room for the slanted test names below
    figure = plotting.figure(
        x_range=columns,
        y_range=FactorRange(*y_factors, group_padding=0.6),
        width=width,
        height=height,
        title="Which candidate passes which generated test (rows: candidates, by ranking group)",
        x_axis_label="generated tests (hover for the test)",
        toolbar_location=None,
    )
    heat = figure.rect(
        x="test",
        y="row",
        width=0.95,
        height=0.9,
        fill_color="colour",
        line_color=None,
        source=ColumnDataSource(cells),
    )
    figure.add_tools(
        HoverTool(
            renderers=[heat],
            tooltips=[
                ("test", "@source"),
                ("candidate", "@candidate"),
                ("group", "@group (score @score)"),
                ("outcome", "@outcome"),
                ("returned", "@returned"),
            ],
        )
    )
    labelled = figure.rect(
        x="test",
        y="row",
        width=0.6,
        height=0.6,
        fill_color="colour",
        line_color="colour",
        source=ColumnDataSource(mark_data),
    )
    figure.add_tools(
        HoverTool(renderers=[labelled], tooltips=[("you said", "@verdict"), ("test", "@source")])
    )
    # steep enough that neighbouring names do not overlap; room on the left for the first
    figure.xaxis.major_label_orientation = math.pi / 3
    figure.min_border_left = 140
    figure.grid.grid_line_color = None
    figure.axis.axis_line_color = None
    return figure


def figure_iframe_html(figure: Any, *, title: str = "plot", css_class: str = "wb-plot") -> str:
    """A self-contained page (BokehJS inline) in an iframe: needs no front-end extension and no
    network, in JupyterLab, Notebook 7 and VS Code alike."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    page = html.escape(file_html(figure, INLINE, title), quote=True)
    height = (getattr(figure, "height", None) or 400) + 30
    return (
        f'<iframe class="{css_class}" srcdoc="{page}" '
        f'style="width:100%;height:{height}px;border:0"></iframe>'
    )


def matrix_iframe_html(result_or_matrix: GenerateResult | PassMatrix, **options: Any) -> str:
    """The pass matrix heatmap as an iframe, for ``ipywidgets.HTML`` or ``IPython.display``."""
    figure = matrix_figure(result_or_matrix, **options)
    page = figure_iframe_html(figure, title="pass matrix", css_class="wb-matrix-plot")
    return legend_html() + page
