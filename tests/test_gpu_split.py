"""GPU candidates inside optimize: honest host time, and where the device time goes.

The probe logic runs against the modelled device of ``test_gpu_timing`` (a clock that
advances when "kernels" run; side-stream work shows up only when the device is synchronised).
The real-device path is in ``test_gpu_real.py``, the simulator path in ``test_gpu_cudasim.py``.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from test_gpu_timing import ModelDevice, OnDevice

import workbench
from workbench.gpu._timing import PHASES, CallProbe, split_medians
from workbench.optimizer._render import result_html, result_text
from workbench.optimizer._results import CandidateResult, OptimizeResult, Reference, Timing
from workbench.optimizer.strategies._gpu import NumbaCudaStrategy, numba_cuda_variant


def probe_for(device: ModelDevice, marks: bool = True) -> CallProbe:
    return CallProbe(device, marks, device.clock)


def timed_call(device: ModelDevice, probe: CallProbe, fn) -> float:
    """One call the way the worker's timing loop makes it: host ms."""
    probe.begin()
    t0 = device.clock()
    fn()
    probe.end()
    t1 = device.clock()
    probe.collect()
    return (t1 - t0) * 1e3


def marked_call(device: ModelDevice, probe: CallProbe, h2d=0.5, kernel=3.0, d2h=0.25):
    def call():
        probe.mark("h2d")
        device.now_ms += h2d
        probe.mark("kernel")
        device.now_ms += kernel
        probe.mark("d2h")
        device.now_ms += d2h
        probe.mark("done")
        return OnDevice([1.0])

    return call


def test_marks_split_a_call_into_copies_and_kernel():
    device = ModelDevice()
    probe = probe_for(device)
    host_ms = timed_call(device, probe, marked_call(device, probe))
    report = probe.report()
    assert report["h2d"] == [pytest.approx(0.5e-3)]
    assert report["kernel"] == [pytest.approx(3e-3)]
    assert report["d2h"] == [pytest.approx(0.25e-3)]
    assert report["device"] == [pytest.approx(3.75e-3)]
    assert host_ms == pytest.approx(3.75)


def test_side_stream_work_is_paid_in_host_time_not_hidden():
    device = ModelDevice()
    probe = probe_for(device, marks=False)

    def launch_and_return():
        device.now_ms += 0.01
        device.side_stream_ms += 50.0  # a kernel left running on another stream

    host_ms = timed_call(device, probe, launch_and_return)
    assert host_ms >= 50.0  # the probe synchronised the whole device before the clock stopped
    assert probe.report()["device"] == [pytest.approx(0.01e-3)]  # events saw only our stream
    fields = split_medians(probe.report(), [host_ms / 1e3])
    assert fields["device_time"] < host_ms / 1e3  # reported, but the host time counts


def test_marks_in_the_wrong_order_or_outside_a_call_give_no_split():
    device = ModelDevice()
    probe = probe_for(device)
    probe.mark("h2d")  # outside a timed call: ignored

    def shuffled():
        for name in ("kernel", "h2d", "d2h", "done"):
            probe.mark(name)
            device.now_ms += 1.0

    timed_call(device, probe, shuffled)
    timed_call(device, probe, marked_call(device, probe))
    report = probe.report()
    assert report["kernel"][0] is None and report["kernel"][1] == pytest.approx(3e-3)


def test_marks_are_ignored_for_code_the_workbench_did_not_write():
    device = ModelDevice()
    probe = probe_for(device, marks=False)
    timed_call(device, probe, marked_call(device, probe))
    report = probe.report()
    assert report["h2d"] == [None] and report["device"] == [pytest.approx(3.75e-3)]


def test_split_that_does_not_fit_in_the_host_time_is_dropped():
    host = [0.010, 0.010, 0.010]
    honest = {"clock": "cuda-events", "device": [0.009] * 3}
    honest |= {"h2d": [0.001] * 3, "kernel": [0.007] * 3, "d2h": [0.001] * 3}
    fields = split_medians(honest, host)
    assert fields["kernel_time"] == pytest.approx(0.007)
    assert fields["gpu_clock"] == "cuda-events"
    forged = dict(honest, kernel=[5.0, 5.0, 0.007], device=[9.0, 9.0, 9.0])
    fields = split_medians(forged, host)
    assert fields["kernel_time"] == pytest.approx(0.007)  # only the call that fits
    assert fields["device_time"] is None
    assert split_medians(dict(honest, h2d=[0.001]), host).get("h2d_time") is None  # wrong length
    assert split_medians(None, host) == {}  # a CPU candidate


