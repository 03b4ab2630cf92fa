"""Honest GPU timing for CuPy and Numba CUDA callables.

One trial of ``fn(*args)``::

    [flush L2]  synchronise device  | start event  t0 | fn(*args) | end event  sync device  t1 |

* device time: CUDA events recorded on the stream in use (kernel time on that stream);
* host time: wall clock from the call to the moment the *whole device* is idle again, so a
  candidate that returns before its kernel finishes, or that launches on a side stream the
  events do not see, pays for that work here;
* the trial counts as ``max(device, host)``: nobody gains a speedup from asynchrony.

Warm-ups are not timed. An optional L2 flush (a device-side write of a buffer larger than L2)
runs before each trial, outside the timed region. Host<->device copies of the inputs and the
result are timed apart from compute (``transfer_ms``).

For CuPy without the L2 flush, ``cupyx.profiler.benchmark`` drives the repeats (its CPU clock
covers our device synchronise; our own events give kernel time). Numba CUDA uses
``numba.cuda.event``. Under Numba's CUDA simulator events record no time: ``device_ms`` is
``None`` and the host time (which then includes the simulated kernel) is what counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .._errors import UsageError
from .._timeline import phase
from ._device import detect_device, simulator_active

DEFAULT_FLUSH_BYTES = 256 * 2**20  # larger than the L2 of any current GPU (H200: 60 MiB)
SIMULATOR_FLUSH_BYTES = 64 * 2**10  # the simulator has no cache; exercise the path cheaply


@dataclass
class GpuTiming:
    """Per-call times in milliseconds; ``median_ms`` is the one to rank candidates by."""

    backend: str
    #: median over trials of max(device, host): the honest per-call time
    median_ms: float
    #: interquartile range of those trials
    spread_ms: float
    repeats: int
    warmups: int
    #: median kernel time from CUDA events on the stream; None where events time nothing
    device_ms: float | None
    #: median wall time from the call until the whole device is idle
    host_ms: float
    #: median host->device copy of the array inputs plus device->host copy of the result
    transfer_ms: float | None = None
    h2d_ms: float | None = None
    d2h_ms: float | None = None
    l2_flushed: bool = False
    samples_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        device = "n/a" if self.device_ms is None else f"{self.device_ms:.4g} ms"
        line = (
            f"{self.backend}: {self.median_ms:.4g} ms ± {self.spread_ms:.2g} "
            f"(device {device}, host {self.host_ms:.4g} ms, {self.repeats} repeats)"
        )
        if self.transfer_ms is not None:
            line += f"; transfers {self.transfer_ms:.4g} ms"
        return line


class _Backend:
    """The few device operations the timing loop needs."""

    name = "?"
    events_time = True

    def event(self) -> Any:
        raise NotImplementedError

    def record(self, event: Any) -> None:
        raise NotImplementedError

    def elapsed_ms(self, start: Any, end: Any) -> float | None:
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for every stream of the device, not only the one in use."""
        raise NotImplementedError

    def flush_l2(self) -> None:
        raise NotImplementedError

    def is_host_array(self, value: Any) -> bool:
        import numpy as np

        return isinstance(value, np.ndarray)

    def to_device(self, value: Any) -> Any:
        raise NotImplementedError

    def is_device_array(self, value: Any) -> bool:
        raise NotImplementedError

    def to_host(self, value: Any) -> Any:
        raise NotImplementedError


