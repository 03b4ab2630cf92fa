"""The test labeller and the pass matrix view, driven by clicking their buttons (no browser)."""

from __future__ import annotations

import html

import pytest
from test_generate import LOWER_ONLY, RIGHT, TRUTH, _tests, run, tag

from workbench._settings import get_settings
from workbench.optimizer._results import candidate_id
from workbench.store._sessions import SessionStore
from workbench.views import LabellingView, labeller, matrix_figure, matrix_iframe_html
from workbench.views._matrix_plot import LABEL_COLOURS, LABEL_ROW, column_name

pytest.importorskip("ipywidgets")
pytest.importorskip("bokeh")

# five ways to forget upper case against two right ones: the wrong reading is the popular one
TESTS = [
    _tests("assert count_vowels('hello') == 2", "assert count_vowels('Apple') == 1"),
    _tests("assert count_vowels('AEIOU') == 0", "assert count_vowels('') == 0"),
    _tests("assert count_vowels('Umbrella') == 2", "assert count_vowels('rhythm') == 0"),
    _tests("assert count_vowels('Apple') == 2"),
]


@pytest.fixture
def result():
    made = run([*RIGHT[:2], *LOWER_ONLY], TESTS, label_budget=3)
    made.namespace = {}
    return made


def click_truth(view: LabellingView) -> list[str]:
    """A user who knows the truth clicks Right or Wrong until the labeller is done."""
    asked = []
    while view.question is not None:
        source = view.question.source
        asked.append(source)
        (view.right if TRUTH[source] else view.wrong).click()
    return asked


def test_a_click_saves_the_label_to_the_session_at_once(result):
    view = LabellingView(result, plot=False)
    question = view.question
    assert question is not None
    assert html.escape(question.source) in view._question.value  # the test is shown ...
    shown = [html.escape(a.returned) for a in question.question.answers if a.returned]
    assert shown and all(r in view._question.value for r in shown)  # ... and what groups return
    (view.right if TRUTH[question.source] else view.wrong).click()
    stored = SessionStore(get_settings().home).run(result.run_id)["labels"]
    assert stored == {question.source: TRUTH[question.source]}
    assert "saved" in view._message.value


def test_labelling_a_popular_wrong_reading_wrong_flips_the_ranking(result):
    view = LabellingView(result, plot=False)
    assert tag(result.best).startswith("wrong")
    leader_before = view.ranking_html().split("<tr>")[2]
    assert "#1" in leader_before and result.best.id in leader_before
    asked = click_truth(view)
    assert 1 <= len(asked) <= 3
    assert tag(result.best).startswith("right")
    assert result.best.id in view.ranking_html().split("<tr>")[2]
    assert "done: " in view._question.value
    assert view.right.disabled and view.wrong.disabled and view.skip.disabled
    view.accept_button.click()
    assert result.accepted == result.best.id
    assert callable(result.namespace["count_vowels"])
    assert result.namespace["count_vowels"]("Apple") == 2
    assert SessionStore(get_settings().home).run(result.run_id)["accepted"] == result.best.id


def test_skip_asks_another_test_without_labelling(result):
    view = LabellingView(result, plot=False)
    first = view.question
    assert first is not None
    view.skip.click()
    assert result.labels == {}
    assert view.question is None or view.question.test != first.test
    seen = {first.test}
    while view.question is not None:  # skipping everything ends the questions
        assert view.question.test not in seen
        seen.add(view.question.test)
        view.skip.click()
    assert "done: " in view._question.value and result.labels == {}


