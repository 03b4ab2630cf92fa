"""The ``%%visualize`` view (ipywidgets): the K paths side by side, each with its reading of
the request, its figure checks and its code, the aggregated plot, Accept buttons, and a hint
box that asks the model to change a plot (``VisualizeResult.accept`` / ``.refine``)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .._errors import LLMError, UsageError, require
from ._html import KEEP_IN_NOTEBOOK

if TYPE_CHECKING:
    from ..visualizer._engine import PlotAttempt, VisualizeResult


class VisualizeView:
    """Image grid for a ``VisualizeResult``; display ``.widget`` (or the object itself)."""

    def __init__(self, result: VisualizeResult) -> None:
        widgets = require("ipywidgets", "ui", "the visualize view")
        if not hasattr(result, "paths") or not hasattr(result, "refine"):
            raise UsageError("visualize_view takes the result of visualize(...) or %%visualize")
        self.result = result
        self.accepted: str | None = None
        self._grid = widgets.HBox(
            layout=widgets.Layout(flex_flow="row wrap", align_items="stretch")
        )
        self._grid.add_class("wb-visualize-grid")
        self._final = widgets.VBox()
        self._final.add_class("wb-visualize-final")
        self._message = widgets.HTML()
        self._message.add_class("wb-message")
        self._hint = widgets.Text(
            placeholder="what to change, e.g. 'log scale, larger font'",
            layout=widgets.Layout(width="50%"),
        )
        self._hint.add_class("wb-hint")
        self._which = widgets.Dropdown(layout=widgets.Layout(width="170px"))
        self._refine = widgets.Button(
            description="Refine",
            icon="refresh",
            tooltip="ask the model to change the chosen plot the way your hint says",
        )
        self._refine.add_class("wb-refine")
        self._refine.on_click(lambda _b: self.refine(self._hint.value, self._which.value))
        header = widgets.HTML(
            f"<h3 style='margin:4px 0'>Plots for: <i>{html.escape(result.request)}</i></h3>"
            "<div style='color:#57606a'>The model read your request in "
            f"{len(result.paths)} different ways (one per column), wrote a script for each and"
            " drew it; ✔ means the figure checks passed (it ran, has labels, its series can be"
            " told apart, and it shows what the request asks for). The"
            " aggregated plot below combines them. <b>Accept</b> runs a script in your"
            " notebook.</div>"
        )
        refine_row = widgets.HBox([self._hint, widgets.Label("change"), self._which, self._refine])
        self.widget = widgets.VBox(
            [
                header,
                self._grid,
                self._final,
                widgets.HTML("<h4 style='margin:10px 0 2px 0'>Ask for changes</h4>"),
                refine_row,
                self._message,
            ]
        )
        self.widget.add_class("wb-visualize")
        self._draw()

    def _cell(self, attempt: PlotAttempt, title: str, which: int | str, width: str) -> Any:
        widgets = require("ipywidgets", "ui", "the visualize view")
        from ..visualizer._engine import _attempt_html

        picture = widgets.HTML(_attempt_html(attempt, title, width="100%"))
        accept = widgets.Button(
            description=f"Accept {title.lower()}",
            icon="check",
            button_style="success",
            disabled=attempt.code is None or not attempt.facts.executed,
            tooltip="run this script in your notebook"
            if attempt.facts.executed
            else "this script failed: refine it (below) or accept another",
        )
        accept.add_class("wb-accept")
        accept.add_class(f"wb-accept-{which}")
        accept.on_click(lambda _b: self.accept(which))
        box = widgets.VBox([picture, accept], layout=widgets.Layout(width=width, margin="0 6px"))
        box.add_class("wb-plot")
        return box

    def _draw(self) -> None:
        result = self.result
        width = f"{max(24, 96 // max(1, len(result.paths)))}%"
        self._grid.children = [
            self._cell(p, f"Path {i}", i, width) for i, p in enumerate(result.paths)
        ]
        widgets = require("ipywidgets", "ui", "the visualize view")
        if result.final is not None:
            hint = result.final.hint
            label = (
                f"Refined plot <small style='color:#57606a'>(you asked: {html.escape(hint)})</small>"
                if hint
                else "Aggregated plot <small style='color:#57606a'>(combines the paths)</small>"
            )
            self._final.children = [
                widgets.HTML(f"<h4 style='margin:10px 0 2px 0'>{label}</h4>"),
                self._cell(result.final, "Final", "final", "60%"),
            ]
        else:
            self._final.children = []
        options = [(f"path {i}", i) for i in range(len(result.paths))]
        if result.final is not None:
            options.insert(0, ("the final plot", "final"))
        value = self._which.value if self._which.value in dict(options).values() else None
        self._which.options = options
        self._which.value = value if value is not None else (options[0][1] if options else None)

    def accept(self, which: int | str | None = None) -> str | None:
        """Accept a path (int) or ``"final"``: ``result.accept(which)``; returns the code."""
        try:
            code = self.result.accept(which, new_cell=False)  # a click cannot add a cell
        except Exception as exc:  # a usage error, or the script failing in the notebook
            self._message.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
            return None
        self.accepted = "final" if which in (None, "final") else f"path {which}"
        self._message.value = (
            f"<span style='color:#1a7f37'>accepted {self.accepted}: its script has run in your"
            f" notebook (its code is under <i>code</i> above). {KEEP_IN_NOTEBOOK}</span>"
        )
        return code

    def refine(self, hint: str, which: int | str | None = "final") -> bool:
        """Ask the model to change a plot: ``result.refine(hint, which)``; the refined plot
        becomes the final one."""
        self._refine.disabled = True
        self._message.value = "<span style='color:#57606a'>asking the model...</span>"
        try:
            self.result = self.result.refine(hint, which)
        except (UsageError, LLMError) as exc:
            self._message.value = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
            return False
        finally:
            self._refine.disabled = False
        self._draw()
        if self.result.final is not None:
            self._which.value = "final"
        final = self.result.final
        state = "its checks pass" if final is not None and final.passed else "see its checks"
        self._message.value = (
            f"<span style='color:#1a7f37'>refined: the final plot is redrawn below ({state})</span>"
        )
        return True

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def visualize_view(result: VisualizeResult) -> VisualizeView:
    """The image-grid view of a ``visualize`` result (what ``%%visualize`` shows in JupyterLab)."""
    return VisualizeView(result)