class _NumbaBackend(_Backend):
    name = "numba-cuda"

    def __init__(self, stream: Any = None, flush_bytes: int | None = None) -> None:
        from numba import cuda

        self.cuda = cuda
        self.stream = 0 if stream is None else stream
        self.simulator = simulator_active()
        if self.simulator:
            self.name = "numba-cuda-sim"
            self.events_time = False
        self._flush_bytes = flush_bytes
        self._flush_buffer: Any = None

    def event(self) -> Any:
        # the simulator's Event takes no arguments
        return self.cuda.event() if self.simulator else self.cuda.event(timing=True)

    def record(self, event: Any) -> None:
        event.record(stream=self.stream)

    def elapsed_ms(self, start: Any, end: Any) -> float | None:
        if self.simulator:
            return None
        end.synchronize()
        return float(start.elapsed_time(end))

    def synchronize(self) -> None:
        self.cuda.synchronize()

    def flush_l2(self) -> None:
        import numpy as np

        if self._flush_buffer is None:
            default = SIMULATOR_FLUSH_BYTES if self.simulator else _flush_size()
            nbytes = self._flush_bytes or default
            self._flush_buffer = self.cuda.device_array(nbytes, dtype=np.uint8)
        if self.simulator:
            self._flush_buffer.copy_to_device(np.zeros(self._flush_buffer.size, np.uint8))
            return
        from numba.cuda.cudadrv.driver import device_memset

        device_memset(self._flush_buffer, 0, self._flush_buffer.size)

    def to_device(self, value: Any) -> Any:
        return self.cuda.to_device(value, stream=self.stream)

    def is_device_array(self, value: Any) -> bool:
        # DeviceNDArray and the simulator's FakeCUDAArray copy themselves back
        return hasattr(value, "copy_to_host") and not self.is_host_array(value)

    def to_host(self, value: Any) -> Any:
        return value.copy_to_host(stream=self.stream)


class _CupyBackend(_Backend):
    name = "cupy"

    def __init__(self, stream: Any = None, flush_bytes: int | None = None) -> None:
        import cupy

        self.cupy = cupy
        self.stream = stream
        self._flush_bytes = flush_bytes
        self._flush_buffer: Any = None

    def _stream(self) -> Any:
        return self.stream if self.stream is not None else self.cupy.cuda.get_current_stream()

    def event(self) -> Any:
        return self.cupy.cuda.Event()

    def record(self, event: Any) -> None:
        event.record(self._stream())

    def elapsed_ms(self, start: Any, end: Any) -> float | None:
        end.synchronize()
        return float(self.cupy.cuda.get_elapsed_time(start, end))

    def synchronize(self) -> None:
        self.cupy.cuda.runtime.deviceSynchronize()

    def flush_l2(self) -> None:
        if self._flush_buffer is None:
            nbytes = self._flush_bytes or _flush_size()
            self._flush_buffer = self.cupy.empty(nbytes, dtype=self.cupy.uint8)
        with self._stream():
            self._flush_buffer.fill(0)  # a kernel write: evicts L2 on the device side

    def to_device(self, value: Any) -> Any:
        with self._stream():
            return self.cupy.asarray(value)

    def is_device_array(self, value: Any) -> bool:
        return isinstance(value, self.cupy.ndarray)

    def to_host(self, value: Any) -> Any:
        return self.cupy.asnumpy(value, stream=self._stream())


def _flush_size() -> int:
    l2 = detect_device().l2_cache_bytes
    return max(4 * l2, 32 * 2**20) if l2 else DEFAULT_FLUSH_BYTES