def gpu_timing(**extra) -> Timing:
    fields = dict(device_time=0.0031, h2d_time=0.0004, kernel_time=0.0025, d2h_time=0.0002)
    return Timing.from_times([0.004] * 5, **(fields | {"gpu_clock": "cuda-events"} | extra))


def result_with(timing: Timing) -> OptimizeResult:
    cand = CandidateResult(id="abc12345", code="x", strategy="cupy", status="passed")
    cand.timing, cand.speedup, cand.speedup_low, cand.speedup_high = timing, 2.0, 1.8, 2.2
    ref = Reference(Timing.from_times([0.008] * 5))
    return OptimizeResult(entry="f", source="", reference=ref, candidates=[cand])


def test_split_shown_in_text_and_html_and_only_for_gpu_results():
    result = result_with(gpu_timing())
    text = result_text(result)
    assert "gpu split" in text
    assert "h2d 400 µs + kernel 2.5 ms + d2h 200 µs; device 3.1 ms" in text
    assert "h2d 400 µs + kernel 2.5 ms" in result_html(result)
    cpu = result_with(Timing.from_times([0.004] * 5))
    assert "gpu split" not in result_text(cpu) and "gpu split" not in result_html(cpu)
    sim = result_with(gpu_timing(device_time=None, gpu_clock="host (simulator)"))
    assert "(host clock: simulator)" in result_text(sim)


def test_split_survives_the_session_round_trip_and_old_sessions_load():
    cand = result_with(gpu_timing()).candidates[0]
    again = CandidateResult.from_dict(cand.to_dict())
    assert again.timing == cand.timing
    old = cand.to_dict()
    for name in ("device_time", "h2d_time", "kernel_time", "d2h_time", "gpu_clock"):
        del old["timing"][name]
    loaded = CandidateResult.from_dict(old)
    assert loaded.timing.kernel_time is None and loaded.timing.gpu_clock is None
    assert "gpu split" not in result_text(result_with(loaded.timing))


# -- the mechanical Numba CUDA candidate: what it rewrites, and what it refuses --------------

ELEMENTWISE = textwrap.dedent(
    """
    import math
    import numpy as np

    def damped(x, y, a=0.5):
        n = x.shape[0]
        out = np.empty(n)
        for i in range(n):
            # one element per iteration
            out[i] = a * math.exp(-x[i]) + y[i]
        return out
    """
)


def test_elementwise_loop_becomes_a_1d_kernel_keeping_the_users_lines():
    code = numba_cuda_variant(ELEMENTWISE, "damped")
    assert "@_wb_cuda.jit\ndef _wb_kernel_damped(a, x, y, out, _wb_start0, _wb_stop0):" in code
    assert "i = _wb_start0 + _wb_cuda.grid(1)" in code
    assert "        # one element per iteration\n" in code  # comments kept
    assert "        out[i] = a * math.exp(-x[i]) + y[i]\n" in code
    assert "def damped(x, y, a=0.5):" in code
    marks = [line.strip() for line in code.splitlines() if line.strip().startswith("_wb_mark(")]
    assert marks == [f'_wb_mark("{p}")' for p in PHASES]


def test_rewritten_function_runs_without_the_workbench(monkeypatch):
    # executed as plain Python: cuda.jit swapped for a stand-in that runs every thread
    import types

    code = numba_cuda_variant(ELEMENTWISE, "damped")
    ns: dict = {"_wb_cuda": _serial_cuda(types)}
    exec(compile(code.replace("from numba import cuda as _wb_cuda", ""), "<c>", "exec"), ns)
    x, y = np.linspace(0, 1, 300), np.arange(300.0)
    reference: dict = {}
    exec(ELEMENTWISE, reference)
    np.testing.assert_allclose(ns["damped"](x, y), reference["damped"](x, y))


