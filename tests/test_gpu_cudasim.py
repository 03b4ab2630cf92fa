"""Numba CUDA kernels and GPU timing on Numba's CUDA simulator (no GPU needed).

Numba decides simulator or real device once, when ``numba.cuda`` is first imported, so the
simulated work runs in child processes started with ``NUMBA_ENABLE_CUDASIM=1``: this test
process (and any real-GPU test next to it) keeps its own view of the device.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.gpu._device import simulator_env

ROOT = Path(__file__).resolve().parents[1]
TASK_NAMES = ["saxpy", "reduce_sum", "matmul", "stencil2d", "softmax", "histogram"]

pytestmark = pytest.mark.cudasim


def run_on_simulator(code: str, timeout: float = 180) -> object:
    """Run ``code`` in a child on the simulator; it prints one JSON value as its last line."""
    env = simulator_env()
    env["PYTHONPATH"] = str(ROOT) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def kernel_checks() -> dict[tuple[str, str], dict]:
    """Every Numba variant of every task checked once, in one simulator process."""
    results = run_on_simulator(
        """
        import json
        from dataclasses import asdict
        import kernels_cuda
        print(json.dumps([asdict(kernels_cuda.check(name, variant))
                          for name in kernels_cuda.names()
                          for variant in ("numba-naive", "numba-tuned")]))
        """
    )
    return {(r["task"], r["variant"]): r for r in results}


@pytest.mark.parametrize("variant", ["numba-naive", "numba-tuned"])
@pytest.mark.parametrize("name", TASK_NAMES)
def test_numba_kernel_matches_numpy_reference(kernel_checks, name, variant):
    result = kernel_checks[(name, variant)]
    assert result["error"] == ""
    assert result["ok"], f"{name} {variant}: max abs error {result['max_abs_error']}"


def test_simulator_checks_cover_every_task(kernel_checks):
    assert {name for name, _ in kernel_checks} == set(TASK_NAMES)


def test_broken_kernel_is_caught_on_the_simulator():
    # an off-by-one launch (one block too few) must be reported, not pass silently
    result = run_on_simulator(
        """
        import json
        import numpy as np
        from numba import cuda
        from kernels_cuda import TASKS, _numba

        x, y = np.ones(300, np.float32), np.ones(300, np.float32)
        out = cuda.device_array(300, np.float32)
        out.copy_to_device(np.zeros(300, np.float32))
        _numba._saxpy_naive[1, _numba.THREADS](np.float32(2), x, y, out)
        got = out.copy_to_host()
        expected = TASKS["saxpy"].reference(2.0, x, y)
        print(json.dumps({"matches": bool(np.allclose(got, expected)),
                          "wrong": int((got != expected).sum())}))
        """
    )
    assert result == {"matches": False, "wrong": 300 - 256}


def test_device_report_under_simulator():
    info = run_on_simulator(
        """
        import json
        from workbench.gpu._device import detect_device
        info = detect_device()
        print(json.dumps({"simulator": info.simulator, "targets": info.targets,
                          "has_device": info.has_device, "summary": info.summary()}))
        """
    )
    assert info["simulator"] is True
    assert info["has_device"] is False  # the simulator is no GPU
    assert "numba-cuda" in info["targets"]
    assert "simulator" in info["summary"]


TIMING_SETUP = """
    import json
    import numpy as np
    from numba import cuda
    from kernels_cuda import TASKS
    from workbench.gpu._timing import time_gpu
    from workbench._timeline import TIMELINE
    task = TASKS["saxpy"]
    args = task.make_inputs(64)
