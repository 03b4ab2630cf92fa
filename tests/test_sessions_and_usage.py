"""Sessions survive a new process; user mistakes get one-line errors and lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from IPython.core.error import UsageError as IPythonUsageError

import workbench

CELL = "def double(x):\n    return x * 2.0\n"


def make(n):
    return (np.arange(float(n)),)


def test_session_survives_a_new_process(tmp_path):
    home = tmp_path / "shared-home"
    script = textwrap.dedent(f"""
        import numpy as np, workbench
        workbench.configure(home={str(home)!r}, time_budget=0.1, timing_target=0.01)
        def make(n):
            return (np.arange(float(n)),)
        res = workbench.optimize({CELL!r}, inputs=make, strategies=[], sizes=[2, 30],
                                 candidates=["def double(x):\\n    return x + x\\n"])
        print(res.run_id)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    run_id = out.stdout.strip().splitlines()[-1]
    workbench.configure(home=home)
    again = workbench.load_result(run_id)
    assert again.entry == "double"
    assert [c.status for c in again.candidates] == ["passed"]
    assert again.candidates[0].timing.repeats >= 5
    assert again.reference.timing.median > 0
    ns: dict = {}
    again.accept(again.candidates[0].id, namespace=ns, new_cell=False)  # not faster: by id
    np.testing.assert_allclose(ns["double"](np.ones(2)), [2.0, 2.0])


def test_wb_sessions_show_resume_accept(shell):
    shell.user_ns.update(make=make, cands=["def double(x):\n    return x + x\n"])
    res = shell.run_cell_magic(
        "optimize", "--inputs make --candidates cands --strategies none --sizes 2,30", CELL
    )
    listing = shell.run_line_magic("wb", "sessions")
    assert res.run_id in repr(listing)
    shown = shell.run_line_magic("wb", f"show {res.run_id}")
    assert [c.id for c in shown.candidates] == [c.id for c in res.candidates]
    resumed = shell.run_line_magic("wb", f"resume {res.run_id}")
    resumed.accept(resumed.candidates[0].id, new_cell=False)  # not faster: chosen by id
    assert shell.user_ns["double"](np.ones(1))[0] == 2.0
    assert res.run_id in repr(shell.run_line_magic("wb", "sessions"))
    with pytest.raises(IPythonUsageError, match="no session"):
        shell.run_line_magic("wb", "show nope1234")


def test_wb_load_puts_the_accepted_code_in_the_cell_after_a_restart(shell):
    """An Accept button cannot add a cell (a click is not a cell's request): %wb load, run
    in a new cell, replaces it with the accepted code, from the session, in a new kernel too."""
    with pytest.raises(IPythonUsageError, match="nothing was accepted"):
        shell.run_line_magic("wb", "load")
    shell.user_ns.update(make=make, cands=["def double(x):\n    return x + x\n"])
    res = shell.run_cell_magic(
        "optimize", "--inputs make --candidates cands --strategies none --sizes 2,30", CELL
    )
    with pytest.raises(IPythonUsageError, match=f"nothing was accepted in session {res.run_id}"):
        shell.run_line_magic("wb", f"load {res.run_id}")
    res.accept(res.candidates[0].id, new_cell=False)
    shell.reset(new_session=False)  # the kernel restarted: the binding is gone, the session not
    shell.rl_next_input = None
    shell.run_line_magic("wb", "load")
    cell = shell.rl_next_input
    assert cell.startswith(f"# accepted from workbench session {res.run_id}: {res.accepted}")
    shell.run_cell(cell)
    assert shell.user_ns["double"](np.ones(3)).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(IPythonUsageError, match="at most one"):
        shell.run_line_magic("wb", "load a b")


SLOW_CELL = (
    "def double(x):\n    out = x.copy()\n    for i in range(len(out)):\n"
    "        out[i] = x[i] * 2.0\n    return out\n"
)


def test_accept_offers_the_code_as_next_cell(shell):
    shell.user_ns.update(make=make, cands=["def double(x):\n    return x + x\n"])
    shell.rl_next_input = None
    res = shell.run_cell_magic(
        "optimize",
        "--inputs make --candidates cands --strategies none --sizes 2,3000 --accept",
        SLOW_CELL,
    )
    assert res.accepted == res.candidates[0].id
    assert shell.user_ns["double"].__code__.co_filename.startswith("<accepted")
    # the terminal shell keeps the offered cell here; Jupyter sends it as a set_next_input payload
    assert "return x + x" in shell.rl_next_input
    assert res.run_id in shell.rl_next_input


