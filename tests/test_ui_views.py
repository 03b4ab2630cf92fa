"""Views without a browser: the view-model, the explorer's Accept, Progress/Stop, dashboard."""

from __future__ import annotations

import pytest

import workbench
from workbench._settings import configure, get_settings
from workbench.optimizer._results import CandidateResult, HotLine, OptimizeResult, Reference, Timing
from workbench.store._sessions import SessionStore
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
    assert [g.title for g in model.paths] == ["numba variants", "path: vectorize"]
    # mechanical variants of one strategy sit together, each named by its variant
    variants = _synthetic()
    variants.candidates[0].strategy = "numba.njit"
    variants.candidates.append(
        CandidateResult("dddd4444", "def f(x):\n    return 2 * x\n", "numba.fastmath")
    )
    (numba,) = [g for g in build_model(variants).paths if g.title == "numba variants"]
    assert [r.strategy for r in numba.roots] == ["numba.njit", "numba.fastmath"]
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


def test_an_explorer_shows_a_candidate_accepted_from_code_in_another_cell(real_result):
    pytest.importorskip("ipywidgets")
    import numpy as np

    from workbench.views import explorer

    view = explorer(real_result, namespace={})
    fast = next(c for c in real_result.candidates if c.status == "passed")
    assert "★" not in view._buttons[fast.id].description
    real_result.accept(fast.id, namespace={"np": np}, new_cell=False)  # res.accept() later on
    assert view._buttons[fast.id].description.startswith(("★", "▶ ★"))
    assert f"accepted {fast.id}" in view._message.value
    # the result is still plain data: its dict leaves the user's namespace (modules) out
    data = real_result.to_dict()
    assert "namespace" not in data and data["accepted"] == fast.id


def test_a_click_on_accept_offers_no_cell_that_would_land_after_the_next_one_run(
    real_result, shell
):
    """A click runs outside any cell: an offered cell would wait for the next cell the user
    runs and appear below it. The buttons bind and record; %wb load brings the code."""
    pytest.importorskip("ipywidgets")
    from workbench.views import explorer

    shell.rl_next_input = None
    view = explorer(real_result, namespace=shell.user_ns)
    fast = next(c for c in real_result.candidates if c.status == "passed")
    view.select(fast.id)
    view._accept.click()
    assert real_result.accepted == fast.id and "total" in shell.user_ns
    assert shell.rl_next_input is None
    assert "%wb load" in view._message.value


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


def test_dashboard_accepts_only_a_passed_candidate_and_records_it_without_running_it(
    real_result, home
):
    pn = pytest.importorskip("panel")
    from workbench.views import dashboard_app

    app = dashboard_app(home / "sessions.db")
    table = next(iter(app.select(pn.widgets.Tabulator)))
    (accept,) = [b for b in app.select(pn.widgets.Button) if b.label == "Accept"]
    ids = list(table.value["candidate"])
    wrong = next(c.id for c in real_result.candidates if c.status == "failed")
    fast = next(c.id for c in real_result.candidates if c.status == "passed")
    table.selection = [ids.index(wrong)]  # what a click on its row does
    assert accept.disabled
    assert any("cannot be accepted" in p.object for p in app.select(pn.pane.HTML))
    table.selection = [ids.index(fast)]
    assert not accept.disabled
    accept.clicks += 1
    assert SessionStore(home).run(real_result.run_id)["accepted"] == fast
    shown = " ".join(p.object for p in app.select(pn.pane.HTML))
    assert f"%wb load {real_result.run_id}" in shown
    assert "★ accepted" in table.value["result"][ids.index(fast)]
    assert accept.disabled  # accepted already
    # read-only: no Accept at all
    (hidden,) = [
        b
        for b in dashboard_app(home / "sessions.db", read_only=True).select(pn.widgets.Button)
        if b.label == "Accept"
    ]
    assert not hidden.visible


# -- results display as their views; the explorer refines; the visualize image grid ----------


