"""A candidate that hangs, crashes, eats memory or exits costs only itself."""

from __future__ import annotations

import time

import numpy as np
import psutil
import pytest

import workbench

CELL = "def double(x):\n    return x * 2.0\n"
GOOD = "def double(x):\n    return x + x\n"


def make(n):
    return (np.arange(float(n)),)


def run(*candidates, **settings):
    if settings:
        workbench.configure(**settings)
    return workbench.optimize(
        CELL, inputs=make, strategies=[], candidates=list(candidates), sizes=[2, 50]
    )


def only(res):
    bad, good = res.candidates
    assert good.status == "passed", "the next candidate must still run: " + good.reason
    return bad


def test_infinite_loop_times_out():
    bad = only(run("def double(x):\n    while True:\n        pass\n", GOOD, timeout=3))
    assert bad.status == "timeout"
    assert "3 s" in bad.reason and "verification" in bad.reason


def test_segfault_is_crashed():
    code = "import ctypes\ndef double(x):\n    ctypes.string_at(0)\n"
    bad = only(run(code, GOOD))
    assert bad.status == "crashed" and "SIGSEGV" in bad.reason
    assert any("ctypes" in w for w in bad.warnings)


def test_memory_blowup_is_oom():
    code = (
        "import numpy as np\ndef double(x):\n    blocks = []\n    while True:\n"
        "        blocks.append(np.ones(50_000_000))\n"
    )
    bad = only(run(code, GOOD, memory_limit_mb=600))
    assert bad.status == "oom", bad.reason
    assert "memory" in bad.reason.lower()


def test_sys_exit_is_an_error():
    bad = only(run("import sys\ndef double(x):\n    sys.exit(3)\n", GOOD))
    assert bad.status == "error" and "sys.exit(3)" in bad.reason


def test_exit_at_import_is_an_error():
    bad = only(run("raise SystemExit(0)\ndef double(x):\n    return x\n", GOOD))
    assert bad.status == "error" and "sys.exit(0)" in bad.reason


def test_keyboard_interrupt_is_contained():
    bad = only(run("def double(x):\n    raise KeyboardInterrupt\n", GOOD))
    assert bad.status == "error" and "KeyboardInterrupt" in bad.reason


def test_os_exit_is_crashed():
    bad = only(run("import os\ndef double(x):\n    os._exit(0)\n", GOOD))
    assert bad.status == "crashed" and "os._exit" in bad.reason


def test_child_processes_are_killed():
    code = (
        "import subprocess\n"
        "def double(x):\n"
        "    subprocess.Popen(['sleep', '4242'], start_new_session=True)\n"
        "    subprocess.Popen(['sleep', '4243'])\n"
        "    return x * 2.0\n"
    )
    res = run(code)
    assert res.candidates[0].status == "passed"
    time.sleep(0.2)
    left = [
        p
        for p in psutil.process_iter(["cmdline"])
        if (p.info["cmdline"] or [])[1:2] in (["4242"], ["4243"])
    ]
    assert left == [], "children of a candidate must not outlive it"


def test_no_secrets_in_the_worker_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok")
    code = (
        "import os\n"
        "def double(x):\n"
        "    leaked = [k for k, v in os.environ.items() if v in ('sk-do-not-leak', 'tok')]\n"
        "    if leaked:\n        raise RuntimeError('leaked ' + ','.join(leaked))\n"
        "    return x * 2.0\n"
    )
    (cand,) = run(code).candidates
    assert cand.status == "passed", cand.reason


def test_huge_output_and_closed_stdout_are_contained():
    code = (
        "import os, sys\n"
        "print('x' * 5_000_000)\n"
        "sys.stdout.close()\n"
        "os.close(1)\n"
        "os.close(2)\n"
        "def double(x):\n"
        "    return x * 2.0\n"
    )
    (cand,) = run(code).candidates
    assert cand.status == "passed", cand.reason
    assert len(cand.output) <= 2000


def test_huge_file_in_scratch_is_stopped():
    code = (
        "def double(x):\n"
        "    with open('big.bin', 'wb') as fh:\n"
        "        for _ in range(100):\n"
        "            fh.write(b'0' * 10_000_000)\n"
        "    return x * 2.0\n"
    )
    bad = only(run(code, GOOD, disk_limit_mb=50))
    assert bad.status == "error" and "50 MiB" in bad.reason


@pytest.mark.parametrize("via", ["magic", "api"])
def test_session_survives_a_crash_of_one_candidate(via, shell):
    code = "import os\ndef double(x):\n    os._exit(1)\n"
    if via == "api":
        res = run(code, GOOD)
    else:
        shell.user_ns.update(make=make, cands=[code, GOOD])
        res = shell.run_cell_magic(
            "optimize", "--inputs make --candidates cands --strategies none --sizes 2,50", CELL
        )
    again = workbench.load_result(res.run_id)
    assert [c.status for c in again.candidates] == ["crashed", "passed"]