def _make_backend(backend: str, stream: Any, flush_bytes: int | None) -> _Backend:
    if backend == "auto":
        info = detect_device()
        if info.cupy.available:
            backend = "cupy"
        elif info.numba_cuda.available:
            backend = "numba-cuda"
        else:
            raise UsageError(f"GPU timing needs a device or the simulator: {info.summary()}")
    if backend == "cupy":
        detect_device().require("cupy")
        return _CupyBackend(stream, flush_bytes)
    if backend == "numba-cuda":
        detect_device().require("numba-cuda")
        return _NumbaBackend(stream, flush_bytes)
    raise UsageError(f"unknown GPU backend {backend!r}; choose auto, cupy or numba-cuda")


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _iqr(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    import numpy as np

    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def _trial(
    backend: _Backend, call: Callable[[], Any], clock: Callable[[], float]
) -> tuple[float | None, float, Any]:
    """One timed call: (device ms or None, host ms, result). The device starts idle."""
    start, end = backend.event(), backend.event()
    backend.synchronize()
    backend.record(start)
    t0 = clock()
    result = call()
    backend.record(end)
    backend.synchronize()  # all streams: side-stream or unfinished work is paid for here
    t1 = clock()
    return backend.elapsed_ms(start, end), (t1 - t0) * 1e3, result


def time_gpu(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    *,
    backend: str = "auto",
    warmups: int = 3,
    repeats: int = 20,
    flush_l2: bool = False,
    stream: Any = None,
    to_device: bool = False,
    max_seconds: float | None = None,
    flush_bytes: int | None = None,
    label: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
    _backend: _Backend | None = None,
) -> GpuTiming:
    """Time ``fn(*args)`` on a GPU (or the simulator) and report device, host and transfer time.

    ``to_device=True`` copies NumPy array arguments to the device once before timing
    compute, and times that copy and the copy of the result back (``transfer_ms``).
    ``max_seconds`` stops the repeats early (at least three are kept). ``label`` names the
    timed thing in the NVTX range and the timeline (e.g. a candidate id).
    """
    if repeats < 1 or warmups < 0:
        raise UsageError("GPU timing needs repeats >= 1 and warmups >= 0")
    engine = _backend or _make_backend(backend, stream, flush_bytes)
    notes: list[str] = []
    h2d: list[float] = []
    d2h: list[float] = []
    attributes = {"backend": engine.name, "repeats": repeats, "flush_l2": flush_l2}
    if label is not None:
        attributes["label"] = label
    with phase("time", **attributes):
        call_args = list(args)
        if to_device:
            with phase("transfer:h2d"):
                call_args, h2d = _time_h2d(engine, list(args), repeats, clock)
        bound = lambda: fn(*call_args)  # noqa: E731
        result = None
        for _ in range(warmups):
            result = bound()
        engine.synchronize()
        if _use_cupy_benchmark(engine, flush_l2):
            devices, hosts, result = _cupy_benchmark(engine, bound, repeats, max_seconds)
        else:
            devices, hosts, result = _loop(engine, bound, repeats, flush_l2, max_seconds, clock)
        if to_device:
            with phase("transfer:d2h"):
                d2h = _time_d2h(engine, result, repeats, clock)
    if not engine.events_time:
        notes.append("Numba CUDA simulator: events record no time; host time reported")
    if to_device and not d2h:
        notes.append("result is not a device array: no device->host copy timed")
    trials = [max(h, d or 0.0) for d, h in zip(devices, hosts)]
    measured = [d for d in devices if d is not None]
    if measured and _median(measured) < 0.5 * _median(hosts):
        notes.append(
            "host time well above kernel time: launch overhead, host work, or work on "
            "another stream; the host time counts"
        )
    transfer = _sum_medians(h2d, d2h)
    return GpuTiming(
        backend=engine.name,
        median_ms=_median(trials),
        spread_ms=_iqr(trials),
        repeats=len(trials),
        warmups=warmups,
        device_ms=_median(measured) if measured else None,
        host_ms=_median(hosts),
        transfer_ms=transfer,
        h2d_ms=_median(h2d) if h2d else None,
        d2h_ms=_median(d2h) if d2h else None,
        l2_flushed=flush_l2,
        samples_ms=trials,
        notes=notes,
    )


def _loop(
    engine: _Backend,
    call: Callable[[], Any],
    repeats: int,
    flush_l2: bool,
    max_seconds: float | None,
    clock: Callable[[], float],
) -> tuple[list[float | None], list[float], Any]:
    devices: list[float | None] = []
    hosts: list[float] = []
    result = None
    began = time.perf_counter()
    for _ in range(repeats):
        if flush_l2:
            engine.flush_l2()  # before the synchronise in _trial: not timed
        with phase("time:trial", record=False):
            device, host, result = _trial(engine, call, clock)
        devices.append(device)
        hosts.append(host)
        out_of_time = max_seconds is not None and time.perf_counter() - began > max_seconds
        if out_of_time and len(hosts) >= 3:
            break
    return devices, hosts, result


def _use_cupy_benchmark(engine: _Backend, flush_l2: bool) -> bool:
    return isinstance(engine, _CupyBackend) and not flush_l2


def _cupy_benchmark(
    engine: _Backend,
    call: Callable[[], Any],
    repeats: int,
    max_seconds: float | None,
) -> tuple[list[float | None], list[float], Any]:
    """Repeats driven by ``cupyx.profiler.benchmark``; its CPU clock covers our device sync."""
    from cupyx.profiler import benchmark

    pairs: list[tuple[Any, Any]] = []
    last: list[Any] = [None]

    def synced() -> None:
        start, end = engine.event(), engine.event()
        engine.record(start)
        last[0] = call()
        engine.record(end)
        engine.synchronize()
        pairs.append((start, end))

    # time_gpu has warmed up already; reading the events after the run keeps the event
    # queries out of the CPU clock
    result = benchmark(
        synced,
        n_warmup=0,
        n_repeat=repeats,
        max_duration=math.inf if max_seconds is None else max_seconds,
    )
    hosts = [float(t) * 1e3 for t in result.cpu_times]
    devices = [engine.elapsed_ms(start, end) for start, end in pairs[: len(hosts)]]
    return devices, hosts, last[0]


def _time_h2d(
    engine: _Backend, args: list[Any], repeats: int, clock: Callable[[], float]
) -> tuple[list[Any], list[float]]:
    indices = [i for i, a in enumerate(args) if engine.is_host_array(a)]
    if not indices:
        return args, []
    times: list[float] = []
    moved: list[Any] = list(args)
    for _ in range(max(1, min(repeats, 5))):
        device, host, copies = _trial(
            engine, lambda: [engine.to_device(args[i]) for i in indices], clock
        )
        times.append(max(host, device or 0.0))
        for i, copy in zip(indices, copies):
            moved[i] = copy
    return moved, times


def _time_d2h(
    engine: _Backend, result: Any, repeats: int, clock: Callable[[], float]
) -> list[float]:
    values = result if isinstance(result, (tuple, list)) else [result]
    arrays = [v for v in values if engine.is_device_array(v)]
    if not arrays:
        return []
    times = []
    for _ in range(max(1, min(repeats, 5))):
        device, host, _ = _trial(engine, lambda: [engine.to_host(a) for a in arrays], clock)
        times.append(max(host, device or 0.0))
    return times


def _sum_medians(first: list[float], second: list[float]) -> float | None:
    if not first and not second:
        return None
    return (_median(first) if first else 0.0) + (_median(second) if second else 0.0)


# -- the optimize worker's view of a GPU candidate --------------------------------------------

#: the phase marks a workbench-generated GPU wrapper makes, in this order (``MARK(name)``)
PHASES = ("h2d", "kernel", "d2h", "done")
#: the global a generated wrapper calls at each phase boundary: a no-op outside the worker
MARK = "_wb_mark"


class CallProbe:
    """Device-side times of one candidate's timed calls, for the optimize worker.

    Around each call the worker calls ``begin()`` (device idle, start event), then the
    candidate, then ``end()`` (end event, *whole device* synchronised: unfinished or
    side-stream work is paid for before the host clock stops), then, with the clock stopped,
    ``collect()``. A workbench-generated wrapper may call ``mark(phase)`` at the boundaries in
    ``PHASES``; from those come the host->device, kernel and device->host split. Events are
    recorded on the legacy default stream, which waits for every blocking stream.

    The candidate can call ``mark`` wrongly (other order, more or fewer marks): that call's
    split is dropped. It cannot make the host time smaller, which stays the time that counts;
    the kernel also drops a split that does not fit inside the host time.
    """

    def __init__(self, backend: _Backend, marks: bool, clock: Callable[[], float]) -> None:
        self.backend = backend
        self.clock = clock
        self.marks_enabled = marks
        self.events_time = backend.events_time
        self._marks: list[tuple[str, Any, float]] = []
        self._span: tuple[Any, Any] | None = None
        self.device: list[float | None] = []
        self.split: dict[str, list[float | None]] = {p: [] for p in PHASES[:-1]}

    def mark(self, name: str) -> None:
        """A phase boundary inside the candidate's call (``PHASES``)."""
        if self._span is None or len(self._marks) > len(PHASES):
            return  # outside a timed call, or called far too often: ignored
        event = self.backend.event()
        self.backend.record(event)
        self._marks.append((str(name), event, self.clock()))

    def begin(self) -> None:
        self._marks = []
        start, end = self.backend.event(), self.backend.event()
        self.backend.synchronize()  # the call starts with an idle device
        self.backend.record(start)
        self._span = (start, end)

    def end(self) -> None:
        if self._span is not None:
            self.backend.record(self._span[1])
        self.backend.synchronize()

    def collect(self) -> None:
        """Read this call's events (after the host clock has stopped)."""
        span, self._span = self._span, None
        marks, self._marks = self._marks, []
        self.device.append(self._elapsed_s(*span) if span and self.events_time else None)
        split = self._split(marks)
        for name in self.split:
            self.split[name].append(split.get(name) if split else None)

    def _split(self, marks: list[tuple[str, Any, float]]) -> dict[str, float] | None:
        if not self.marks_enabled or tuple(m[0] for m in marks) != PHASES:
            return None
        out = {}
        for (name, start, t0), (_, end, t1) in zip(marks, marks[1:]):
            # the simulator runs kernels synchronously and its events time nothing: there the
            # host clock between marks is the phase time
            seconds = self._elapsed_s(start, end) if self.events_time else t1 - t0
            if seconds is None:
                return None
            out[name] = seconds
        return out

    def _elapsed_s(self, start: Any, end: Any) -> float | None:
        ms = self.backend.elapsed_ms(start, end)
        return None if ms is None else ms / 1e3

    def report(self) -> dict[str, Any]:
        """Per-call lists for the timing message (seconds; None where nothing was measured)."""
        clock = "cuda-events" if self.events_time else "host (simulator)"
        return {"backend": self.backend.name, "clock": clock, "device": self.device, **self.split}


def call_probe(
    target: str, marks: bool, clock: Callable[[], float] = time.perf_counter
) -> CallProbe:
    """A ``CallProbe`` for ``target`` (``cupy`` or ``numba-cuda``), its events on the legacy
    default stream. Call before the candidate is loaded: the device functions are bound now."""
    if target == "cupy":
        import cupy

        backend: _Backend = _CupyBackend(stream=cupy.cuda.Stream.null)
    elif target == "numba-cuda":
        backend = _NumbaBackend(stream=0)
    else:
        raise UsageError(f"unknown GPU target {target!r}; choose cupy or numba-cuda")
    backend.synchronize = _bound_synchronize(backend)  # type: ignore[method-assign]
    return CallProbe(backend, marks, clock)


def _bound_synchronize(backend: _Backend) -> Callable[[], None]:
    """The device-wide synchronise, taken from the library now: a candidate that rebinds
    ``cupy.cuda.runtime.deviceSynchronize`` or ``numba.cuda.synchronize`` later changes nothing."""
    if isinstance(backend, _CupyBackend):
        return backend.cupy.cuda.runtime.deviceSynchronize
    if isinstance(backend, _NumbaBackend):
        return backend.cuda.synchronize
    return backend.synchronize


def split_medians(gpu: dict[str, Any] | None, host_times: Sequence[float]) -> dict[str, Any]:
    """Median device time and phase split (seconds) from a worker's per-call GPU lists.

    Calls whose device times do not fit inside their host time (forged, or an event that
    saw something else) are left out; returns the ``Timing`` fields, empty for CPU runs.
    """
    if not gpu:
        return {}
    n = len(host_times)
    slack = 1.05  # events and the host clock are separate clocks

    def fits(values: Any) -> bool:
        return isinstance(values, list) and len(values) == n

    fields: dict[str, Any] = {"gpu_clock": str(gpu.get("clock", ""))[:40] or None}
    device = gpu.get("device")
    if fits(device):
        kept = [
            float(d)
            for d, h in zip(device, host_times)
            if isinstance(d, int | float) and 0 <= d <= h * slack + 1e-6
        ]
        fields["device_time"] = _median(kept) if kept else None
    phases = [gpu.get(p) for p in PHASES[:-1]]
    if all(fits(v) for v in phases):
        calls = []
        for k, host in enumerate(host_times):
            parts = [v[k] for v in phases]
            numbers = all(isinstance(p, int | float) and p >= 0 for p in parts)
            if numbers and sum(parts) <= host * slack + 1e-6:
                calls.append(parts)
        if calls:
            for name, column in zip(("h2d_time", "kernel_time", "d2h_time"), zip(*calls)):
                fields[name] = _median(column)
    return fields
