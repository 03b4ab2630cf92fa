"""What the real-browser tests share: JupyterLab or the standalone dashboard on localhost,
a notebook opened and run in Debian's Chromium, screenshots into $WORKBENCH_SCREENSHOT_DIR,
and a failure that says what the page showed instead of only timing out."""

from __future__ import annotations

import contextlib
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


def free_port() -> int:
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


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def screenshot(page, name: str) -> None:
    folder = os.environ.get("WORKBENCH_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


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


@contextlib.contextmanager
def jupyterlab(tmp_path: Path, name: str, cells: list[str]):
    """JupyterLab on 127.0.0.1 serving one notebook made of ``cells``; yields its URL."""
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / name).write_text(json.dumps(_notebook(cells)))
    port, token = free_port(), "wbtest"
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


def open_notebook(browser, url: str, viewport: dict[str, int]):
    """A page with the notebook at ``url`` open, its kernel started and every cell sent to run.

    The run is not awaited: ``notebook:run-all-cells`` resolves only when every cell has
    run, so a cell that hangs would hang the test with no word of what the page shows."""
    page = browser.new_page(viewport=viewport)
    page.goto(url)
    page.wait_for_function(
        "() => window.jupyterapp && jupyterapp.shell.currentWidget"
        " && jupyterapp.shell.currentWidget.sessionContext?.session?.kernel",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)
    dismiss_news(page)
    page.evaluate("() => { jupyterapp.commands.execute('notebook:run-all-cells'); }")
    return page


def dismiss_news(page) -> None:
    no_news = page.get_by_role("button", name="No", exact=True)
    if no_news.count():  # the "notified about Jupyter news?" toast covers the widgets
        no_news.first.click()


def notebook_state(page) -> str:
    """The cells' prompts and the end of each output: what a failed wait saw."""
    prompts = page.locator(".jp-InputPrompt").all_inner_texts()
    outputs = [text[-300:] for text in page.locator(".jp-OutputArea-output").all_inner_texts()]
    return f"prompts {prompts}; outputs {outputs}"


def wait_for(page, selector: str, timeout: float = 90_000, name: str = "waited-for") -> None:
    """``page.wait_for_selector`` that, on timeout, fails with the notebook's state and saves
    a screenshot named ``name``."""
    try:
        page.wait_for_selector(selector, timeout=timeout)
    except sync_api.TimeoutError:
        screenshot(page, f"failed-{name}")
        state = notebook_state(page)
        raise AssertionError(f"no {selector} in {timeout / 1000:.0f} s; {state}") from None


def run_last_cell(page) -> None:
    page.evaluate(
        "() => { const nb = jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = nb.widgets.length - 1;"
        " jupyterapp.commands.execute('notebook:run-cell'); }"
    )


def scroll_to(page, selector: str) -> None:
    """Scroll the notebook so that ``selector``'s top is at the top of the view."""
    page.locator(selector).first.evaluate("e => e.scrollIntoView({block: 'start'})")


@contextlib.contextmanager
def dashboard(browser, db: Path, run_id: str, viewport: dict[str, int]):
    """``workbench dashboard DB`` on a free port, a page open on it once it lists ``run_id``."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.views._dashboard", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", server)
        page = browser.new_page(viewport=viewport)
        page.goto(f"http://127.0.0.1:{port}/")
        sync_api.expect(page.locator("select").first).to_contain_text(run_id, timeout=30_000)
        yield page
        page.close()
    finally:
        _stop(server)
