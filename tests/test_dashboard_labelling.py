"""Labelling a generate run's tests from the standalone dashboard (Panel objects, no browser)."""

from __future__ import annotations

import html

import pytest
from test_generate import LOWER_ONLY, RIGHT, TRUTH, run, tag
from test_ui_labeller import TESTS

from workbench._settings import get_settings
from workbench.generator._engine import load_generate_result
from workbench.store._sessions import SessionStore

pn = pytest.importorskip("panel")


@pytest.fixture
def db():
    made = run([*RIGHT[:2], *LOWER_ONLY], TESTS, label_budget=3)
    assert tag(made.best).startswith("wrong")  # the popular reading is the wrong one
    return SessionStore(get_settings().home).path, made.run_id


def labelling_panel(app):
    body = app[2]
    (panel,) = body.objects
    return panel


def buttons(panel) -> dict[str, object]:
    return {b.label: b for b in panel.select(pn.widgets.Button)}


def question_source(panel) -> str | None:
    (pane,) = [p for p in panel.select(pn.pane.HTML) if "wb-question" in p.css_classes]
    text = pane.object
    if "<pre" not in text:
        return None
    return html.unescape(text.split("<pre", 1)[1].split(">", 1)[1].split("</pre>")[0])


def test_answering_in_the_dashboard_saves_each_label_and_reranks(db):
    from workbench.views import dashboard_app

    path, run_id = db
    app = dashboard_app(path)
    assert app[1].value == run_id  # the generate run is listed (newest first)
    panel = labelling_panel(app)
    clicks = buttons(panel)
    assert set(clicks) == {"Right", "Wrong", "Skip", "Accept"}
    answered = {}
    while (source := question_source(panel)) is not None:
        answered[source] = TRUTH[source]
        clicks["Right" if TRUTH[source] else "Wrong"].clicks += 1  # what a click does
        # saved at once, before any other action
        assert SessionStore(path).run(run_id)["labels"] == answered
        assert len(answered) <= 3
    assert answered
    text = " ".join(p.object for p in panel.select(pn.pane.HTML))
    assert "done: " in text and "saved: test" in text
    assert all(clicks[name].disabled for name in ("Right", "Wrong", "Skip"))
    # the labels re-ranked the saved run: the right reading leads now
    assert tag(load_generate_result(run_id, str(path)).best).startswith("right")


def test_skip_in_the_dashboard_asks_another_test_and_saves_nothing(db):
    from workbench.views import dashboard_app

    path, run_id = db
    panel = labelling_panel(dashboard_app(path))
    first = question_source(panel)
    buttons(panel)["Skip"].clicks += 1
    assert question_source(panel) != first
    assert SessionStore(path).run(run_id)["labels"] == {}


def test_read_only_shows_the_question_without_buttons(db):
    from workbench.views import dashboard_app

    path, _ = db
    panel = labelling_panel(dashboard_app(path, read_only=True))
    assert question_source(panel) is not None
    assert buttons(panel) == {}
    assert any("read-only" in p.object for p in panel.select(pn.pane.HTML))


def test_accept_in_the_dashboard_records_the_leader_and_wb_load_brings_it_to_the_notebook(
    db, shell
):
    from workbench.views import dashboard_app

    path, run_id = db
    panel = labelling_panel(dashboard_app(path))
    clicks = buttons(panel)
    while (source := question_source(panel)) is not None:
        clicks["Right" if TRUTH[source] else "Wrong"].clicks += 1
    clicks["Accept"].clicks += 1
    leader = load_generate_result(run_id, str(path)).best
    assert tag(leader).startswith("right")
    assert SessionStore(path).run(run_id)["accepted"] == leader.id  # saved at once
    text = " ".join(p.object for p in panel.select(pn.pane.HTML))
    assert f"accepted {leader.id}" in text and f"%wb load {run_id}" in text
    # the dashboard ran no candidate code; the notebook gets it from the session
    shell.run_line_magic("wb", f"load {run_id}")
    offered = shell.rl_next_input
    assert leader.code.strip() in offered and "count_vowels" not in shell.user_ns