def test_results_display_as_widgets_only_in_a_kernel(shell, real_result, monkeypatch):
    pytest.importorskip("ipywidgets")
    from workbench.views._display import WIDGET_MIME

    data, _ = shell.display_formatter.format(real_result)
    assert WIDGET_MIME not in data  # a terminal shell: the table, no widget
    assert "<table" in data["text/html"] and real_result.run_id in data["text/plain"]
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # as in ipykernel
    data, _ = shell.display_formatter.format(real_result)
    assert data[WIDGET_MIME]["model_id"]
    # the table stays beside the widget, for headless runs and front ends without widgets
    assert "<table" in data["text/html"] and real_result.run_id in data["text/plain"]
    assert "<table" in real_result._repr_html_()


class _Refiner:
    """Writes the fixed version of whatever it is asked to refine, with the hint in it."""

    name = "llm"

    def __init__(self):
        self.exchanges = []

    def propose(self, task):
        return []

    def refine(self, task, results, *, round, hint=None):
        from workbench import CandidateSpec

        reply = f"Here you go:\n```python\n{FAST.strip()}\n# {hint}\n```"
        self.exchanges.append(
            {
                "request": {"messages": [{"role": "user", "content": f"What happened: {hint}"}]},
                "completions": [{"text": reply}],
                "model": "scripted-1",
            }
        )
        code = FAST.strip() + f"\n# {hint}\n"
        return [CandidateSpec(code, "llm", parent=results[0].id, round=round)]


def test_explorer_refine_adds_a_child_and_shows_its_exchange(home):
    pytest.importorskip("ipywidgets")
    from workbench.views import Explorer

    result = workbench.optimize(
        SOURCE,
        inputs=make,
        strategies=[_Refiner()],
        candidates=[WRONG],
        sizes=[10, 100],
        time_budget=0.05,
        namespace={},
    )
    view = Explorer(result, namespace={}, plot=False)
    (wrong,) = result.candidates
    view.select(wrong.id)
    assert view._exchange.value == ""  # the user's candidate had no model exchange
    new = view.refine("use np.sum")
    assert len(new) == 1 and view.selected.id == new[0]
    child = view.model.node(new[0])
    assert child.parent == wrong.id and child.depth == 1 and child.status == "passed"
    assert f"wb-candidate-{child.id}" in view._buttons[child.id]._dom_classes
    assert "What happened: use np.sum" in view._exchange.value
    assert "Here you go" in view._exchange.value and "new candidate" in view._message.value
    saved = SessionStore(home).run(result.run_id)["candidates"]
    assert [c["id"] for c in saved] == [wrong.id, child.id]


def test_the_refine_button_runs_in_the_background_with_a_progress_view_and_stop(home):
    pytest.importorskip("ipywidgets")
    from workbench.views import Explorer

    result = workbench.optimize(
        SOURCE,
        inputs=make,
        strategies=[_Refiner()],
        candidates=[WRONG],
        sizes=[10, 100],
        time_budget=0.05,
        namespace={},
    )
    view = Explorer(result, namespace={}, plot=False)
    (wrong,) = result.candidates
    view.select(wrong.id)
    view._hint.value = "use np.sum"
    # the click returns at once: the kernel stays free for Stop and other cells
    thread = view._refine_in_background()
    (progress_box,) = view._progress_slot.children
    assert "refining " + wrong.id in progress_box.children[0].value
    thread.join(60)
    assert not thread.is_alive() and not view._refine.disabled
    assert view._progress_slot.children == ()  # done: the tree and the message say what came
    assert len(result.candidates) == 2 and "new candidate" in view._message.value

    # Stop pressed before the model answers: no new candidate, and the view says it stopped
    view.select(result.candidates[-1].id)
    thread = view._refine_in_background()
    (progress_box,) = view._progress_slot.children
    stop_button = [b for b in progress_box.children[2].children if b.description == "Stop"][0]
    stop_button.click()
    thread.join(60)
    assert len(result.candidates) == 2 and "stopped" in view._message.value
    assert "stopped by you" in progress_box.children[1].value  # kept on screen: it explains


