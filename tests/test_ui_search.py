"""The search view in a real browser: a tree search in JupyterLab (the scripted model of
``test_search.py``) grows the view inside the progress widget, then the explorer shows the
tree; hovering a candidate shows its idea, clicking one selects it in the explorer, and a
click in the explorer's list marks it in the view. Screenshots go to
$WORKBENCH_SCREENSHOT_DIR when set."""

from __future__ import annotations

from pathlib import Path

import pytest
from _ui import dismiss_news, jupyterlab, open_notebook, screenshot, scroll_to, sync_api, wait_for

pytest.importorskip("anywidget", reason="the search view needs workbench[ui] (anywidget)")

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = [pytest.mark.ui, pytest.mark.slow]

TESTS = Path(__file__).resolve().parent


def test_the_search_view_grows_hovers_the_idea_and_selects_in_the_explorer(browser, tmp_path):
    cells = [
        "%load_ext workbench\nimport sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from workbench._settings import configure\n"
        f"configure(home={str(tmp_path / 'nb' / '.workbench')!r}, time_budget=0.1,"
        " timing_target=0.02)\n"
        "from test_search import CELL, TreeModel, make\n"
        "from workbench import optimize\n"
        "from workbench.optimizer.strategies import LLMStrategy\n"
        "from workbench.views import Progress",
        "res = Progress(title='tree search').run_in_cell(lambda p, stop: optimize(\n"
        "    CELL, inputs=make, strategies=[LLMStrategy(TreeModel(), paths=2)], search='tree',\n"
        "    candidate_budget=9, sizes=[2, 40], namespace={}, progress=p, stop=stop))\n"
        "res",
    ]
    with jupyterlab(tmp_path, "search.ipynb", cells) as url:
        page = open_notebook(browser, url, {"width": 1400, "height": 1300})
        # the progress widget grows its own search view while the search runs
        wait_for(page, ".wb-progress .wb-search .wb-node", timeout=120_000, name="live-search")
        wait_for(page, ".wb-explorer .wb-search .wb-node", timeout=120_000, name="explorer")
        dismiss_news(page)
        view = page.locator(".wb-explorer .wb-search")
        nodes = view.locator(".wb-node")
        sync_api.expect(nodes).to_have_count(9)
        assert view.locator(".wb-edge").count() == 7  # every candidate but the two roots
        assert view.locator(".wb-node.wb-best").count() == 1
        assert view.locator(".wb-node.wb-failed").count() >= 1
        assert page.locator(".wb-progress .wb-search .wb-node").count() == 9  # live: all came
        # the round axis: children to the right of their parents, the failed one at the bottom
        failed = view.locator(".wb-node.wb-failed").first
        child = view.locator(".wb-edge").first.get_attribute("data-child")
        assert child

        # hover: the idea the model gave for the child
        scroll_to(page, ".wb-explorer .wb-search")
        view.locator(f".wb-node[data-id='{child}']").hover()
        tip = view.locator(".wb-search-tip")
        sync_api.expect(tip).to_be_visible()
        sync_api.expect(tip).to_contain_text("Variant")
        sync_api.expect(tip).to_contain_text(child)
        screenshot(page, "search-1-view-hover")

        # click: the explorer selects that candidate (its code and detail; the ▶ mark)
        failed_id = failed.get_attribute("data-id")
        failed.click()
        sync_api.expect(page.locator(f".wb-candidate-{failed_id}")).to_contain_text("▶")
        sync_api.expect(page.locator(".wb-detail").first).to_contain_text(failed_id)
        sync_api.expect(view.locator(f".wb-node.wb-selected[data-id='{failed_id}']")).to_have_count(
            1
        )
        screenshot(page, "search-2-clicked-failed")

        # and back: a click in the explorer's list marks the candidate in the view
        page.click(f".wb-candidate-{child}")
        sync_api.expect(view.locator(f".wb-node.wb-selected[data-id='{child}']")).to_have_count(1)
        scroll_to(page, ".wb-explorer")
        screenshot(page, "search-3-explorer-and-view")
        scroll_to(page, ".wb-progress")
        screenshot(page, "search-4-progress-with-the-grown-view")
        page.close()
