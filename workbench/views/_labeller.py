"""The test labeller (ConAIR-style): asks about the test that best separates the leading
candidate groups, with Right / Wrong / Skip buttons; each answer is saved to the session at
once, and the ranking table and the pass matrix heatmap are redrawn.

``LabellingModel`` holds what the labeller asks and shows, as HTML, with no UI library: the
ipywidgets ``LabellingView`` and the Panel dashboard both draw it."""

from __future__ import annotations

import copy
import html
from typing import TYPE_CHECKING, Any

from .._errors import UsageError, require
from ._html import KEEP_IN_NOTEBOOK, recorded_html
from ._matrix_plot import matrix_iframe_html

if TYPE_CHECKING:
    from ..generator._engine import GenerateResult, LabelQuestion

_CELL = "text-align:left;padding:2px 10px 2px 0;vertical-align:top"


class LabellingModel:
    """The labeller's state and actions for a ``GenerateResult``: the question to ask (skipped
    tests left out), answering it (saved at once, re-ranked), and the HTML the views show."""

    def __init__(self, result: GenerateResult, *, leading: int = 5) -> None:
        if not hasattr(result, "next_test_to_label") or not hasattr(result, "label"):
            raise UsageError("labeller takes the result of generate(...) or %%generate")
        self.result = result
        self.leading = leading
        self.skipped: set[int] = set()
        self.question: LabelQuestion | None = None
        self.message = ""  # what the last action did, as HTML
        self.refresh()

    # -- actions -----------------------------------------------------------------------
    def next_question(self) -> LabelQuestion | None:
        """The best test to ask that was neither labelled nor skipped, or None when done."""
        question = self.result.next_test_to_label()
        if question is None or question.test not in self.skipped:
            return question
        # the engine's Labeller cannot exclude tests: ask a copy that takes the skipped ones
        # for labelled (its ranking is shared and not recomputed, so the order stays the same)
        from ..generator._engine import LabelQuestion

        shadow = copy.copy(self.result.labeller)
        shadow.labels = {**shadow.labels, **dict.fromkeys(self.skipped, True)}
        chosen = shadow.next_test_to_label()
        return LabelQuestion(chosen, self.result.candidates) if chosen is not None else None

    def refresh(self) -> None:
        """Choose the question to ask now."""
        self.question = self.next_question()

    def answer(self, correct: bool) -> None:
        """Label the current test right (True) or wrong (False): saved at once, re-ranked."""
        if self.question is None:
            return
        test = self.question.test
        self.result.label(test, correct)
        self._say(f"saved: test {test} is {'right' if correct else 'wrong'}")
        self.refresh()

    def skip(self) -> None:
        """Move on without a label."""
        if self.question is None:
            return
        self.skipped.add(self.question.test)
        self._say(f"skipped test {self.question.test}")
        self.refresh()

    def accept(self, *, bind: bool = True) -> None:
        """Bind the leading candidate (in the result's namespace) and record it; ``bind=False``
        only records it (the standalone dashboard runs no candidate code)."""
        try:
            chosen = self.result.accept(bind=bind, new_cell=False)  # a click adds no cell
        except UsageError as exc:
            self._say(f"cannot accept: {html.escape(str(exc))}", error=True)
            return
        if bind:
            self._say(
                f"accepted {chosen.id}: <code>{html.escape(self.result.entry)}</code> is bound."
                f" {KEEP_IN_NOTEBOOK}"
            )
        else:
            self._say(recorded_html(chosen.id, self.result.run_id))
        self.refresh()

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#cf222e" if error else "#1a7f37"
        self.message = f"<div style='color:{colour}'>{text}</div>"

    # -- what the views show -------------------------------------------------------------
    @property
    def asking(self) -> bool:
        return self.question is not None

    def intro_html(self) -> str:
        return (
            f"<h3 style='margin:4px 0'>Label tests for <code>{html.escape(self.result.entry)}"
            "</code></h3><div style='color:#57606a'>The candidates disagree on some generated "
            "tests. Say whether the test below is <b>right</b> (matches your spec) or "
            "<b>wrong</b>: candidates that contradict your answer drop in the ranking. Every "
            "answer is saved at once.</div>"
        )

    def prompt_html(self) -> str:
        """The question, or why there is none left."""
        if self.question is not None:
            return self.question_html(self.question)
        reason = self.result.stop_reason or "no test left to ask"
        if self.skipped and self.result.next_test_to_label() is not None:
            reason = "every remaining question was skipped"
        return (
            f"<div class='wb-done'><b>done: {html.escape(reason)}</b>. Press <b>Accept</b> "
            "to take the leading candidate.</div>"
        )

    def question_html(self, question: LabelQuestion) -> str:
        """The test and what each leading group returns for it, and whether that passes."""
        q, e = question.question, html.escape
        rows = []
        for a in q.answers:
            first = self.result.candidates[a.codes[0]]
            verdict = (
                "<b style='color:#1a7f37'>passes</b>"
                if a.passes == 1
                else "<b style='color:#cf222e'>fails</b>"
                if a.passes == 0
                else f"{a.passes:.0%} pass"
            )
            returned = e(a.returned) if a.returned is not None else "-"
            cells = [
                f"#{a.rank}",
                f"{len(a.codes)} ({a.weight:.0%} of the samples)",
                f"<code>{e(first.preview(self.result.entry))}</code>",
                f"<code>{returned}</code>",
                verdict,
            ]
            rows.append("<tr>" + "".join(f"<td style='{_CELL}'>{c}</td>" for c in cells) + "</tr>")
        head = "".join(
            f"<th style='{_CELL}'>{h}</th>"
            for h in ("group", "codes", "its code, in short", "returns", "so the test")
        )
        call = f" for <code>{e(q.call)}</code>" if q.call else ""
        return (
            f"<div class='wb-question-box'><p style='margin:6px 0'><b>Is this test right?</b> "
            f"<small style='color:#57606a'>(question {q.asked + 1} of at most {q.budget})"
            f"</small></p><pre style='margin:0;padding:6px;background:#f6f8fa;"
            f"border:1px solid #d0d7de;border-radius:6px'>{e(q.source)}</pre>"
            f"<p style='margin:6px 0'>What the leading candidate groups return{call}:</p>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table></div>"
        )

    def ranking_html(self) -> str:
        """The leading groups: rank, score, size, tests passed and a one-line preview."""
        counted = len(self.result.tests) - sum(not v for v in self.result.labeller.labels.values())
        rows = []
        for rank, group in enumerate(self.result.leading(self.leading), 1):
            first = group[0]
            score = f"{first.score:.4g}" if first.score is not None else "-"
            ids = first.id + (f" +{len(group) - 1}" if len(group) > 1 else "")
            cells = [
                f"#{rank}",
                score,
                str(len(group)),
                str(sum(c.samples for c in group)),
                f"{first.passes}/{counted}",
                html.escape(ids),
                f"<code>{html.escape(first.preview(self.result.entry))}</code>",
            ]
            rows.append("<tr>" + "".join(f"<td style='{_CELL}'>{c}</td>" for c in cells) + "</tr>")
        head = "".join(
            f"<th style='{_CELL}'>{h}</th>"
            for h in ("group", "score", "codes", "samples", "tests passed", "candidates", "preview")
        )
        accepted = (
            f"<p>accepted: <b>{html.escape(self.result.accepted)}</b></p>"
            if self.result.accepted
            else ""
        )
        return (
            "<h4 style='margin:8px 0 2px 0'>Ranking (best first)</h4>"
            f"<table class='wb-ranking-table'><tr>{head}</tr>{''.join(rows)}</table>{accepted}"
        )