"""


def test_gpu_timing_runs_on_the_simulator():
    timing = run_on_simulator(
        TIMING_SETUP
        + """
    t = time_gpu(task.launcher("numba-tuned"), args, backend="numba-cuda",
                 warmups=1, repeats=4, to_device=True, flush_l2=True)
    names = [e.name for e in TIMELINE.entries]
    print(json.dumps(dict(t.to_dict(), timeline=names)))
    """
    )
    assert timing["backend"] == "numba-cuda-sim"
    assert timing["repeats"] == 4 and len(timing["samples_ms"]) == 4
    assert timing["warmups"] == 1 and timing["l2_flushed"] is True
    # events record nothing on the simulator: no made-up kernel time, host time counts
    assert timing["device_ms"] is None
    assert any("simulator" in note for note in timing["notes"])
    assert timing["median_ms"] == pytest.approx(timing["host_ms"])
    assert timing["host_ms"] > 0
    # copies timed apart from compute: inputs in, result out
    assert timing["h2d_ms"] > 0 and timing["d2h_ms"] > 0
    assert timing["transfer_ms"] == pytest.approx(timing["h2d_ms"] + timing["d2h_ms"])
    assert {"time", "transfer:h2d", "transfer:d2h"} <= set(timing["timeline"])


def test_gpu_timing_result_is_the_kernels_result_on_the_simulator():
    # time_gpu must call the launcher with the device copies: the timed output is right
    result = run_on_simulator(
        TIMING_SETUP
        + """
    launcher = task.launcher("numba-naive")
    outputs = []
    def keep(*device_args):
        out = launcher(*device_args)
        outputs.append(out)
        return out
    t = time_gpu(keep, args, backend="numba-cuda", warmups=0, repeats=2, to_device=True)
    got = outputs[-1].copy_to_host()
    print(json.dumps({"calls": len(outputs), "repeats": t.repeats,
                      "ok": bool(np.array_equal(got, task.reference(*args)))}))
    """
    )
    assert result["calls"] == 2 == result["repeats"]  # no warm-ups asked, none made
    assert result["ok"] is True


def test_max_seconds_stops_repeats_early_but_keeps_three():
    result = run_on_simulator(
        TIMING_SETUP
        + """
    t = time_gpu(task.launcher("numba-naive"), args, backend="numba-cuda",
                 warmups=0, repeats=50, max_seconds=0.0, to_device=True)
    print(json.dumps({"repeats": t.repeats}))
    """
    )
    assert result["repeats"] == 3


LOOP_SOURCES = {
    "axpb": textwrap.dedent(
        """
        import numpy as np

        def axpb(x, y, a=3.0):
            n = x.shape[0]
            out = np.empty(n)
            for i in range(n):
                out[i] = a * x[i] + y[i]
            return out
        """
    ),
    "outer_diff": textwrap.dedent(
        """
        import numpy as np

        def outer_diff(x, y):
            out = np.zeros((x.shape[0], y.shape[0]))
            for i in range(x.shape[0]):
                for j in range(y.shape[0]):
                    out[i, j] = abs(x[i] - y[j])
            return out
        """
    ),
}

OPTIMIZE_ON_SIMULATOR = """
import json
import numpy as np
import workbench
from workbench.optimizer._engine import load_result

def make(n):
    rng = np.random.default_rng(n)
    return (rng.random(n), rng.random(n))

found = {}
for name, source in SOURCES.items():
    res = workbench.optimize(source, inputs=make, target="numba-cuda", sizes=[3, 12, 24],
                             time_budget=0.05)
    cand = res.candidates[0]
    again = load_result(res.run_id).candidates[0]
    found[name] = {"status": cand.status, "reason": cand.reason, "strategy": cand.strategy,
                   "code": cand.code, "timing": cand.timing and cand.timing.__dict__,
                   "reloaded": again.timing == cand.timing, "text": repr(res)}
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def simulated_optimize(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("wb")
    return run_on_simulator(
        f"import os\nos.environ['WORKBENCH_HOME'] = {str(home)!r}\nSOURCES = {LOOP_SOURCES!r}\n"
        + OPTIMIZE_ON_SIMULATOR,
        timeout=300,
    )


@pytest.mark.parametrize(("name", "dims"), [("axpb", 1), ("outer_diff", 2)])
def test_mechanical_numba_cuda_candidate_passes_verification_on_the_simulator(
    simulated_optimize, name, dims
):
    found = simulated_optimize[name]
    assert found["strategy"] == "numba-cuda"
    assert found["status"] == "passed", found["reason"]
    assert f"_wb_cuda.grid({dims})" in found["code"]


@pytest.mark.parametrize("name", ["axpb", "outer_diff"])
def test_simulator_split_comes_from_the_host_clock_and_is_saved(simulated_optimize, name):
    found = simulated_optimize[name]
    timing = found["timing"]
    assert timing["gpu_clock"] == "host (simulator)"
    assert timing["device_time"] is None  # simulated events time nothing: no made-up number
    parts = [timing["h2d_time"], timing["kernel_time"], timing["d2h_time"]]
    assert all(p is not None and p > 0 for p in parts)
    assert sum(parts) <= timing["median"] * 1.05  # inside the host time that counts
    assert timing["kernel_time"] > timing["h2d_time"]  # the simulated kernel dominates
    assert found["reloaded"] is True
    assert "(host clock: simulator)" in found["text"]
