"""Real-browser tests: the progress widget of a running %%optimize cell in JupyterLab (the
model's text streaming in, candidates counted, Stop while the cell is busy), and labelling a
generate run's tests in the standalone dashboard. Screenshots go to $WORKBENCH_SCREENSHOT_DIR."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from _ui import dashboard, jupyterlab, notebook_state, open_notebook, screenshot, sync_api

from workbench.store._sessions import SessionStore

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = [pytest.mark.ui, pytest.mark.slow]
TESTS_DIR = Path(__file__).resolve().parent


SETUP = """%load_ext workbench
import sys
sys.path.insert(0, {tests!r})
from workbench._settings import configure
configure(home={home!r})
from workbench.llm import _active
from test_llm_strategy import make_inputs
from test_progress_events import StreamingModel
# a scripted model that sends its replies a word at a time, as a streaming server does
_active._active = StreamingModel(delay=0.03)
slow = [
    "import time\\nimport numpy as np\\ndef sum_squares(x):\\n    time.sleep(0.2)\\n"
    f"    return float(np.dot(x, x)) + 0 * {{k}}\\n" for k in range(6)
]"""
OPTIMIZE = """%%optimize --inputs make_inputs --strategies llm --rounds 1 --sizes 5,50 --time-budget 0.1{extra}
def sum_squares(x):
    total = 0.0
    for i in range(len(x)):
        total += x[i] * x[i]
    return total
"""


def test_optimize_cell_shows_streaming_progress_then_finishes(browser, tmp_path):
    home = tmp_path / "nb" / ".workbench"
    cells = [SETUP.format(tests=str(TESTS_DIR), home=str(home)), OPTIMIZE.format(extra="")]
    with jupyterlab(tmp_path, "progress.ipynb", cells) as url:
        page = open_notebook(browser, url, {"width": 1300, "height": 900})
        first = page.locator(".wb-progress").first
        # the model's text arrives while the cell runs: the path it writes and its last lines
        stream = first.locator(".wb-stream pre")
        stream.wait_for(timeout=90_000)
        sync_api.expect(first.locator(".wb-stream")).to_contain_text("path ")
        sync_api.expect(first.locator(".wb-tokens")).to_contain_text("tokens", timeout=10_000)
        screenshot(page, "7-progress-model-writing")
        # then the candidates are counted as they finish ...
        sync_api.expect(first.locator(".wb-count")).to_contain_text("/ 3 candidates")
        # ... and the widget says it is done, with every candidate counted
        sync_api.expect(first.locator(".wb-phase")).to_contain_text(
            "done: 3 candidates checked", timeout=60_000
        )
        sync_api.expect(first.locator(".wb-count")).to_have_text("3 / 3 candidates")
        first.scroll_into_view_if_needed()
        screenshot(page, "8-progress-done")

        page.close()


def test_stop_in_the_progress_view_stops_a_busy_optimize_cell(browser, tmp_path):
    home = tmp_path / "nb" / ".workbench"
    cells = [
        SETUP.format(tests=str(TESTS_DIR), home=str(home)),
        OPTIMIZE.format(extra=" --candidates slow"),
    ]
    with jupyterlab(tmp_path, "stop.ipynb", cells) as url:
        page = open_notebook(browser, url, {"width": 1300, "height": 900})
        # nine candidates: Stop once some are done, while the cell is busy. The three the
        # model wrote finish within a second, so "1 / 9" may be on screen for too short a
        # time to be seen; the six slow ones take about 3 s each.
        second = page.locator(".jp-CodeCell").nth(1).locator(".jp-OutputArea-output").first
        try:
            sync_api.expect(second.locator(".wb-count")).to_have_text(
                re.compile(r"[1-5] / 9 candidates"), timeout=90_000
            )
        except AssertionError:  # say what the notebook shows instead
            screenshot(page, "failed-progress-second-cell")
            raise AssertionError(notebook_state(page)) from None
        second.get_by_role("button", name="Stop").click()
        sync_api.expect(second).to_contain_text("stopped by you", timeout=60_000)
        second.scroll_into_view_if_needed()
        screenshot(page, "9-progress-stopped")
        done = int(re.search(r"(\d+) / 9 candidates", second.inner_text()).group(1))
        assert 1 <= done < 9
        runs = SessionStore(home).runs()
        assert len(runs) == 1
        stopped = SessionStore(home).run(runs[-1]["id"])
        assert len(stopped["candidates"]) == done
        assert any("stopped by the user" in n for n in stopped["notes"])
        page.close()


def _wait_for_the_next_question(page, asked: str) -> None:
    """Until the dashboard asks another test or says it is done (Panel draws in shadow DOM,
    which Playwright's locators see into and document.querySelector does not)."""
    for _ in range(300):
        if page.locator(".wb-done").count():
            return
        shown = page.locator(".wb-question pre")
        try:
            if shown.count() and shown.first.inner_text(timeout=1000).strip() != asked:
                return
        except sync_api.TimeoutError:
            pass  # redrawn between count() and inner_text(): look again
        page.wait_for_timeout(100)
    raise AssertionError(f"the dashboard still asks {asked!r}")


def test_dashboard_labels_a_generate_run_into_the_session_db(browser, tmp_path):
    sys.path.insert(0, str(TESTS_DIR))
    from test_generate import LOWER_ONLY, RIGHT, TRUTH, run, tag
    from test_ui_labeller import TESTS

    from workbench._settings import configure, get_settings
    from workbench.generator._engine import load_generate_result

    before = get_settings().home
    configure(home=str(tmp_path / "home"))
    try:
        result = run([*RIGHT[:2], *LOWER_ONLY], TESTS, label_budget=3)
    finally:
        configure(home=before)
    db = tmp_path / "home" / "sessions.db"
    with dashboard(browser, db, result.run_id, {"width": 1300, "height": 1100}) as page:
        question = page.locator(".wb-question pre").first
        question.wait_for(timeout=30_000)
        page.locator("canvas").first.wait_for(state="attached", timeout=30_000)
        page.wait_for_timeout(500)
        screenshot(page, "10-dashboard-labelling")
        answered: dict[str, bool] = {}
        while not page.locator(".wb-done").count():
            source = question.inner_text().strip()
            answered[source] = TRUTH[source]
            page.locator(".wb-right button" if TRUTH[source] else ".wb-wrong button").click()
            _wait_for_the_next_question(page, source)
            assert len(answered) <= 3
        assert SessionStore(db).run(result.run_id)["labels"] == answered
        sync_api.expect(page.locator(".wb-message").first).to_contain_text("saved")
        page.locator(".wb-accept button").click()
        sync_api.expect(page.locator(".wb-message").first).to_contain_text(
            f"%wb load {result.run_id}"
        )
        leader = load_generate_result(result.run_id, str(db)).best
        assert tag(leader).startswith("right")  # the labels put the right reading first
        assert SessionStore(db).run(result.run_id)["accepted"] == leader.id
        page.mouse.move(0, 0)  # no tooltip over the screenshot
        page.wait_for_timeout(500)
        screenshot(page, "11-dashboard-labelled-and-accepted")