def test_the_heatmap_has_one_row_per_candidate_and_marks_the_labelled_test(result):
    question = result.next_test_to_label()
    result.label(question.test, False)
    figure = matrix_figure(result)
    heat, marks = (r.data_source.data for r in figure.renderers)
    assert {name for _group, name in heat["row"]} == {c.id for c in result.candidates}
    assert len(heat["row"]) == len(result.candidates) * len(result.tests)
    assert list(figure.y_range.factors)[-1] == LABEL_ROW  # the label marks sit on top
    assert marks["test"] == [column_name(result.matrix, question.test)]
    assert question.source.removeprefix("assert ") in marks["test"][0]  # named by its test
    assert marks["colour"] == [LABEL_COLOURS[False]] and marks["verdict"] == ["wrong"]
    # the rows of one consensus set (same pass row) are next to each other
    factors = list(figure.y_range.factors)[:-1][::-1]
    rows = [name for _group, name in factors]
    ids = [c.id for c in result.candidates]
    # each row sits under its ranking group on the axis, the leading group on top
    assert factors[0][0] == "#1" and result[factors[0][1]].group == 1
    for group, name in factors:
        ranked = result[name].group
        assert group == (f"#{ranked}" if ranked else "out of play")
    patterns = [result.matrix.passed[ids.index(r)].tobytes() for r in rows]
    changes = sum(a != b for a, b in zip(patterns, patterns[1:]))
    assert changes == len(set(patterns)) - 1
    # hovering a cell names the test and the candidate's group and score
    assert question.source in heat["source"]
    assert {"group", "score", "outcome"} <= set(heat)


def test_the_widget_embeds_the_heatmap_and_redraws_it_after_a_label(result):
    widget = labeller(result)
    view_matrix = next(c for c in widget.children if "wb-matrix" in c._dom_classes)
    before = view_matrix.value
    assert "wb-matrix-plot" in before and "srcdoc" in before
    buttons = {b.description: b for c in widget.children for b in getattr(c, "children", [])}
    assert set(buttons) == {"Right", "Wrong", "Skip", "Accept"}
    buttons["Wrong"].click()
    assert view_matrix.value != before
    assert "wb-matrix-plot" in matrix_iframe_html(result.matrix)


@pytest.mark.slow  # end to end, seconds each: CI runs it in its slow step
@pytest.mark.ui
def test_labelling_in_jupyterlab_saves_labels_and_accepts_the_right_group(browser, tmp_path):
    from pathlib import Path

    from _ui import dismiss_news, jupyterlab, open_notebook, screenshot, wait_for

    home = tmp_path / "nb" / ".workbench"
    cells = [
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        f"from workbench._settings import configure\nconfigure(home={str(home)!r})\n"
        "from test_generate import LOWER_ONLY, RIGHT, run\n"
        f"result = run([*RIGHT[:2], *LOWER_ONLY], {TESTS!r}, label_budget=3)\n"
        "result.namespace = globals()",
        "from workbench.views import labeller\nlabeller(result)",
    ]
    with jupyterlab(tmp_path, "labels.ipynb", cells) as url:
        page = open_notebook(browser, url, {"width": 1400, "height": 1300})
        wait_for(page, ".wb-labeller .wb-question pre", name="labeller")
        page.frame_locator(".wb-matrix-plot").locator("canvas").first.wait_for(
            state="attached", timeout=30_000
        )
        dismiss_news(page)
        screenshot(page, "5-labeller-question")
        answered = {}
        while not page.locator(".wb-done").count():
            source = page.locator(".wb-question pre").inner_text().strip()
            answered[source] = TRUTH[source]
            page.click("button.wb-right" if TRUTH[source] else "button.wb-wrong")
            page.wait_for_selector(".wb-message:has-text('saved'), .wb-done", timeout=30_000)
            page.wait_for_function(
                "s => !document.querySelector('.wb-question pre')"
                " || document.querySelector('.wb-question pre').innerText.trim() !== s",
                arg=source,
                timeout=30_000,
            )
            assert len(answered) <= 3
        (summary,) = SessionStore(home).runs()
        assert SessionStore(home).run(summary["id"])["labels"] == answered
        page.click("button.wb-accept")
        page.wait_for_selector(".wb-message:has-text('accepted')", timeout=30_000)
        page.wait_for_timeout(500)
        page.locator(".wb-labeller").scroll_into_view_if_needed()
        screenshot(page, "6-labeller-done")
        record = SessionStore(home).run(summary["id"])
        codes = {candidate_id(c["code"]): c["code"] for c in record["candidates"]}
        assert "# right-" in codes[record["accepted"]]
        page.close()
