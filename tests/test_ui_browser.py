"""Real-browser tests: JupyterLab with the explorer, and the standalone dashboard, driven by
Playwright with Debian's Chromium. Screenshots go to $WORKBENCH_SCREENSHOT_DIR when set."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
if not Path(CHROMIUM).exists():
    pytest.skip(
        "ui tests need Debian's chromium (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="ui tests need playwright")
pytest.importorskip("jupyterlab", reason="ui tests need jupyterlab")
pytest.importorskip("ipywidgets", reason="ui tests need workbench[ui]")
pytest.importorskip("panel", reason="ui tests need workbench[ui]")

from workbench._session import SessionStore  # noqa: E402

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("WORKBENCH_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def jupyterlab(tmp_path: Path, name: str, cells: list[str]):
    """JupyterLab on 127.0.0.1 serving one notebook made of ``cells``; yields its URL."""
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / name).write_text(json.dumps(_notebook(cells)))
    port, token = _free_port(), "wbtest"
    # no "get notified about Jupyter news?" pop-up over the screenshots
    news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
    }
    lab = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={tmp_path / 'nb'}",
            "--LabApp.news_url=", "--LabServerApp.announcements_url=",
        ],
        cwd=tmp_path / "nb", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", lab)
        yield f"http://127.0.0.1:{port}/lab/tree/{name}?token={token}"
    finally:
        _stop(lab)
        shutil.rmtree(tmp_path / "rt", ignore_errors=True)


def _notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": c,
                "outputs": [],
                "execution_count": None,
            }
            for c in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


CHECK_CELL = (
    "import numpy as np\n"
    "print('total now:', 'numpy version' if 'np' in total.__code__.co_names else 'loop version',"
    " total(np.arange(10.0)))"
)


def test_explorer_in_jupyterlab_accepts_a_candidate(browser, tmp_path):
    cells = [
        "%load_ext workbench\nimport numpy as np\nfrom workbench._settings import configure\n"
        f"configure(home={str(tmp_path / 'nb' / '.workbench')!r})\n"
        "def make(n):\n    return (np.arange(n, dtype=float),)\n"
        f"candidates = [{FAST!r}, {WRONG!r}]",
        "%%optimize --inputs make --strategies none --candidates candidates --sizes 10,1000"
        " --time-budget 0.1\n" + SOURCE,
        "from workbench.views import explorer\nexplorer(_)",
        CHECK_CELL,
    ]
    with jupyterlab(tmp_path, "demo.ipynb", cells) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_function(
            "() => window.jupyterapp && jupyterapp.shell.currentWidget"
            " && jupyterapp.shell.currentWidget.sessionContext?.session?.kernel", timeout=60_000
        )  # fmt: skip
        page.wait_for_timeout(1000)
        page.evaluate("jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".wb-explorer", timeout=90_000)
        plot = page.frame_locator(".wb-timing-plot")
        plot.locator(".bk-Canvas, canvas").first.wait_for(state="attached", timeout=30_000)
        fast, wrong = _id(FAST), _id(WRONG)
        no_news = page.get_by_role("button", name="No", exact=True)
        if no_news.count():  # the "notified about Jupyter news?" toast covers the plot
            no_news.first.click()

        page.click(f".wb-candidate-{wrong}")
        page.wait_for_selector(".wb-detail:has-text('failed')")
        assert page.is_disabled(".wb-accept button, button.wb-accept")
        _screenshot(page, "1-explorer-failed-candidate")

        page.click(f".wb-candidate-{fast}")
        page.wait_for_selector(".wb-diff:has-text('np.sum')")
        page.click("button.wb-accept")
        page.wait_for_selector(".wb-message:has-text('accepted')", timeout=30_000)
        page.locator(".wb-explorer").scroll_into_view_if_needed()
        _screenshot(page, "2-explorer-accepted")

        page.evaluate(
            "(() => { const nb = jupyterapp.shell.currentWidget.content;"
            " nb.activeCellIndex = nb.widgets.length - 1;"
            " return jupyterapp.commands.execute('notebook:run-cell'); })()"
        )
        out = page.locator(".jp-OutputArea-output:has-text('total now:')")
        sync_api.expect(out).to_contain_text("numpy version 45.0", timeout=30_000)
        page.locator(".wb-timings").scroll_into_view_if_needed()
        _screenshot(page, "3-explorer-timings")

        (run,) = SessionStore(tmp_path / "nb" / ".workbench").runs()
        assert run["accepted"] == fast
        page.close()


def test_dashboard_lists_the_run_and_shows_code(browser, tmp_path):
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
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.views._dashboard", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", server)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/")
        sync_api.expect(page.locator("select").first).to_contain_text(result.run_id, timeout=30_000)
        page.click(f".tabulator-row:has-text('{_id(WRONG)}')")
        sync_api.expect(page.locator(".wb-detail").first).to_contain_text("failed")
        page.click(f".tabulator-row:has-text('{_id(FAST)}')")
        sync_api.expect(page.locator(".wb-diff").first).to_contain_text("np.sum")
        page.wait_for_selector(".bk-Canvas, canvas", timeout=30_000)
        page.wait_for_timeout(500)
        _screenshot(page, "4-dashboard")
        page.close()
    finally:
        _stop(server)
