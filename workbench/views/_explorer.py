"""The candidate explorer (ipywidgets): a coloured tree of candidates, one candidate's code,
diff, reason and timings, the timing plot, and an Accept button that binds the choice."""

from __future__ import annotations

import html
import threading
import weakref
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from .._errors import LLMError, UsageError, require
from ..optimizer._results import OptimizeResult
from ._exchanges import candidate_exchanges
from ._html import (
    KEEP_IN_NOTEBOOK,
    code_html,
    detail_html,
    diff_html,
    exchange_html,
    legend_html,
)
from ._model import CandidateNode, build_model

if TYPE_CHECKING:
    from ._progress import Progress


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
        self._exchanges = candidate_exchanges(result)
        self.selected: CandidateNode | None = None
        self._buttons: dict[str, Any] = {}

        self._tree = widgets.VBox(layout=widgets.Layout(width="38%", min_width="260px"))
        self._build_tree()

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

        self._header = widgets.HTML()
        self._header_html()
        header = self._header
        self._exchange = widgets.HTML()
        self._exchange.add_class("wb-exchange")
        self._hint = widgets.Text(
            placeholder="your hint for the model, e.g. 'use np.cumsum' (optional)",
            layout=widgets.Layout(width="60%"),
        )
        self._hint.add_class("wb-hint")
        self._refine = widgets.Button(
            description="Refine",
            icon="refresh",
            tooltip="ask the model for a better version of this candidate, with your hint;"
            " the new candidates appear under it in the tree",
        )
        self._refine.add_class("wb-refine")
        self._refine.on_click(lambda _b: self._refine_in_background())
        refine_row = widgets.HBox([self._hint, self._refine])
        self._progress_slot = widgets.VBox()  # a refinement's progress while it runs
        detail = widgets.VBox(
            [
                self._detail,
                self._exchange,
                self._view,
                self._code,
                widgets.HBox([self._accept, self._message]),
                widgets.HTML(
                    "<div style='color:#57606a;margin-top:6px'>Not good enough? Tell the model"
                    " what to try and press <b>Refine</b>: it writes a new version of the"
                    " selected candidate, which is checked and timed like the others.</div>"
                ),
                refine_row,
                self._progress_slot,
            ],
            layout=widgets.Layout(width="62%", padding="0 0 0 12px"),
        )
        self._plot = plot
        self._plot_shown = False
        self._plot_slot = widgets.VBox()
        self._draw_plot()
        self._search_slot = widgets.VBox()
        self._search_slot.add_class("wb-search-slot")
        self.search: Any = None  # the search view, once a candidate has a parent
        self._draw_search()
        self.widget = widgets.VBox(
            [header, widgets.HBox([self._tree, detail]), self._search_slot, self._plot_slot]
        )
        self.widget.add_class("wb-explorer")
        first = (
            self.model.accepted
            or (result.best.id if result.best else None)
            or next(iter(self._buttons), None)
        )
        if first:
            self.select(first)
        this = weakref.ref(self)  # the result must not keep a closed view alive
        result.watch(lambda: (view := this()) is not None and view._show_accepted())

    def _show_accepted(self) -> None:
        """Mark the result's accepted candidate: after Accept here, or ``res.accept()`` in code."""
        chosen = self.result.accepted
        if chosen is None:
            return
        self.model.accepted = chosen
        for node in self.model.nodes():
            node.accepted = node.id == chosen
        if self.selected is not None:
            self._detail.value = detail_html(self.selected, self.model)
        self._refresh_labels()
        self._message.value = (
            f"<span style='color:#1a7f37'>accepted {chosen}: <code>{self.model.entry}</code>"
            f" in your notebook is now this version. {KEEP_IN_NOTEBOOK}</span>"
        )

    def _build_tree(self) -> None:
        widgets = require("ipywidgets", "ui", "the candidate explorer")
        items: list[Any] = []
        self._buttons = {}
        for group in self.model.paths:
            items.append(widgets.HTML(f"<b>{html.escape(group.title)}</b>"))
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
                items.append(button)
        if not self._buttons:
            items.append(widgets.HTML("<i>no candidates were run</i>"))
        self._tree.children = items
        self._refresh_labels()

    def _header_html(self) -> None:
        n = len(self.model.nodes())
        passed = sum(1 for node in self.model.nodes() if node.status == "passed")
        self._header.value = (
            f"<h3 style='margin:4px 0'>Candidates for <code>{self.model.entry}</code>"
            f" &nbsp;<small style='color:#57606a'>{n} run, {passed} passed"
            f"{', session ' + self.model.run_id if self.model.run_id else ''}</small></h3>"
            "<div style='color:#57606a'>Click a candidate to see its code, what changed and"
            " why it passed or failed; <b>Accept</b> puts it into your notebook.</div>"
            + legend_html()
        )

    def _draw_search(self) -> None:
        """The search view (candidates by round and speedup, lineage) where there is a tree;
        a click on a candidate there selects it here."""
        from ._search_view import search_nodes, search_view

        if not any(c.parent for c in self.result.candidates):
            return
        if self.search is None:
            self.search = search_view(self.result)
            self.search.observe(self._search_clicked, names="selected")
            self._search_slot.children = [self.search]
        else:
            self.search.nodes = search_nodes(self.result)
        if self.selected is not None:
            self.search.selected = self.selected.id

    def _search_clicked(self, change: dict[str, Any]) -> None:
        chosen = change["new"]
        if chosen and (self.selected is None or self.selected.id != chosen):
            self.select(chosen)

    def _draw_plot(self, show: bool = False) -> None:
        if not self._plot or not any(node.timing for node in self.model.nodes()):
            return
        if show or self._plot_shown:
            self._plot_shown = True
            self._plot_slot.children = [self._plot_widget()]
            return
        # drawn on request: the plot page carries BokehJS (megabytes) into the notebook
        widgets = require("ipywidgets", "ui", "the candidate explorer")
        button = widgets.Button(
            description="Show the timing plot",
            icon="bar-chart",
            tooltip="every timed call of the reference and the candidates, and the speedups",
            layout=widgets.Layout(width="auto", margin="8px 0 0 0"),
        )
        button.add_class("wb-show-timings")
        button.on_click(lambda _b: self._draw_plot(show=True))
        self._plot_slot.children = [button]

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
        self._exchange.value = exchange_html(self._exchanges.get(candidate_id))
        self._show_code()
        if self.search is not None:
            self.search.selected = candidate_id
        passed = self.selected.status == "passed"
        self._accept.disabled = not passed
        self._accept.tooltip = (
            "bind this candidate under its name in your notebook and record the choice"
            if passed
            else "only a candidate that passed verification can be accepted"
        )
        self._message.value = (
            ""
            if passed
            else "<span style='color:#57606a'>it did not pass, so it cannot be accepted:"
            " refine it below, or pick a green one</span>"
        )
        self._refresh_labels()
        return self.selected

    def accept(self) -> str | None:
        """Accept the selected candidate: ``result.accept(...)``; returns its id, or None with
        the reason shown beside the button."""
        node = self.selected
        if node is None:
            return None
        try:
            # a click cannot add a cell: its offer would land after whatever cell runs next
            self.result.accept(node.id, namespace=self.namespace, new_cell=False)
        except UsageError as exc:
            self._message.value = f"<span style='color:#cf222e'>{exc}</span>"
            return None
        return node.id

    def refine(self, hint: str = "", progress: Progress | None = None) -> list[str]:
        """One more LLM round on the selected candidate with ``hint``:
        ``result.refine(hint, candidate=...)``; returns the new candidates' ids, which join
        the tree under the selected one. ``progress`` (a ``Progress``) shows it and stops it."""
        node = self.selected
        if node is None:
            return []
        before = {c.id for c in self.result.candidates}
        self._refine.disabled = True
        self._message.value = (
            f"<span style='color:#57606a'>asking the model to refine {node.id}"
            " and checking its answer...</span>"
        )
        try:
            self.result.refine(
                hint.strip() or None,
                candidate=node.id,
                progress=progress,
                stop=progress.stop if progress is not None else None,
            )
        except (UsageError, LLMError) as exc:
            self._message.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
            return []
        finally:
            self._refine.disabled = False
        new = [c.id for c in self.result.candidates if c.id not in before]
        accepted = self.model.accepted
        self.model = build_model(self.result)
        self.model.accepted = accepted
        self._exchanges = candidate_exchanges(self.result)
        self._build_tree()
        self._header_html()
        self._draw_plot()
        self._draw_search()
        if not new:
            stopped = progress is not None and progress.stop.is_set()
            self._message.value = (
                "<span style='color:#9a6700'>"
                + (
                    "stopped: no new candidate"
                    if stopped
                    else "the model's answer repeated a candidate already here: try another hint"
                )
                + "</span>"
            )
            return []
        self.select(new[0])
        child = self.model.node(new[0])
        self._message.value = (
            f"<span style='color:#1a7f37'>new candidate {child.id} under {node.id}:"
            f" {html.escape(child.status_text)}</span>"
        )
        return new

    def _refine_in_background(self) -> threading.Thread:
        """The Refine button: refine in a thread with a progress view (phase, the model's
        text as it streams, Stop), so the kernel stays free and Stop reaches it."""
        from ._progress import Progress

        node = self.selected
        progress = Progress(title=f"refining {node.id}" if node else "refining")
        self._progress_slot.children = [progress.widget]
        self._refine.disabled = True

        def work() -> None:
            error = None
            try:
                self.refine(self._hint.value, progress=progress)
            except Exception as exc:  # shown beside the button; the kernel log has the rest
                error = str(exc) or type(exc).__name__
                self._message.value = f"<span style='color:#cf222e'>{html.escape(error)}</span>"
                progress.kernel_log(f"workbench: refine failed: {error}")
            finally:
                self._refine.disabled = False
            progress.finish(error=error)
            if error is None and not progress.stop.is_set():
                self._progress_slot.children = []  # the tree and the message say what came

        thread = threading.Thread(target=work, daemon=True, name="workbench-refine")
        thread.start()
        return thread

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


def explorer_view(result: OptimizeResult) -> Explorer:
    """The explorer a displayed result shows as (binds into the result's own namespace)."""
    return Explorer(result, namespace=result.namespace)