def test_explorer_refine_without_a_model_says_how_to_get_one(real_result):
    pytest.importorskip("ipywidgets")
    from workbench.views import Explorer

    view = Explorer(real_result, namespace={}, plot=False)
    assert view.refine("faster") == []
    assert "%wb llm local" in view._message.value


def _visualize_df():
    import pandas as pd

    months = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m")
    growth = {"North": 1.01, "South": 1.06, "East": 0.99, "West": 1.03}
    return pd.DataFrame(
        [
            {"month": m, "region": r, "revenue": round(100 * g**i, 1)}
            for r, g in growth.items()
            for i, m in enumerate(months)
        ]
    )


VISUALIZE_REQUEST = (
    "monthly revenue by region, highlight the region that grew fastest, readable labels"
)


def recorded_visualize(namespace=None, backend=None, **options):
    """The 04_visualize demo's run, replayed from its recorded exchanges (``backend``: that
    replay, wrapped or watched by the test)."""
    from workbench.visualizer._engine import visualize

    return visualize(
        VISUALIZE_REQUEST,
        data=(namespace or {}).get("df", _visualize_df()),
        backend=backend or visualize_recording(),
        paths=2,
        refine_rounds=2,
        max_tokens=350,
        temperature=0.7,
        seed=4,
        namespace=namespace,
        **options,
    )


def visualize_recording():
    """The replay backend of the 04_visualize demo."""
    from pathlib import Path

    from workbench.llm import ReplayBackend

    return ReplayBackend(
        Path(__file__).resolve().parent.parent / "notebooks/recordings/04_visualize.json"
    )


@pytest.mark.slow  # renders five recorded scripts (about 30 s)
def test_visualize_view_shows_the_paths_side_by_side_and_refines_and_accepts(home):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from workbench.views import visualize_view

    ns = {"df": _visualize_df()}
    view = visualize_view(recorded_visualize(ns))
    cells = view._grid.children
    assert len(cells) == 2
    first = cells[0].children[0].value
    assert "data:image/png;base64," in first and "Path 0" in first and "<details>" in first
    assert view.result.paths[0].interpretation[:30] in first.replace("&#x27;", "'")
    assert "Aggregated plot" in view._final.children[0].value
    assert view.refine("log scale on the y axis, larger font", "final")
    assert "Refined plot" in view._final.children[0].value
    assert view.result.final.hint == "log scale on the y axis, larger font"
    code = view.accept(1)
    assert code == view.result.paths[1].code and "accepted path 1" in view._message.value
    assert SessionStore(home).run(view.result.run_id)["accepted"] == view.result.paths[1].id


def test_visualize_view_draws_a_column_per_path_and_accept_reports_a_failing_script():
    pytest.importorskip("ipywidgets")
    from workbench.views import visualize_view
    from workbench.visualizer._engine import FigureFacts, PlotAttempt, VisualizeResult

    png = bytes.fromhex("89504e470d0a1a0a")  # enough of a PNG for the <img> tag
    paths = [
        PlotAttempt(f"path-{i}", f"reading {i}", f"plot({i})", png, FigureFacts(n_figures=1))
        for i in range(2)
    ]
    broken = PlotAttempt("final", "combined", None, None, FigureFacts(error="SyntaxError"))
    result = VisualizeResult("revenue", "df", paths, broken, namespace={})
    view = visualize_view(result)
    assert [c.children[0].value.count("<img") for c in view._grid.children] == [1, 1]
    assert "reading 1" in view._grid.children[1].children[0].value
    final_accept = view._final.children[1].children[1]
    assert final_accept.disabled  # the final has no code
    assert view.accept(0) is None and "plot" in view._message.value  # NameError: plot
    assert view.refine("", "final") is False and "say what to change" in view._message.value