class LabellingView:
    """Test labeller for a ``GenerateResult`` (ipywidgets); display ``.widget`` (or the object
    itself). The state and the HTML are ``self.model``'s (a ``LabellingModel``)."""

    def __init__(self, result: GenerateResult, *, plot: bool = True, leading: int = 5) -> None:
        widgets = require("ipywidgets", "ui", "the test labeller")
        self.model = LabellingModel(result, leading=leading)
        self.result = result
        self.plot = plot

        self._question = widgets.HTML()
        self._question.add_class("wb-question")
        self.right = self._button(widgets, "Right", "check", "success", "the test is right")
        self.wrong = self._button(widgets, "Wrong", "times", "danger", "the test is wrong")
        self.skip = self._button(widgets, "Skip", "forward", "", "not sure: ask another test")
        self.accept_button = self._button(
            widgets, "Accept", "check-circle", "primary", "bind the leading candidate"
        )
        self.right.on_click(lambda _b: self.answer(True))
        self.wrong.on_click(lambda _b: self.answer(False))
        self.skip.on_click(lambda _b: self.skip_question())
        self.accept_button.on_click(lambda _b: self.accept())
        self._ranking = widgets.HTML()
        self._ranking.add_class("wb-ranking")
        self._matrix = widgets.HTML()
        self._matrix.add_class("wb-matrix")
        self._message = widgets.HTML()
        self._message.add_class("wb-message")
        header = widgets.HTML(self.model.intro_html())
        buttons = widgets.HBox([self.right, self.wrong, self.skip, self.accept_button])
        self.widget = widgets.VBox(
            [header, self._question, buttons, self._message, self._ranking, self._matrix]
        )
        self.widget.add_class("wb-labeller")
        self.refresh()

    @staticmethod
    def _button(widgets: Any, text: str, icon: str, style: str, tooltip: str) -> Any:
        button = widgets.Button(description=text, icon=icon, button_style=style, tooltip=tooltip)
        button.add_class(f"wb-{text.lower()}")
        return button

    @property
    def question(self) -> LabelQuestion | None:
        return self.model.question

    @property
    def skipped(self) -> set[int]:
        return self.model.skipped

    def next_question(self) -> LabelQuestion | None:
        return self.model.next_question()

    def answer(self, correct: bool) -> None:
        """Label the current test right (True) or wrong (False): saved at once, re-ranked."""
        self.model.answer(correct)
        self._draw()

    def skip_question(self) -> None:
        """Move on without a label."""
        self.model.skip()
        self._draw()

    def accept(self) -> None:
        self.model.accept()
        self._draw()

    def refresh(self) -> None:
        """Ask the next question and redraw the ranking and the heatmap."""
        self.model.refresh()
        self._draw()

    def _draw(self) -> None:
        for button in (self.right, self.wrong, self.skip):
            button.disabled = not self.model.asking
        self.accept_button.disabled = self.result.best is None
        self._question.value = self.model.prompt_html()
        self._message.value = self.model.message
        self._ranking.value = self.model.ranking_html()
        if self.plot:
            self._matrix.value = matrix_iframe_html(self.result)

    def question_html(self, question: LabelQuestion) -> str:
        return self.model.question_html(question)

    def ranking_html(self) -> str:
        return self.model.ranking_html()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def labeller(generate_result: GenerateResult, *, plot: bool = True) -> Any:
    """The labeller widget for a ``generate`` result (an ``ipywidgets.VBox``)."""
    return LabellingView(generate_result, plot=plot).widget
