"""Device detection and NVTX phases: lazy imports, one-line reasons, an in-memory timeline."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench import _timeline as _nvtx
from workbench._errors import ExtraNotInstalled, UsageError
from workbench._timeline import Timeline, phase
from workbench.gpu import _device
from workbench.gpu._device import BackendStatus, DeviceInfo, detect_device

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_gpu_modules_imports_no_gpu_library():
    code = (
        "import sys, workbench, workbench.gpu._device, workbench.gpu._timing, workbench._timeline, "
        "workbench.optimizer.strategies._gpu, kernels_cuda\n"
        "print(sorted(m for m in ('cupy', 'numba.cuda', 'nvtx') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def no_gpu(cupy_reason: str = "cupy not installed: pip install 'workbench[gpu]'") -> DeviceInfo:
    return DeviceInfo(
        cupy=BackendStatus("cupy", False, cupy_reason),
        numba_cuda=BackendStatus("numba-cuda", False, "no CUDA device found"),
        skipped=(f"cupy: {cupy_reason}", "numba-cuda: no CUDA device found"),
    )


def test_without_a_gpu_only_the_cpu_target_is_offered_and_the_reasons_are_given():
    info = no_gpu()
    assert info.targets == ("cpu",)
    assert not info.has_device
    line = info.summary()
    assert "\n" not in line
    assert "pip install 'workbench[gpu]'" in line
    assert "no CUDA device found" in line


def test_asking_for_a_missing_extra_names_the_pip_command():
    with pytest.raises(ExtraNotInstalled, match=r"workbench\[gpu\]"):
        no_gpu().require("cupy")


def test_asking_for_a_target_without_a_device_says_why():
    info = no_gpu(cupy_reason="no CUDA device found (cudaErrorNoDevice)")
    with pytest.raises(UsageError, match="cudaErrorNoDevice"):
        info.require("cupy")
    with pytest.raises(UsageError, match="unknown target"):
        info.require("opencl")
    info.require("cpu")  # always possible


def test_a_gpu_is_reported_with_its_name_and_targets():
    info = DeviceInfo(
        cupy=BackendStatus("cupy", True, "", "13.3.0"),
        numba_cuda=BackendStatus("numba-cuda", True, "", "0.60.0"),
        device_name="NVIDIA H100 80GB HBM3",
        compute_capability=(9, 0),
        total_memory_bytes=80 * 2**30,
    )
    assert info.has_device
    assert info.targets == ("cpu", "numba-cuda", "cupy")
    assert info.summary().startswith("GPU: NVIDIA H100 80GB HBM3, sm_90, 80 GiB")
    info.require("cupy")


def test_the_simulator_is_not_a_gpu():
    info = DeviceInfo(
        cupy=BackendStatus("cupy", False, "cupy not installed"),
        numba_cuda=BackendStatus("numba-cuda", True, "simulator"),
        simulator=True,
        device_name="Numba CUDA simulator",
    )
    assert not info.has_device
    assert info.targets == ("cpu", "numba-cuda")
    assert "simulator" in info.summary()


def test_detection_on_this_machine_never_raises_and_explains_every_gap():
    info = detect_device(refresh=True)
    assert detect_device() is info  # cached
    assert "cpu" in info.targets
    for status in (info.cupy, info.numba_cuda):
        if not status.available:
            assert status.reason and "\n" not in status.reason
            assert any(line.startswith(f"{status.name}: ") for line in info.skipped)


def test_missing_cupy_is_reported_as_the_gpu_extra(monkeypatch):
    real = _device._installed
    monkeypatch.setattr(_device, "_installed", lambda name: name != "cupy" and real(name))
    status = _device._detect_cupy({})
    assert not status.available
    assert status.reason == "cupy not installed: pip install 'workbench[gpu]'"


def test_peaks_come_from_the_clocks_or_the_known_table():
    props = {"cc": (9, 0), "sms": 132}
    _device._derive_peaks(
        props, clock_khz=1_980_000, memory_clock_khz=2_619_000, bus_width_bits=5120
    )
    assert props["peak_bandwidth_gbs"] == pytest.approx(3352, rel=1e-3)
    assert props["peak_fp32_gflops"] == pytest.approx(66908, rel=1e-3)
    assert _device._known_peaks("NVIDIA H100 PCIe") == (2000.0, 51000.0)
    assert _device._known_peaks("NVIDIA L40S") == (864.0, 91600.0)
    assert _device._known_peaks("Some Future GPU") is None


def test_simulator_env_asks_numba_for_the_simulator():
    env = _device.simulator_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "NUMBA_ENABLE_CUDASIM": "1"}


# --- NVTX phases and the timeline ------------------------------------------------------------


class RecordingDomain:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def push_range(self, message=None, color=None):
        self.calls.append(("push", message))

    def pop_range(self):
        self.calls.append(("pop", None))


@pytest.fixture
def domain(monkeypatch):
    fake = RecordingDomain()
    monkeypatch.setattr(_nvtx, "_domain", fake)
    monkeypatch.setattr(_nvtx, "_nvtx_checked", True)
    return fake


def test_phase_records_name_times_and_attributes(domain):
    timeline = Timeline()
    before = time.time()
    with phase("verify", timeline=timeline, candidate=3) as attrs:
        attrs["passed"] = True
    (entry,) = timeline.entries
    assert entry.name == "verify"
    assert before <= entry.start <= entry.end <= time.time()
    assert entry.attributes == {"candidate": 3, "passed": True}
    assert domain.calls == [("push", "verify"), ("pop", None)]


def test_nested_phases_close_inner_first_and_ranges_balance(domain):
    timeline = Timeline()
    with phase("round", timeline=timeline), phase("compile", timeline=timeline):
        pass
    assert [e.name for e in timeline.entries] == ["compile", "round"]
    outer, inner = timeline.entries[1], timeline.entries[0]
    assert outer.start <= inner.start <= inner.end <= outer.end
    assert [c[0] for c in domain.calls] == ["push", "push", "pop", "pop"]


def test_a_failing_phase_is_recorded_and_the_error_goes_on(domain):
    timeline = Timeline()
    with pytest.raises(ZeroDivisionError), phase("time", timeline=timeline):
        1 / 0  # noqa: B018
    assert timeline.entries[0].attributes == {"error": "ZeroDivisionError"}
    assert domain.calls[-1] == ("pop", None)


def test_record_false_keeps_the_range_but_not_the_timeline_entry(domain):
    timeline = Timeline()
    with phase("time:trial", timeline=timeline, record=False):
        pass
    assert len(timeline) == 0
    assert domain.calls == [("push", "time:trial"), ("pop", None)]


def test_without_nvtx_phases_still_fill_the_timeline(monkeypatch):
    monkeypatch.setattr(_nvtx, "_domain", None)
    monkeypatch.setattr(_nvtx, "_nvtx_checked", True)
    assert not _nvtx.nvtx_available()
    timeline = Timeline()
    with phase("generate", timeline=timeline, path="vectorize"):
        pass
    assert timeline.records() == [
        {
            "name": "generate",
            "start": timeline.entries[0].start,
            "end": timeline.entries[0].end,
            "attributes": {"path": "vectorize"},
        }
    ]


def test_the_real_nvtx_package_accepts_our_ranges_when_installed():
    pytest.importorskip("nvtx")
    monkey_checked = _nvtx._nvtx_checked
    try:
        _nvtx._nvtx_checked = False
        timeline = Timeline()
        with phase("compile", timeline=timeline), phase("time", timeline=timeline):
            pass
        assert _nvtx.nvtx_available()
        assert len(timeline) == 2
    finally:
        _nvtx._nvtx_checked = monkey_checked
