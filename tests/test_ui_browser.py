"""Real-browser tests: JupyterLab with the explorer, and the standalone dashboard, driven by
Playwright with Debian's Chromium. Screenshots go to $WORKBENCH_SCREENSHOT_DIR when set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from _ui import (
    dashboard,
    dismiss_news,
    jupyterlab,
    open_notebook,
    run_last_cell,
    screenshot,
    scroll_to,
    sync_api,
    wait_for,
)

from workbench.store._sessions import SessionStore

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = [pytest.mark.ui, pytest.mark.slow]

SOURCE = """def total(xs):
    s = 0.0
    for x in xs:
        s += x
    return s
"""
FAST = """import numpy as np
def total(xs):
    return float(np.sum(xs))
"""
WRONG = """def total(xs):
    return 0.0
"""


def _id(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()[:8]


PLAN = """1. numpy-sum: let NumPy add the numbers with np.sum.
2. shortcut: skip the loop entirely.
3. builtin: use Python's built-in sum.
"""
# one line: its line-profile share (100%), which the prompts quote, is the same every run
LLM_SOURCE = """def total(xs):
    return float(sum(xs))
"""
BUILTIN = """import numpy as np
def total(xs):
    return float(np.add.reduce(xs))
"""
HINT = "add the numbers with math.fsum"
REFINED = """import math
def total(xs):
    return math.fsum(xs)