def test_the_timing_plot_is_drawn_when_asked_for(real_result):
    pytest.importorskip("bokeh")
    pytest.importorskip("ipywidgets")
    from workbench.views import Explorer

    view = Explorer(real_result, namespace={})
    (button,) = view._plot_slot.children
    assert "wb-show-timings" in button._dom_classes  # no BokehJS in the notebook until asked
    button.click()
    (box,) = view._plot_slot.children
    assert "wb-timing-plot" in box.children[1].value


def test_a_visualize_result_displays_as_the_image_grid_in_a_kernel(shell, monkeypatch):
    pytest.importorskip("ipywidgets")
    from workbench.views._display import WIDGET_MIME
    from workbench.visualizer._engine import FigureFacts, PlotAttempt, VisualizeResult

    path = PlotAttempt("path-0", "bars", "plot()", None, FigureFacts(n_figures=1))
    result = VisualizeResult("revenue", "df", [path], None, namespace={})
    assert WIDGET_MIME not in shell.display_formatter.format(result)[0]
    monkeypatch.setattr(shell, "kernel", object(), raising=False)
    data, _ = shell.display_formatter.format(result)
    assert data[WIDGET_MIME]["model_id"] and "Path 0" in data["text/html"]


def test_the_detail_shows_where_a_candidate_spends_its_time():
    from workbench.views._html import detail_html

    result = _synthetic()
    result.candidates[2].hot_lines = [
        HotLine(3, 0.83, "out[i] = x[i] * 2", hits=1000, seconds=0.02),
        HotLine(2, 0.17, "for i in range(n):", hits=1001, seconds=0.004),
    ]
    result.candidates[0].profile_note = "compiled with Numba: no line profile"
    model = build_model(result)
    refined = detail_html(model.node("cccc3333"), model)
    assert "hot lines" in refined and "83% line 3: <code>out[i] = x[i] * 2</code>" in refined
    assert "compiled with Numba: no line profile" in detail_html(model.node("aaaa1111"), model)
    assert "hot lines" not in detail_html(model.node("bbbb2222"), model)


def test_a_wrong_candidate_shows_its_input_and_both_results_side_by_side(real_result, home):
    """What a user needs to see why it failed: the arguments it was given, what their
    function returned and what the candidate returned; a saved session shows the same."""
    from workbench.views._html import detail_html

    wrong = next(c for c in real_result.candidates if c.status == "failed")
    passed = next(c for c in real_result.candidates if c.status == "passed")
    assert passed.mismatch is None
    mismatch = wrong.mismatch
    assert mismatch.input == "n=10" and mismatch.input in wrong.reason
    assert mismatch.arguments == ["array (10,) float64\n[0. 1. 2. 3. 4. 5. 6. 7. 8. 9.]"]
    assert mismatch.expected == "45.0" and mismatch.actual == "0.0"
    for source in (real_result, SessionStore(home).run(real_result.run_id)):
        model = build_model(source)
        shown = detail_html(model.node(wrong.id), model)
        assert "Where it went wrong" in shown and "input n=10" in shown
        expected = shown.index("your function returned")
        actual = shown.index("this candidate returned")
        assert expected < shown.index(">45.0<") < actual < shown.index(">0.0<")
        assert "Where it went wrong" not in detail_html(model.node(passed.id), model)


def test_a_candidate_that_raises_shows_the_error_beside_the_expected_result(home):
    result = workbench.optimize(
        SOURCE,
        inputs=make,
        strategies=[],
        candidates=["def total(xs):\n    return xs[len(xs)] + 0.0\n"],
        sizes=[3, 10],
        time_budget=0.1,
        namespace={},
    )
    (broken,) = result.candidates
    assert broken.status == "error" and broken.mismatch.input == "n=3"
    assert broken.mismatch.expected == "3.0" and "IndexError" in broken.mismatch.actual
