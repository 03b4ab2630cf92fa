"""What GPU machinery this process has: CuPy, Numba CUDA (real or simulated) and a device.

Nothing here imports CuPy or ``numba.cuda`` until ``detect_device()`` is called, so
``import workbench`` stays cheap and works on machines without a GPU. Every backend that is
not usable says why in one line (``DeviceInfo.skipped``), so a result can tell the user what
was left out instead of failing.

Numba reads ``NUMBA_ENABLE_CUDASIM`` once, when ``numba.cuda`` is first imported: set it
before that (``simulator_env()`` builds such an environment for a worker process).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any

from .._errors import ExtraNotInstalled, UsageError

TARGETS = ("cpu", "numba-cuda", "cupy")

GPU_EXTRA_HINT = "pip install 'workbench[gpu]'"

# Peak figures of common devices, for the roofline when the driver does not report clocks
# (CUDA 13 dropped clockRate/memoryClockRate from cudaDeviceProp). (GB/s, FP32 GFLOP/s)
_KNOWN_PEAKS: dict[str, tuple[float, float]] = {
    "H200": (4800.0, 67000.0),
    "H100 PCIe": (2000.0, 51000.0),
    "H100 NVL": (3900.0, 60000.0),
    "H100": (3350.0, 67000.0),
    "A100-SXM4-80GB": (2039.0, 19500.0),
    "A100-PCIE-80GB": (1935.0, 19500.0),
    "A100": (1555.0, 19500.0),
    "L40S": (864.0, 91600.0),
    "L4": (300.0, 30300.0),
    "A10": (600.0, 31200.0),
    "T4": (320.0, 8100.0),
    "V100": (900.0, 15700.0),
    "RTX 4090": (1008.0, 82600.0),
}

# FP32 lanes per SM by compute capability (major, minor), for peak FLOP/s from the clock.
_FP32_LANES_PER_SM = {
    (6, 0): 64,
    (6, 1): 128,
    (7, 0): 64,
    (7, 5): 64,
    (8, 0): 64,
    (8, 6): 128,
    (8, 7): 128,
    (8, 9): 128,
    (9, 0): 128,
    (10, 0): 128,
    (12, 0): 128,
}


@dataclass(frozen=True)
class BackendStatus:
    """One GPU backend: usable or not, and if not, why (one line for the user)."""

    name: str
    available: bool
    reason: str = ""
    version: str | None = None


@dataclass(frozen=True)
class DeviceInfo:
    """What this process can run on, and what was skipped and why."""

    cupy: BackendStatus
    numba_cuda: BackendStatus
    #: Numba's CUDA simulator is active: kernels run on the CPU, events record no time
    simulator: bool = False
    device_name: str | None = None
    compute_capability: tuple[int, int] | None = None
    total_memory_bytes: int | None = None
    l2_cache_bytes: int | None = None
    multiprocessors: int | None = None
    peak_bandwidth_gbs: float | None = None
    peak_fp32_gflops: float | None = None
    skipped: tuple[str, ...] = field(default=())

    @property
    def has_device(self) -> bool:
        """A real CUDA device is usable (the simulator does not count)."""
        return self.cupy.available or (self.numba_cuda.available and not self.simulator)

    @property
    def targets(self) -> tuple[str, ...]:
        """The ``--target`` values that can run here (``numba-cuda`` also on the simulator)."""
        names = ["cpu"]
        if self.numba_cuda.available:
            names.append("numba-cuda")
        if self.cupy.available:
            names.append("cupy")
        return tuple(names)

    def summary(self) -> str:
        """One line for the user: the device, or what was skipped and why."""
        if self.has_device:
            parts = [f"GPU: {self.device_name}"]
            if self.compute_capability:
                parts.append("sm_{}{}".format(*self.compute_capability))
            if self.total_memory_bytes:
                parts.append(f"{self.total_memory_bytes / 2**30:.0f} GiB")
            head = ", ".join(parts)
        elif self.simulator:
            head = "no GPU: Numba CUDA simulator active (kernels run on the CPU, untimed)"
        else:
            head = "no GPU"
        usable = ", ".join(t for t in self.targets if t != "cpu") or "none"
        line = f"{head}; GPU targets: {usable}"
        if self.skipped:
            line += "; skipped: " + "; ".join(self.skipped)
        return line

    def require(self, target: str) -> None:
        """Raise a one-line error unless ``target`` can run here."""
        if target not in TARGETS:
            raise UsageError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
        if target in self.targets:
            return
        status = self.cupy if target == "cupy" else self.numba_cuda
        if "not installed" in status.reason:
            package = "cupy" if target == "cupy" else "numba"
            raise ExtraNotInstalled(package, "gpu", f"--target {target}")
        raise UsageError(f"--target {target} cannot run here: {status.reason}")


_cached: DeviceInfo | None = None


def detect_device(refresh: bool = False) -> DeviceInfo:
    """Probe CuPy and Numba CUDA once (cached); never raises for a missing GPU."""
    global _cached
    if _cached is None or refresh:
        _cached = _detect()
    return _cached


def simulator_active() -> bool:
    """Numba's CUDA simulator is (or, once ``numba.cuda`` is imported, will be) in use."""
    import sys

    cuda = sys.modules.get("numba.cuda")
    if cuda is not None:
        return ".simulator" in getattr(getattr(cuda, "event", None), "__module__", "")
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def simulator_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for a child process that runs Numba CUDA kernels on the simulator."""
    env = dict(os.environ if base is None else base)
    env["NUMBA_ENABLE_CUDASIM"] = "1"
    return env


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _first_line(exc: BaseException | str) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text.rstrip(".")[:160]


def _detect() -> DeviceInfo:
    skipped: list[str] = []
    props: dict[str, Any] = {}
    numba_status, simulator = _detect_numba(props)
    cupy_status = _detect_cupy(props)
    for status in (cupy_status, numba_status):
        if not status.available:
            skipped.append(f"{status.name}: {status.reason}")
    if simulator:
        skipped.append("real-device timing: simulator active, CUDA events record no time")
    name = props.get("name")
    known = _known_peaks(name) if name and not simulator else None
    bandwidth = props.get("peak_bandwidth_gbs") or (known[0] if known else None)
    flops = props.get("peak_fp32_gflops") or (known[1] if known else None)
    return DeviceInfo(
        cupy=cupy_status,
        numba_cuda=numba_status,
        simulator=simulator,
        device_name=name,
        compute_capability=props.get("cc"),
        total_memory_bytes=props.get("memory"),
        l2_cache_bytes=props.get("l2"),
        multiprocessors=props.get("sms"),
        peak_bandwidth_gbs=bandwidth,
        peak_fp32_gflops=flops,
        skipped=tuple(skipped),
    )


def _detect_numba(props: dict[str, Any]) -> tuple[BackendStatus, bool]:
    if not _installed("numba"):
        return BackendStatus("numba-cuda", False, f"numba not installed: {GPU_EXTRA_HINT}"), False
    try:
        import numba
        from numba import cuda
    except Exception as exc:  # a broken CUDA toolkit must not break the CPU path
        return BackendStatus("numba-cuda", False, f"numba.cuda failed: {_first_line(exc)}"), False
    version = numba.__version__
    if simulator_active():
        props.setdefault("name", "Numba CUDA simulator")
        try:
            props.setdefault("cc", tuple(cuda.gpus[0].compute_capability))
        except Exception:
            pass  # the simulator's fake device may lack it in other Numba versions
        return BackendStatus("numba-cuda", True, "simulator", version), True
    try:
        if not cuda.is_available():
            error = cuda.cuda_error()
            why = _first_line(error) if error else "no CUDA device found"
            return BackendStatus(
                "numba-cuda", False, f"no CUDA device found ({why})", version
            ), False
        device = cuda.get_current_device()
        name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
        props.setdefault("name", name)
        props.setdefault("cc", tuple(device.compute_capability))
        props.setdefault("sms", int(device.MULTIPROCESSOR_COUNT))
        props.setdefault("l2", int(device.L2_CACHE_SIZE))
        _derive_peaks(
            props,
            clock_khz=_attribute(device, "CLOCK_RATE"),
            memory_clock_khz=_attribute(device, "MEMORY_CLOCK_RATE"),
            bus_width_bits=_attribute(device, "GLOBAL_MEMORY_BUS_WIDTH"),
        )
    except Exception as exc:
        return BackendStatus(
            "numba-cuda", False, f"CUDA init failed: {_first_line(exc)}", version
        ), False
    return BackendStatus("numba-cuda", True, "", version), False


def _detect_cupy(props: dict[str, Any]) -> BackendStatus:
    if not _installed("cupy"):
        return BackendStatus("cupy", False, f"cupy not installed: {GPU_EXTRA_HINT}")
    try:
        import cupy
    except Exception as exc:
        return BackendStatus("cupy", False, f"cupy import failed: {_first_line(exc)}")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return BackendStatus(
            "cupy", False, f"no CUDA device found ({_first_line(exc)})", cupy.__version__
        )
    if count == 0:
        return BackendStatus("cupy", False, "no CUDA device found", cupy.__version__)
    try:
        device_props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    except Exception as exc:
        return BackendStatus(
            "cupy", False, f"CUDA init failed: {_first_line(exc)}", cupy.__version__
        )
    name = device_props.get("name", b"")
    props["name"] = name.decode() if isinstance(name, bytes) else str(name)
    props["cc"] = (int(device_props.get("major", 0)), int(device_props.get("minor", 0)))
    props["memory"] = int(device_props.get("totalGlobalMem", 0)) or None
    props["l2"] = int(device_props.get("l2CacheSize", 0)) or None
    props["sms"] = int(device_props.get("multiProcessorCount", 0)) or None
    _derive_peaks(
        props,
        clock_khz=device_props.get("clockRate"),
        memory_clock_khz=device_props.get("memoryClockRate"),
        bus_width_bits=device_props.get("memoryBusWidth"),
    )
    return BackendStatus("cupy", True, "", cupy.__version__)


def _attribute(device: Any, name: str) -> int | None:
    try:
        return int(getattr(device, name))
    except Exception:
        return None


def _derive_peaks(
    props: dict[str, Any],
    clock_khz: int | None,
    memory_clock_khz: int | None,
    bus_width_bits: int | None,
) -> None:
    # DDR: two transfers per memory clock
    if memory_clock_khz and bus_width_bits and "peak_bandwidth_gbs" not in props:
        props["peak_bandwidth_gbs"] = 2 * memory_clock_khz * 1e3 * bus_width_bits / 8 / 1e9
    lanes = _FP32_LANES_PER_SM.get(props.get("cc") or (0, 0))
    if clock_khz and lanes and props.get("sms") and "peak_fp32_gflops" not in props:
        # one FMA = 2 FLOPs per lane per clock
        props["peak_fp32_gflops"] = 2 * lanes * props["sms"] * clock_khz * 1e3 / 1e9


def _known_peaks(name: str) -> tuple[float, float] | None:
    for key, peaks in _KNOWN_PEAKS.items():  # most specific keys first
        if key in name:
            return peaks
    return None
