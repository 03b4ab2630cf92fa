"""The pass matrix: verdicts, crash containment, capture, cache."""

from __future__ import annotations

import numpy as np
import pytest

from workbench._errors import UsageError
from workbench.generator._passmatrix import build_pass_matrix

GOOD = "def f(x):\n    return x + 1\n"
DOUBLE = "def f(x):\n    return x * 2\n"
# module state: in a shared namespace the second call would see the first one's append
STATEFUL = "calls = []\ndef f(x):\n    calls.append(x)\n    return x + len(calls)\n"
SLOW_ON_3 = "def f(x):\n    while x == 3:\n        pass\n    return x + 1\n"
SWALLOWS_TIMER = (
    "def f(x):\n"
    "    while x == 3:\n"
    "        try:\n"
    "            while True:\n"
    "                pass\n"
    "        except BaseException:\n"
    "            pass\n"
    "    return x + 1\n"
)
BLOCKS_TIMER = (
    "import signal\n"
    "def f(x):\n"
    "    if x == 3:\n"
    "        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
    "        while True:\n"
    "            pass\n"
    "    return x + 1\n"
)
SEGFAULT_ON_3 = (
    "import ctypes\ndef f(x):\n    if x == 3:\n        ctypes.string_at(0)\n    return x + 1\n"
)
EXIT_ON_3 = "import os\ndef f(x):\n    if x == 3:\n        os._exit(7)\n    return x + 1\n"
SYS_EXIT = "import sys\ndef f(x):\n    sys.exit(1)\n"
BROKEN = "def f(x:\n"
DIES_ON_LOAD = "import os\nos._exit(1)\n"

TESTS = [
    "assert f(1) == 2",
    "assert f(2) == 3",
    "assert f(3) == 4",
    "assert f(4) == 5",
    "def test_zero():\n    assert f(0) == 1\n",
]


def test_verdicts_and_outcomes_of_well_behaved_candidates():
    m = build_pass_matrix([GOOD, DOUBLE, GOOD, STATEFUL], TESTS + ["assert f(1) == 2 "], entry="f")
    assert m.codes == [GOOD, DOUBLE, STATEFUL]  # deduplicated, first-seen order
    assert m.code_counts.tolist() == [2, 1, 1]
    assert len(m.tests) == 5 and m.test_counts.tolist() == [2, 1, 1, 1, 1]
    assert m.passed[0].all()
    assert m.passed[1].tolist() == [True, False, False, False, False]
    assert m.outcomes[1, 1] == "failed"
    # every cell gets a fresh namespace: the stateful candidate passes each test on its own
    assert m.passed[2].all()
    assert m.loaded.all()


def test_capture_records_what_each_candidate_returned():
    m = build_pass_matrix([GOOD, DOUBLE], ["assert f(3) == 4", "assert f(2)"], entry="f")
    assert m.test_inputs == ["f(3)", "f(2)"]
    assert m.returned[:, 0].tolist() == ["4", "6"]
    assert m.returned[:, 1].tolist() == ["3", "4"]


@pytest.mark.slow  # end to end, seconds each: CI runs it in its slow step
def test_crashes_and_hangs_cost_only_their_own_cell():
    codes = [SLOW_ON_3, SWALLOWS_TIMER, BLOCKS_TIMER, SEGFAULT_ON_3, EXIT_ON_3, SYS_EXIT]
    m = build_pass_matrix(codes, TESTS, entry="f", timeout=0.1)
    expected_on_3 = ["timeout", "timeout", "timeout", "crashed", "crashed", "error"]
    assert m.outcomes[:, 2].tolist() == expected_on_3
    others = [0, 1, 3, 4]
    assert m.passed[:5][:, others].all()  # the worker was restarted and went on
    assert not m.passed[5].any() and m.loaded[5]


def test_candidates_that_do_not_load_are_marked_and_fail_everything():
    m = build_pass_matrix([GOOD, BROKEN, DIES_ON_LOAD], TESTS[:2], entry="f")
    assert m.loaded.tolist() == [True, False, False]
    assert m.outcomes[1].tolist() == ["error", "error"]
    assert m.outcomes[2].tolist() == ["crashed", "crashed"]


@pytest.mark.slow  # end to end, seconds each: CI runs it in its slow step
def test_same_verdicts_as_one_process_per_test():
    codes = [GOOD, DOUBLE, STATEFUL, SLOW_ON_3, EXIT_ON_3, SYS_EXIT, BROKEN]
    fast = build_pass_matrix(codes, TESTS, entry="f", workers=2)
    reference = build_pass_matrix(codes, TESTS, entry="f", workers=2, process_per_test=True)
    assert np.array_equal(fast.outcomes, reference.outcomes)
    assert np.array_equal(fast.passed, reference.passed)


def test_cache_answers_repeated_builds_without_running(tmp_path):
    first = build_pass_matrix([GOOD, DOUBLE], TESTS, entry="f", cache_dir=tmp_path)
    again = build_pass_matrix([DOUBLE, GOOD], TESTS, entry="f", cache_dir=tmp_path)
    assert first.cells_run == 2 * (len(TESTS) + 1) and again.cells_run == 0
    assert np.array_equal(first.passed, again.passed[::-1])
    # a different timeout is a different question
    assert build_pass_matrix([GOOD], TESTS, entry="f", timeout=0.2, cache_dir=tmp_path).cells_run


def test_bad_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="entry"):
        build_pass_matrix([GOOD], TESTS, entry="not a name")
    with pytest.raises(UsageError, match="timeout"):
        build_pass_matrix([GOOD], TESTS, entry="f", timeout=0)


def test_ctrl_c_kills_the_running_batches_at_once():
    """Ctrl-C (SIGINT, what a kernel interrupt sends) while batches run: the workers are
    killed now, not after their batch, and none is left behind."""
    import os
    import signal
    import threading
    import time

    import psutil

    slow = "def f(x):\n    import time\n    time.sleep(0.5)\n    return x\n"
    tests = [f"assert f({i}) == {i}" for i in range(40)]  # ~20 s of cells per worker
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # e.g. a model server

    def ours() -> list:
        return [p for p in psutil.Process().children(recursive=True) if p.pid not in before]

    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    started = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        build_pass_matrix([slow, slow + "\n# copy"], tests, entry="f", timeout=2.0, workers=2)
    took = time.perf_counter() - started
    timer.cancel()
    assert took < 6, f"Ctrl-C took {took:.1f} s to stop the build"
    deadline = time.monotonic() + 5
    while ours() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ours()
