"""The candidate explorer (ipywidgets): a coloured tree of candidates, one candidate's code,
diff, reason and timings, the timing plot, and an Accept button that binds the choice."""

from __future__ import annotations

import html
from collections.abc import MutableMapping
from typing import Any

from .._errors import UsageError, require
from .._results import OptimizeResult
from ._html import code_html, detail_html, diff_html, legend_html
from ._model import CandidateNode, build_model


class Explorer:
    """Candidate explorer for an ``OptimizeResult``; display it (last expression of a cell)."""

    def __init__(
        self,
        result: OptimizeResult,
        *,
        namespace: MutableMapping[str, Any] | None = None,
        plot: bool = True,
    ) -> None:
        widgets = require("ipywidgets", "ui", "the candidate explorer")
        self.result = result
        self.namespace = namespace
        self.model = build_model(result)
        self.selected: CandidateNode | None = None
        self._buttons: dict[str, Any] = {}

        tree_items: list[Any] = []
        for group in self.model.paths:
            tree_items.append(widgets.HTML(f"<b>path: {group.name}</b>"))
            for node in group.walk():
                button = widgets.Button(
                    tooltip=node.reason or node.status_text,
                    layout=widgets.Layout(
                        width="auto", margin=f"1px 0 1px {12 + 24 * node.depth}px"
                    ),
                    style={"button_color": node.colour, "text_color": "white"},
                )
                button.add_class("wb-candidate")
                button.add_class(f"wb-candidate-{node.id}")
                button.on_click(lambda _b, node_id=node.id: self.select(node_id))
                self._buttons[node.id] = button
                tree_items.append(button)
        if not self._buttons:
            tree_items.append(widgets.HTML("<i>no candidates were run</i>"))
        self._refresh_labels()

        self._detail = widgets.HTML()
        self._view = widgets.ToggleButtons(
            options=[("Diff", "diff"), ("Full code", "code")],
            value="diff",
            tooltips=["changes against the parent (or the reference)", "the candidate's code"],
        )
        self._view.style.button_width = "90px"
        self._view.observe(lambda _change: self._show_code(), names="value")
        self._code = widgets.HTML()
        self._accept = widgets.Button(
            description="Accept",
            icon="check",
            button_style="success",
            tooltip="bind this candidate under its name in your notebook and record the choice",
        )
        self._accept.add_class("wb-accept")
        self._accept.on_click(lambda _b: self.accept())
        self._message = widgets.HTML()
        self._message.add_class("wb-message")

        n = len(self.model.nodes())
        passed = sum(1 for node in self.model.nodes() if node.status == "passed")
        header = widgets.HTML(
            f"<h3 style='margin:4px 0'>Candidates for <code>{self.model.entry}</code>"
            f" &nbsp;<small style='color:#57606a'>{n} run, {passed} passed"
            f"{', session ' + self.model.run_id if self.model.run_id else ''}</small></h3>"
            "<div style='color:#57606a'>Click a candidate to see its code, what changed and"
            " why it passed or failed; <b>Accept</b> puts it into your notebook.</div>"
            + legend_html()
        )
        tree = widgets.VBox(tree_items, layout=widgets.Layout(width="38%", min_width="260px"))
        detail = widgets.VBox(
            [self._detail, self._view, self._code, widgets.HBox([self._accept, self._message])],
            layout=widgets.Layout(width="62%", padding="0 0 0 12px"),
        )
        parts = [header, widgets.HBox([tree, detail])]
        if plot and any(node.timing for node in self.model.nodes()):
            parts.append(self._plot_widget())
        self.widget = widgets.VBox(parts)
        self.widget.add_class("wb-explorer")
        first = (
            self.model.accepted
            or (result.best.id if result.best else None)
            or next(iter(self._buttons), None)
        )
        if first:
            self.select(first)

    def _plot_widget(self) -> Any:
        widgets = require("ipywidgets", "ui", "the candidate explorer")
        from ._timing_plot import timing_figure

        figure = timing_figure(self.model)
        # a self-contained page (BokehJS inline) in an iframe: needs no front-end extension
        # and no network, in JupyterLab, Notebook 7 and VS Code alike
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        page = html.escape(file_html(figure, INLINE, "timings"), quote=True)
        height = figure.children[0].height + 30
        plot = widgets.HTML(
            f'<iframe class="wb-timing-plot" srcdoc="{page}" '
            f'style="width:100%;height:{height}px;border:0"></iframe>'
        )
        box = widgets.VBox([widgets.HTML("<h4 style='margin:8px 0 0 0'>Timings</h4>"), plot])
        box.add_class("wb-timings")
        return box

    def _refresh_labels(self) -> None:
        for node in self.model.nodes():
            mark = "★ " if node.id == self.model.accepted else ""
            chosen = "▶ " if self.selected is not None and node.id == self.selected.id else ""
            self._buttons[node.id].description = f"{chosen}{mark}{node.label}: {node.status_text}"

    def _show_code(self) -> None:
        node = self.selected
        if node is None:
            return
        if self._view.value == "diff":
            against = "the reference" if node.diff_against == "reference" else node.diff_against
            self._code.value = (
                f"<div style='color:#57606a'>changes against {against}:</div>"
                + diff_html(node.diff)
            )
        else:
            self._code.value = code_html(node.code)

    def select(self, candidate_id: str) -> CandidateNode:
        """Show one candidate (what clicking it in the tree does)."""
        self.selected = self.model.node(candidate_id)
        self._detail.value = detail_html(self.selected, self.model)
        self._show_code()
        passed = self.selected.status == "passed"
        self._accept.disabled = not passed
        self._accept.tooltip = (
            "bind this candidate under its name in your notebook and record the choice"
            if passed
            else "only a candidate that passed verification can be accepted"
        )
        self._message.value = ""
        self._refresh_labels()
        return self.selected

    def accept(self) -> str | None:
        """Accept the selected candidate: ``result.accept(...)``; returns its id, or None with
        the reason shown beside the button."""
        node = self.selected
        if node is None:
            return None
        try:
            self.result.accept(node.id, namespace=self.namespace)
        except UsageError as exc:
            self._message.value = f"<span style='color:#cf222e'>{exc}</span>"
            return None
        self.model.accepted = node.id
        for other in self.model.nodes():
            other.accepted = other.id == node.id
        self._detail.value = detail_html(node, self.model)
        self._refresh_labels()
        self._message.value = (
            f"<span style='color:#1a7f37'>accepted {node.id}: <code>{self.model.entry}</code>"
            " in your notebook is now this version</span>"
        )
        return node.id

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def explorer(
    result: OptimizeResult, *, namespace: MutableMapping[str, Any] | None = None
) -> Explorer:
    """The candidate explorer for ``result`` (e.g. ``explorer(_)`` after ``%%optimize``)."""
    if not isinstance(result, OptimizeResult):
        raise UsageError(
            "explorer() takes the result of %%optimize or workbench.optimize(...): "
            "run explorer(_) right after the %%optimize cell, or workbench.load_result(run_id)"
        )
    return Explorer(result, namespace=namespace)
