"""Views without a browser: the view-model, the explorer's Accept, Progress/Stop, dashboard."""

from __future__ import annotations

import pytest

import workbench
from workbench._results import CandidateResult, OptimizeResult, Reference, Timing
from workbench._session import SessionStore
from workbench._settings import configure, get_settings
from workbench.views import Progress, build_model

SOURCE = """
def total(xs):
    s = 0.0
    for x in xs:
        s += x
    return s
"""
FAST = """
import numpy as np
def total(xs):
    return float(np.sum(xs))
"""
WRONG = """
def total(xs):
    return 0.0
"""


def make(n):
    import numpy as np

    return (np.arange(n, dtype=float),)


@pytest.fixture
def home(tmp_path):
    before = get_settings().home
    configure(home=str(tmp_path / "home"))
    yield tmp_path / "home"
    configure(home=before)


@pytest.fixture
def real_result(home):
    return workbench.optimize(
        SOURCE,
        inputs=make,
        strategies=[],
        candidates=[FAST, WRONG],
        sizes=[10, 1000],
        time_budget=0.1,
        namespace={},
    )


def _synthetic() -> OptimizeResult:
    ref = Reference(Timing.from_times([1.0, 1.1, 0.9, 1.2]))
    fast = CandidateResult(
        "aaaa1111",
        "def f(x):\n    return x * 2\n",
        "numba",
        status="passed",
        timing=Timing.from_times([0.01, 0.011, 0.012]),
        speedup=90.0,
        speedup_low=80.0,
        speedup_high=100.0,
    )
    wrong = CandidateResult(
        "bbbb2222", "def f(x):\n    return x * 3\n", "llm", status="failed", path="vectorize"
    )
    refined = CandidateResult(
        "cccc3333",
        "def f(x):\n    return x + x\n",
        "llm",
        status="passed",
        path="vectorize",
        parent="bbbb2222",
        round=1,
        timing=Timing.from_times([0.5, 0.6, 0.55]),
        speedup=1.9,
        speedup_low=1.5,
        speedup_high=2.2,
    )
    return OptimizeResult("f", "def f(x):\n    return x * 2 + 0\n", ref, [fast, wrong, refined])


def test_model_builds_the_tree_of_paths_and_refinements():
    model = build_model(_synthetic())
    assert [g.name for g in model.paths] == ["numba", "vectorize"]
    (root,) = model.paths[1].roots
    assert root.id == "bbbb2222" and [c.id for c in root.children] == ["cccc3333"]
    refined = model.node("cccc3333")
    assert refined.depth == 1 and refined.diff_against == "bbbb2222"
    assert "-    return x * 3" in refined.diff and "+    return x + x" in refined.diff
    assert model.node("aaaa1111").diff_against == "reference"
    # status and speed are visible in the colour: 90x darker green than 1.9x, failed not green
    colours = {n.id: n.colour for n in model.nodes()}
    assert len(set(colours.values())) == 3
    assert model.node("aaaa1111").status_text == "passed, 90x faster"


def test_model_from_a_saved_session_matches_the_live_result(real_result, home):
    saved = SessionStore(home).run(real_result.run_id)
    live, stored = build_model(real_result), build_model(saved)
    assert [(n.id, n.status, n.diff) for n in live.nodes()] == [
        (n.id, n.status, n.diff) for n in stored.nodes()
    ]
    assert stored.reference is not None and stored.reference.times


def test_explorer_accepts_only_passed_candidates_and_records_it(real_result, home):
    pytest.importorskip("ipywidgets")
    from workbench.views import explorer

    ns: dict = {}
    view = explorer(real_result, namespace=ns)
    wrong = next(c for c in real_result.candidates if c.status == "failed")
    fast = next(c for c in real_result.candidates if c.status == "passed")
    view.select(wrong.id)
    assert view._accept.disabled
    assert view.accept() is None and "did not pass" in view._message.value
    view.select(fast.id)
    assert view.accept() == fast.id
    assert ns["total"](make(100)[0]) == 4950.0
    assert SessionStore(home).run(real_result.run_id)["accepted"] == fast.id
    assert "accepted" in view._message.value


def test_explorer_rejects_what_is_not_a_result():
    pytest.importorskip("ipywidgets")
    from workbench._errors import UsageError
    from workbench.views import explorer

    with pytest.raises(UsageError, match="explorer\\(_\\)"):
        explorer("not a result")


def test_timing_figure_has_a_row_per_timed_candidate_and_hover():
    pytest.importorskip("bokeh")
    from bokeh.models import HoverTool

    from workbench.views import timing_figure

    layout = timing_figure(build_model(_synthetic()))
    times, speed = layout.children
    assert len(times.y_range.factors) == 3  # reference + two timed candidates
    assert any(isinstance(t, HoverTool) for t in speed.tools)


def test_stop_button_skips_the_remaining_candidates(home):
    pytest.importorskip("ipywidgets")
    progress = Progress()

    def on_event(event):
        progress(event)
        if event["kind"] == "done":
            progress._button.click()  # what the user's click does

    result = workbench.optimize(
        SOURCE,
        inputs=make,
        strategies=[],
        candidates=[FAST, WRONG],
        sizes=[10, 100],
        time_budget=0.05,
        namespace={},
        progress=on_event,
        stop=progress.stop,
    )
    assert len(result.candidates) == 1
    assert any("stopped by the user" in n for n in result.notes)
    assert progress.done == 1 and progress._button.disabled


def test_dashboard_lists_runs_and_rejects_a_missing_database(real_result, home, tmp_path):
    pytest.importorskip("panel")
    from workbench.views import dashboard_app, main_dashboard

    app = dashboard_app(home / "sessions.db")
    html = app[0].object
    assert str(home / "sessions.db") in html
    assert real_result.run_id in list(app[1].options.values())
    assert main_dashboard([str(tmp_path / "nothing.db")]) == 2