"""


def _record_exchanges(path: Path) -> dict[str, str]:
    """Record what %%optimize and one Refine ask of a model in the notebook below: the
    kernel replays it (%wb llm replay), so the browser run is deterministic."""
    import numpy as np

    from workbench import optimize
    from workbench._settings import configure, get_settings
    from workbench.llm import Backend, Completion, RecordingBackend
    from workbench.optimizer.strategies import LLMStrategy

    class Scripted(Backend):
        kind = "scripted"

        @property
        def model(self) -> str:
            return "scripted-coder"

        def _complete(self, request, *, on_token, cancel):
            prompt = request.messages[-1]["content"]
            if "DISTINCT strategies" in prompt:
                text = PLAN
            elif "What happened:" in prompt:
                text = f"The loop is fine, but use fsum:\n```python\n{REFINED}```"
            elif "numpy-sum" in prompt:
                text = f"```python\n{FAST}```"
            elif "shortcut" in prompt:
                text = f"```python\n{WRONG}```"
            else:
                text = f"```python\n{BUILTIN}```"
            return [Completion(text, "stop", 50, 20) for _ in range(request.n)]

    recorder = RecordingBackend(Scripted())
    before = get_settings().home
    configure(home=str(path.parent / "recording-home"))
    try:
        result = optimize(
            LLM_SOURCE,
            inputs=lambda n: (np.arange(n, dtype=float),),
            strategies=[LLMStrategy(recorder)],
            sizes=[10, 1000],
            time_budget=0.1,
            namespace={},
        )
        result.refine(HINT, candidate=_id(WRONG))
    finally:
        configure(home=before)
    assert {c.id for c in result.candidates} == {_id(c) for c in (FAST, WRONG, BUILTIN, REFINED)}
    recorder.save(path)
    return {"wrong": _id(WRONG), "refined": _id(REFINED), "fast": _id(FAST)}


def test_optimize_shows_the_explorer_which_refines_with_a_hint_and_accepts(browser, tmp_path):
    recording = tmp_path / "exchanges.json"
    ids = _record_exchanges(recording)
    cells = [
        "%load_ext workbench\nimport numpy as np\nfrom workbench._settings import configure\n"
        f"configure(home={str(tmp_path / 'nb' / '.workbench')!r})\n"
        f"%wb llm replay {recording}\n"
        "def make(n):\n    return (np.arange(n, dtype=float),)",
        "%%optimize --inputs make --strategies llm --rounds 1 --sizes 10,1000 --time-budget 0.1\n"
        + LLM_SOURCE,
        "print('total now:', 'fsum' in total.__code__.co_names, total(np.arange(10.0)))",
    ]
    with jupyterlab(tmp_path, "demo.ipynb", cells) as url:
        page = open_notebook(browser, url, {"width": 1400, "height": 1200})
        # the %%optimize cell itself shows the explorer: no explorer(_) call
        wait_for(page, ".wb-explorer", name="explorer")
        page.click("button.wb-show-timings")
        page.frame_locator(".wb-timing-plot").locator(".bk-Canvas, canvas").first.wait_for(
            state="attached", timeout=30_000
        )
        dismiss_news(page)
        assert page.locator(".wb-explorer").count() == 1

        page.click(f".wb-candidate-{ids['wrong']}")
        page.wait_for_selector(".wb-detail:has-text('failed')")
        assert page.is_disabled("button.wb-accept")
        page.click(".wb-exchange summary")
        sync_api.expect(page.locator(".wb-exchange .wb-prompt")).to_contain_text("shortcut")
        sync_api.expect(page.locator(".wb-exchange .wb-reply")).to_contain_text("return 0.0")
        page.fill(".wb-hint input", HINT)
        scroll_to(page, ".wb-explorer")
        screenshot(page, "1-explorer-failed-candidate-and-its-exchange")

        page.click("button.wb-refine")
        # the refinement shows its progress in the explorer while it runs, then the child
        page.locator(".wb-explorer .wb-progress").wait_for(timeout=10_000)
        screenshot(page, "2a-explorer-refining")
        child = page.locator(f".wb-candidate-{ids['refined']}")
        child.wait_for(timeout=60_000)
        sync_api.expect(page.locator(".wb-message")).to_contain_text("new candidate")
        # the new candidate sits under the one it refines, and the model saw the hint
        boxes = [
            page.locator(f".wb-candidate-{i}").bounding_box()
            for i in (ids["wrong"], ids["refined"])
        ]
        assert boxes[1]["x"] > boxes[0]["x"] and boxes[1]["y"] > boxes[0]["y"]
        page.click(".wb-exchange summary")
        sync_api.expect(page.locator(".wb-exchange .wb-prompt")).to_contain_text(HINT)
        sync_api.expect(page.locator(".wb-diff")).to_contain_text("math.fsum")
        scroll_to(page, ".wb-explorer")
        screenshot(page, "2-explorer-refined-child")

        page.click("button.wb-accept")
        page.wait_for_selector(".wb-message:has-text('accepted')", timeout=30_000)

        run_last_cell(page)
        out = page.locator(".jp-OutputArea-output:has-text('total now:')")
        sync_api.expect(out).to_contain_text("True 45.0", timeout=30_000)
        page.wait_for_timeout(500)
        assert page.locator(".jp-Notebook .jp-Cell").count() == len(cells)  # no surprise cell
        scroll_to(page, ".wb-explorer button.wb-accept")
        screenshot(page, "3-explorer-accepted")  # with the cell below that uses it

        (run,) = SessionStore(tmp_path / "nb" / ".workbench").runs()
        assert run["accepted"] == ids["refined"] and run["candidates"] == 4
        record = SessionStore(tmp_path / "nb" / ".workbench").run(run["id"])
        (child_record,) = [c for c in record["candidates"] if c["id"] == ids["refined"]]
        assert child_record["parent"] == ids["wrong"] and child_record["round"] == 1
        page.close()


VISUALIZE_CELL = """from workbench.visualizer._engine import visualize
from workbench.llm import ReplayBackend
import pandas as pd

months = pd.date_range('2024-01-01', periods=12, freq='MS').strftime('%Y-%m')
growth = {'North': 1.01, 'South': 1.06, 'East': 0.99, 'West': 1.03}
df = pd.DataFrame([{'month': m, 'region': r, 'revenue': round(100 * g**i, 1)}
                   for r, g in growth.items() for i, m in enumerate(months)])
