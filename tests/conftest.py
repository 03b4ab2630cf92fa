"""Shared fixtures. ``optimize_via`` runs a test through both the Python API and the magic."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import workbench
from workbench import _settings

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
if str(REPO) not in sys.path:  # benchmarks.redteam_cases: hostile fixtures kept out of the wheel
    sys.path.insert(0, str(REPO))


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Each test gets its own session directory and short timing budgets."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / ".workbench"))
    saved = _settings._current
    _settings._current = None
    workbench.configure(time_budget=0.2, timing_target=0.02, timeout=60)
    from workbench.llm import _active

    _active._reset_for_tests()
    _active.set_backend("off")  # tests that want a model say so
    yield
    _settings._current = saved
    _active._reset_for_tests()


@pytest.fixture
def run_notebook():
    """``run_notebook(name, cwd)``: run ``notebooks/NAME`` top to bottom in a fresh kernel
    (working directory ``cwd``, sessions in the test's own folder); returns the text of every
    output, in order."""
    import nbformat
    from nbclient import NotebookClient

    def run(name: str, cwd: Path = NOTEBOOKS, timeout: int = 300) -> list[str]:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        resources = {"metadata": {"path": str(cwd)}}
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources).execute()
        return [
            out.get("text", "") + out.get("data", {}).get("text/plain", "")
            for cell in nb.cells
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
        ]

    return run


@pytest.fixture(scope="session")
def ipython_shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "workbench")
    return shell


@pytest.fixture
def shell(ipython_shell):
    """The IPython shell with a clean user namespace."""
    ipython_shell.reset(new_session=False)
    ipython_shell.run_cell("import numpy as np")
    return ipython_shell


# the magic is a thin layer over the API: its runs of the same tests go to CI's slow step
@pytest.fixture(params=["api", pytest.param("magic", marks=pytest.mark.slow)])
def optimize_via(request, shell):
    """``optimize_via(cell, inputs=fn, **options)`` through the API or through ``%%optimize``."""

    def run(cell: str, *, inputs, tests=None, candidates=(), strategies=("numba",), **options):
        cell = textwrap.dedent(cell)
        if request.param == "api":
            return workbench.optimize(
                cell,
                inputs=inputs,
                tests=tests,
                candidates=candidates,
                strategies=strategies,
                namespace=shell.user_ns,
                **options,
            )
        shell.user_ns["_wb_inputs"] = inputs
        line = "--inputs _wb_inputs"
        if tests:
            for i, t in enumerate(tests):
                shell.user_ns[f"_wb_test{i}"] = t
            line += " --tests " + ",".join(f"_wb_test{i}" for i in range(len(tests)))
        if candidates:
            shell.user_ns["_wb_candidates"] = list(candidates)
            line += " --candidates _wb_candidates"
        if strategies is not None:
            line += " --strategies " + (",".join(strategies) if strategies else "none")
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            line += f" {flag} {','.join(map(str, value)) if isinstance(value, (list, tuple)) else value}"
        return shell.run_cell_magic("optimize", line, cell)

    run.via = request.param
    return run


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module (the ``ui`` tests); skips
    with what to install where it is missing."""
    from _ui import CHROMIUM, CHROMIUM_ARGS, sync_api

    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