def _serial_cuda(types):
    """A one-thread-at-a-time ``numba.cuda`` for executing generated code on the host."""
    state = {"tid": (0, 0)}

    class Kernel:
        def __init__(self, fn):
            self.fn = fn

        def __getitem__(self, config):
            grid, block = config

            def launch(*args):
                for bx in range(grid[0] * block[0]):
                    for by in range(grid[1] * block[1] if len(grid) > 1 else 1):
                        state["tid"] = (bx, by)
                        self.fn(*args)

            return launch

    class Device(np.ndarray):
        def copy_to_host(self, ary):
            ary[...] = self

    return types.SimpleNamespace(
        jit=Kernel,
        grid=lambda n: state["tid"][0] if n == 1 else state["tid"],
        to_device=lambda a: np.array(a).view(Device),
        synchronize=lambda: None,
    )


def test_nested_loop_filling_a_matrix_becomes_a_2d_kernel():
    source = textwrap.dedent(
        """
        import numpy as np

        def pairwise(X):
            n = X.shape[0]
            out = np.zeros((n, n))
            for i in range(n):
                for j in range(n):
                    d = 0.0
                    for k in range(X.shape[1]):
                        d += (X[i, k] - X[j, k]) ** 2
                    out[i, j] = d ** 0.5
            return out
        """
    )
    code = numba_cuda_variant(source, "pairwise")
    assert "_wb_x, _wb_y = _wb_cuda.grid(2)" in code
    assert "if i < _wb_stop0 and j < _wb_stop1:" in code
    assert "_wb_kernel_pairwise[_wb_grid, (16, 16)]" in code


def test_triangular_loop_is_one_thread_per_row():
    source = textwrap.dedent(
        """
        import numpy as np

        def lower(X):
            n = X.shape[0]
            out = np.zeros((n, n))
            for i in range(n):
                for j in range(i):
                    out[i, j] = X[i] - X[j]
            return out
        """
    )
    code = numba_cuda_variant(source, "lower")
    assert "_wb_cuda.grid(1)" in code and "for j in range(i):" in code


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("    s = 0.0\n    for i in range(n):\n        s += x[i]\n    return s", "lives across"),
        ("    out = np.empty(n)\n    for i in range(1, n):\n        out[i] = out[i - 1] + x[i]\n"
         "    return out", "other elements"),
        ("    out = x.copy()\n    for i in range(n):\n        out[i] = 2 * x[i]\n    return out",
         "not a fresh array"),
        ("    out = np.empty(n)\n    for i in range(n):\n        if x[i] < 0:\n            break\n"
         "        out[i] = x[i]\n    return out", "break/continue"),
        ("    out = np.empty(n)\n    for i in range(n):\n        out[i // 2] = x[i]\n    return out",
         "not one element"),
        ("    return np.sort(x)", "no top-level `for"),
        ("    out = np.empty(n)\n    for i in range(n):\n        try:\n            out[i] = x[i]\n"
         "        except Exception:\n            pass\n    return out", "cannot hold"),
    ],
)  # fmt: skip
def test_loops_it_cannot_rewrite_get_no_candidate_and_a_reason(body, why):
    source = f"import numpy as np\n\ndef f(x):\n    n = x.shape[0]\n{body}\n"
    with pytest.raises(workbench.UsageError, match=why):
        numba_cuda_variant(source, "f")
    strategy = NumbaCudaStrategy()
    task = type("Task", (), {"source": source, "entry": "f"})()
    assert strategy.propose(task) == []
    assert strategy.note.startswith("no Numba CUDA candidate: f")


def test_optimize_says_why_without_a_device_or_a_loop(monkeypatch):
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    source = "import numpy as np\n\ndef f(x):\n    return np.sort(x)\n"
    result = workbench.optimize(
        source, inputs=lambda n: (np.arange(n, 0, -1.0),), target="numba-cuda", sizes=[3, 8]
    )
    assert result.candidates == []
    assert any("no Numba CUDA candidate: f has no top-level" in n for n in result.notes)