visualize(
    'monthly revenue by region, highlight the region that grew fastest, readable labels',
    data=df, backend=ReplayBackend(RECORDING), paths=2, refine_rounds=2, max_tokens=350,
    temperature=0.7, seed=4,
)"""


def test_visualize_shows_the_paths_side_by_side_and_refines_the_final(browser, tmp_path):
    recording = Path(__file__).resolve().parent.parent / "notebooks/recordings/04_visualize.json"
    cells = [
        "%load_ext workbench\nfrom workbench._settings import configure\n"
        f"configure(home={str(tmp_path / 'nb' / '.workbench')!r})\nRECORDING = {str(recording)!r}",
        VISUALIZE_CELL,
    ]
    with jupyterlab(tmp_path, "plots.ipynb", cells) as url:
        page = open_notebook(browser, url, {"width": 1400, "height": 1200})
        wait_for(page, ".wb-visualize", timeout=120_000, name="visualize")
        dismiss_news(page)
        grid = page.locator(".wb-visualize-grid .wb-plot")
        sync_api.expect(grid).to_have_count(2)
        assert page.locator(".wb-visualize-grid img").count() >= 1  # a path may fail to run
        first, second = grid.nth(0).bounding_box(), grid.nth(1).bounding_box()
        assert abs(first["y"] - second["y"]) < 5 and second["x"] > first["x"]  # side by side
        sync_api.expect(page.locator(".wb-visualize-final")).to_contain_text("Aggregated plot")
        scroll_to(page, ".wb-visualize")
        screenshot(page, "5-visualize-grid")

        page.fill(".wb-visualize .wb-hint input", "log scale on the y axis, larger font")
        page.click(".wb-visualize button.wb-refine")
        sync_api.expect(page.locator(".wb-visualize-final")).to_contain_text(
            "Refined plot", timeout=60_000
        )
        page.click(".wb-visualize button.wb-accept-final")
        sync_api.expect(page.locator(".wb-visualize .wb-message")).to_contain_text(
            "accepted final", timeout=30_000
        )
        scroll_to(page, ".wb-visualize-final")
        screenshot(page, "6-visualize-refined-and-accepted")
        (run,) = SessionStore(tmp_path / "nb" / ".workbench").runs()
        assert run["accepted"].startswith("refine-")  # the refined final
        page.close()


def test_dashboard_shows_a_run_and_accepts_a_candidate_that_wb_load_brings_back(
    browser, tmp_path, shell
):
    from workbench import optimize
    from workbench._settings import configure, get_settings

    before = get_settings().home
    configure(home=str(tmp_path / "home"))
    try:
        result = optimize(
            SOURCE,
            inputs=lambda n: (__import__("numpy").arange(n, dtype=float),),
            strategies=[],
            candidates=[FAST, WRONG],
            sizes=[10, 1000],
            time_budget=0.1,
            namespace={},
        )
    finally:
        configure(home=before)
    db = tmp_path / "home" / "sessions.db"
    with dashboard(browser, db, result.run_id, {"width": 1400, "height": 1000}) as page:
        page.click(f".tabulator-row:has-text('{_id(WRONG)}')")
        detail = page.locator(".wb-detail").first
        sync_api.expect(detail).to_contain_text("failed")
        # why: the input, and both results side by side
        sync_api.expect(detail.locator(".wb-expected")).to_have_text("45.0")
        sync_api.expect(detail.locator(".wb-actual")).to_have_text("0.0")
        assert page.locator(".wb-accept button").is_disabled()
        page.wait_for_selector(".bk-Canvas, canvas", timeout=30_000)
        page.wait_for_timeout(500)
        screenshot(page, "4-dashboard-failed-candidate")
        page.click(f".tabulator-row:has-text('{_id(FAST)}')")
        sync_api.expect(page.locator(".wb-diff").first).to_contain_text("np.sum")
        page.click(".wb-accept button")
        sync_api.expect(page.locator(".wb-message").first).to_contain_text(
            f"%wb load {result.run_id}", timeout=30_000
        )
        assert SessionStore(db).run(result.run_id)["accepted"] == _id(FAST)
        sync_api.expect(page.locator(".tabulator-row.tabulator-selected")).to_contain_text(
            "★ accepted"
        )
        page.wait_for_timeout(500)
        screenshot(page, "4a-dashboard-accepted")
    # the notebook: %wb load puts the accepted code into the cell
    configure(home=str(tmp_path / "home"))
    try:
        shell.run_line_magic("wb", "load")
    finally:
        configure(home=before)
    assert FAST.strip() in shell.rl_next_input and result.run_id in shell.rl_next_input
