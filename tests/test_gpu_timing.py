"""GPU timing logic with a modelled device: honest times for asynchronous candidates.

The model is a clock in milliseconds that advances when the device runs work. Events on
"our" stream see only what ran on it; work queued on a side stream shows up only when the
whole device is synchronised. (The same timing code runs on the Numba CUDA simulator in
``test_gpu_cudasim.py``.)
"""

from __future__ import annotations

import sys
import types

import pytest

from workbench._errors import UsageError
from workbench.gpu._timing import GpuTiming, _Backend, _CupyBackend, time_gpu


class OnDevice:
    def __init__(self, value) -> None:
        self.value = value

    def __eq__(self, other) -> bool:
        return isinstance(other, OnDevice) and other.value == self.value


class ModelDevice(_Backend):
    name = "model"

    def __init__(self) -> None:
        self.now_ms = 0.0
        self.side_stream_ms = 0.0  # queued on another stream: invisible to our events
        self.flushes = 0
        self.synchronizations = 0

    def clock(self) -> float:
        return self.now_ms / 1e3

    def event(self) -> dict:
        return {}

    def record(self, event: dict) -> None:
        event["t"] = self.now_ms

    def elapsed_ms(self, start: dict, end: dict) -> float:
        return end["t"] - start["t"]

    def synchronize(self) -> None:
        self.synchronizations += 1
        self.now_ms += self.side_stream_ms
        self.side_stream_ms = 0.0

    def flush_l2(self) -> None:
        self.flushes += 1
        self.side_stream_ms += 100.0  # a slow flush, queued: must stay outside the timing

    def is_host_array(self, value) -> bool:
        return isinstance(value, list)

    def to_device(self, value):
        self.now_ms += 0.5
        return OnDevice(value)

    def is_device_array(self, value) -> bool:
        return isinstance(value, OnDevice)

    def to_host(self, value):
        self.now_ms += 0.25
        return value.value


def on_our_stream(device: ModelDevice, ms: float):
    def candidate():
        device.now_ms += ms  # the kernel runs on the stream the events are recorded on
        return OnDevice([1.0])

    return candidate


def on_side_stream(device: ModelDevice, ms: float):
    def candidate():
        device.now_ms += 0.01  # launch and return at once
        device.side_stream_ms += ms
        return OnDevice([1.0])

    return candidate


def timed(device: ModelDevice, fn, backend: _Backend | None = None, **options) -> GpuTiming:
    options.setdefault("warmups", 2)
    options.setdefault("repeats", 5)
    return time_gpu(fn, _backend=backend or device, clock=device.clock, **options)


def test_kernel_on_our_stream_is_timed_by_events_and_host_alike():
    device = ModelDevice()
    timing = timed(device, on_our_stream(device, 5.0))
    assert timing.device_ms == pytest.approx(5.0)
    assert timing.host_ms == pytest.approx(5.0)
    assert timing.median_ms == pytest.approx(5.0)
    assert timing.repeats == 5 and timing.warmups == 2
    assert timing.spread_ms == pytest.approx(0.0)


def test_side_stream_candidate_gains_no_speedup():
    device = ModelDevice()
    honest = timed(device, on_our_stream(device, 5.0))
    sneaky = timed(device, on_side_stream(device, 5.0))
    # the events saw almost nothing, but the host clock waited for the whole device
    assert sneaky.device_ms is not None and sneaky.device_ms < 0.1
    assert sneaky.median_ms >= honest.median_ms
    assert any("another stream" in note for note in sneaky.notes)


def test_candidate_returning_before_its_kernel_finishes_pays_for_it():
    device = ModelDevice()

    def returns_early():
        device.side_stream_ms += 3.0  # still running when the call returns
        return None

    timing = timed(device, returns_early)
    assert timing.median_ms == pytest.approx(3.0)


def test_warmups_are_not_timed_and_each_trial_starts_idle():
    device = ModelDevice()
    calls = []

    def first_call_is_slow():
        calls.append(1)
        device.now_ms += 50.0 if len(calls) == 1 else 1.0

    timing = timed(device, first_call_is_slow, warmups=1, repeats=4)
    assert len(calls) == 5
    assert timing.samples_ms == pytest.approx([1.0] * 4)


def test_l2_flush_runs_before_every_trial_and_outside_the_timing():
    device = ModelDevice()
    timing = timed(device, on_our_stream(device, 2.0), flush_l2=True, repeats=6)
    assert device.flushes == 6
    assert timing.l2_flushed
    assert timing.median_ms == pytest.approx(2.0)  # the 100 ms flushes are not in it


def test_transfers_are_reported_apart_from_compute():
    device = ModelDevice()
    seen = []

    def kernel(x, scale):
        seen.append((x, scale))
        device.now_ms += 4.0
        return OnDevice([2.0])

    timing = timed(device, kernel, args=([1.0, 2.0], 3), to_device=True)
    assert seen[-1] == (OnDevice([1.0, 2.0]), 3)  # arrays moved once, scalars left alone
    assert timing.median_ms == pytest.approx(4.0)  # compute only
    assert timing.h2d_ms == pytest.approx(0.5)
    assert timing.d2h_ms == pytest.approx(0.25)
    assert timing.transfer_ms == pytest.approx(0.75)


def test_max_seconds_keeps_at_least_three_repeats():
    device = ModelDevice()
    timing = timed(device, on_our_stream(device, 1.0), repeats=100, max_seconds=0.0)
    assert timing.repeats == 3


def test_bad_repeat_counts_are_a_usage_error():
    with pytest.raises(UsageError):
        time_gpu(lambda: None, repeats=0, _backend=ModelDevice())


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown GPU backend"):
        time_gpu(lambda: None, backend="opencl")


class ModelCupy(_CupyBackend):
    """The CuPy backend's decisions on the model device (no CuPy needed)."""

    def __init__(self, device: ModelDevice) -> None:
        self.device = device
        self.stream = None

    def event(self):
        return self.device.event()

    def record(self, event):
        self.device.record(event)

    def elapsed_ms(self, start, end):
        return self.device.elapsed_ms(start, end)

    def synchronize(self):
        self.device.synchronize()


def test_cupy_path_uses_cupyx_benchmark_and_stays_honest(monkeypatch):
    device = ModelDevice()
    used = {}

    def benchmark(func, args=(), kwargs=None, n_repeat=10000, *, n_warmup=10, max_duration=None):
        # what cupyx.profiler.benchmark does: CPU clock around each call, no device sync
        used.update(n_repeat=n_repeat, n_warmup=n_warmup)
        cpu = []
        for _ in range(n_repeat):
            t0 = device.clock()
            func(*args)
            cpu.append(device.clock() - t0)
        return types.SimpleNamespace(cpu_times=cpu)

    profiler = types.ModuleType("cupyx.profiler")
    profiler.benchmark = benchmark
    monkeypatch.setitem(sys.modules, "cupyx", types.ModuleType("cupyx"))
    monkeypatch.setitem(sys.modules, "cupyx.profiler", profiler)
    timing = timed(device, on_side_stream(device, 5.0), ModelCupy(device), warmups=3, repeats=7)
    assert used == {"n_repeat": 7, "n_warmup": 0}  # our warm-ups ran already
    assert timing.repeats == 7
    assert timing.median_ms == pytest.approx(5.01)  # the device sync is inside its CPU clock