def test_accept_binds_nothing_when_no_candidate_is_faster(shell):
    shell.user_ns.update(make=make, cands=["def double(x):\n    return 2.0 * x\n"])
    res = shell.run_cell_magic(
        "optimize", "--inputs make --candidates cands --strategies none --sizes 2,30 --accept", CELL
    )
    assert res.candidates[0].status == "passed" and res.best is None
    assert res.accepted is None
    assert any("nothing was bound" in n for n in res.notes)


def test_wb_config_sets_typed_settings(shell):
    shell.run_line_magic("wb", "config memory_limit_mb=1234 time_budget=0.5")
    settings = workbench.get_settings()
    assert settings.memory_limit_mb == 1234 and settings.time_budget == 0.5
    with pytest.raises(IPythonUsageError, match="unknown setting"):
        shell.run_line_magic("wb", "config nonsense=1")
    with pytest.raises(IPythonUsageError, match="takes a int"):
        shell.run_line_magic("wb", "config memory_limit_mb=lots")


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        ("--inputs make", "x = 1\n", "defines no function"),
        ("--inputs make", "def a(x):\n    return x\ndef b(x):\n    return x\n", "--entry"),
        ("", CELL, "--inputs NAME"),
        ("--inputs missing_name", CELL, "no variable 'missing_name'"),
        ("--inputs broken", CELL, "broken(1) raised ZeroDivisionError"),
        ("--inputs not_tuple", CELL, "must return a tuple"),
        ("--inputs unseeded", CELL, "seed its random"),
        ("--inputs make --entry nope", CELL, "no function of that name"),
        ("--inputs make --strategies magic", CELL, "unknown strategy 'magic'"),
        ("--inputs make --sizes a,b", CELL, "whole numbers"),
        ("--inputs make --bogus", CELL, "unrecognized arguments"),
        ("--inputs make", "", "cell body is empty"),
    ],
)
def test_bad_input_is_a_one_line_usage_error_and_loses_nothing(shell, line, cell, message):
    shell.run_cell(
        "def broken(n):\n    return (1 / 0,)\n"
        "def not_tuple(n):\n    return np.arange(n)\n"
        "def unseeded(n):\n    return (np.random.default_rng().random(n),)\n"
        "keep_me = [1, 2, 3]\n"
    )
    shell.user_ns["make"] = make
    before = workbench.SessionStore(workbench.get_settings().home).runs()
    with pytest.raises(IPythonUsageError) as info:
        shell.run_cell_magic("optimize", line, cell)
    assert message in str(info.value)
    assert "\n" not in str(info.value).strip()
    assert shell.user_ns["keep_me"] == [1, 2, 3]
    assert workbench.SessionStore(workbench.get_settings().home).runs() == before


def test_api_raises_the_documented_exceptions():
    with pytest.raises(workbench.UsageError):
        workbench.optimize("x = 1", inputs=make)
    with pytest.raises(workbench.InputsError):
        workbench.optimize(CELL, inputs=lambda n: 5)
    with pytest.raises(workbench.InputsError):
        workbench.optimize(CELL, inputs=None)


def test_where_the_reference_raises_candidates_must_raise_alike():
    cell = "def head(x):\n    if x.shape[0] < 3:\n        raise ValueError('need 3')\n    return x[:3] * 1.0\n"
    res = workbench.optimize(
        cell,
        inputs=make,
        strategies=[],
        sizes=[1, 2, 5, 40],
        candidates=[
            "def head(x):\n    if len(x) < 3:\n        raise ValueError('short')\n"
            "    return x[:3].copy()\n",
            "def head(x):\n    return x[:3].copy()\n",  # returns where the reference raises
        ],
    )
    assert [c.status for c in res.candidates] == ["passed", "failed"], res.candidates[0].reason
    assert res.reference.sizes == ["n=5", "n=40"]
    assert any("n=1" in note and "same exception" in note for note in res.notes)


def test_import_workbench_loads_no_ui_or_ipython():
    code = "import sys, workbench; print(sorted(m for m in ('IPython', 'panel', 'bokeh', 'cupy', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}
    )
    assert out.stdout.strip() == "[]"
