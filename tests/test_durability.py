"""The session database survives kill -9 of the kernel mid-round and two kernels writing it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

import workbench

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import sys, numpy as np, workbench
    workbench.configure(home=sys.argv[1], time_budget=0.1, timing_target=0.01, timeout=120)
    def make(n):
        return (np.arange(float(n)),)
    fast = "def double(x):\\n    return x + x\\n"
    slow = "import time\\ndef double(x):\\n    time.sleep(3600)\\n"
    cands = [fast.replace("x + x", f"x + x + {i} * 0.0") for i in range(int(sys.argv[2]))]
    if sys.argv[3] == "hang":
        cands.append(slow)
    res = workbench.optimize("def double(x):\\n    return x * 2.0\\n", inputs=make, strategies=[],
                             candidates=cands, sizes=[2, 20])
    print(res.run_id, flush=True)
""")


def _start(home, n, mode):
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(home), str(n), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_round_keeps_what_finished(tmp_path):
    home = tmp_path / "wb"
    kernel = _start(home, 2, "hang")
    store = workbench.SessionStore(home)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        runs = store.runs() if store.path.exists() else []
        if runs and runs[0]["candidates"] >= 2:
            break
        time.sleep(0.2)
    else:
        kernel.kill()
        raise AssertionError("the first candidates never reached the database")
    os.kill(kernel.pid, signal.SIGKILL)
    kernel.wait()
    (run,) = store.runs()
    assert run["status"] == "interrupted"
    workbench.configure(home=home)
    result = workbench.load_result(run["id"])
    assert [c.status for c in result.candidates] == ["passed", "passed"]
    ns: dict = {}
    result.accept(
        result.candidates[0].id, namespace=ns, new_cell=False
    )  # resumable: a finished candidate can be accepted
    assert callable(ns["double"])
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_kernels_share_one_database(tmp_path):
    home = tmp_path / "wb"
    kernels = [_start(home, 4, "plain") for _ in range(2)]
    ids = []
    for k in kernels:
        out, err = k.communicate(timeout=240)
        assert k.returncode == 0, err
        ids.append(out.strip().splitlines()[-1])
    store = workbench.SessionStore(home)
    runs = {r["id"]: r for r in store.runs()}
    assert set(ids) <= set(runs)
    for run_id in ids:
        assert runs[run_id]["status"] == "finished" and runs[run_id]["candidates"] == 4
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_database_from_before_owner_pid_is_migrated(tmp_path):
    db = tmp_path / "wb" / "sessions.db"
    db.parent.mkdir()
    with sqlite3.connect(db) as con:  # the first release's runs table
        con.execute(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, entry TEXT, source TEXT,"
            " options TEXT, reference TEXT, status TEXT NOT NULL, notes TEXT, accepted TEXT,"
            " created REAL NOT NULL, finished REAL)"
        )
        con.execute(
            "INSERT INTO runs (id, kind, status, created) VALUES ('old1', 'optimize', 'finished', 0)"
        )
    store = workbench.SessionStore(db)
    new = store.new_run("optimize", entry="f", source="def f(): pass", options={})
    assert {r["id"] for r in store.runs()} == {"old1", new}
