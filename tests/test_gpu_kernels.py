"""The kernels_cuda registry, and the kernels compiled for a real GPU without one.

The CUDA simulator runs Numba kernels as Python: it does not catch what only the GPU
compiler rejects (non-constant shared-array shapes, float64 creeping into float32 maths).
Where the CUDA toolkit is installed, these tests compile the ``.cu`` files with ``nvcc`` and
the Numba kernels to PTX; elsewhere they skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # kernels_cuda lives at the repository root

import kernels_cuda  # noqa: E402
from kernels_cuda import TASKS, VARIANTS, KernelTask, check  # noqa: E402

CUPY_KERNEL_NAMES = {
    "saxpy": ("saxpy_naive", "saxpy_tuned"),
    "reduce_sum": ("reduce_sum_naive", "reduce_sum_tuned"),
    "matmul": ("matmul_naive", "matmul_tiled"),
    "stencil2d": ("stencil2d_naive", "stencil2d_tuned"),
    "softmax": ("softmax_naive", "softmax_tuned"),
    "histogram": ("histogram_naive", "histogram_tuned"),
}


def test_registry_has_the_six_tasks():
    assert kernels_cuda.names() == list(CUPY_KERNEL_NAMES)


@pytest.mark.parametrize("name", list(CUPY_KERNEL_NAMES))
def test_task_inputs_are_seeded_device_friendly_and_fit_the_reference(name):
    task = TASKS[name]
    first, again = task.make_inputs(task.sim_size), task.make_inputs(task.sim_size)
    arrays = [a for a in first if isinstance(a, np.ndarray)]
    assert arrays and all(a.dtype in (np.float32, np.int32) for a in arrays)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    expected = task.reference(*first)
    assert expected.dtype in (np.float32, np.int32)
    assert np.all(np.isfinite(expected))
    assert task.bytes_moved(task.bench_size) > 0
    assert task.flops(task.bench_size) >= 0


@pytest.mark.parametrize("name", list(CUPY_KERNEL_NAMES))
def test_every_cu_file_defines_the_kernels_the_launchers_call(name):
    source = kernels_cuda.cuda_source(name)
    for kernel in CUPY_KERNEL_NAMES[name]:
        assert re.search(rf'extern "C" __global__ void {kernel}\(', source), kernel


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant"):
        TASKS["saxpy"].launcher("opencl-fast")
    assert set(VARIANTS) == {"numba-naive", "numba-tuned", "cupy-naive", "cupy-tuned"}


def test_check_reports_a_wrong_kernel_and_a_crashing_one(monkeypatch):
    def off_by_one(self, variant, *args):
        out = self.reference(*args).copy()
        out[-1] += 1
        return out

    monkeypatch.setattr(KernelTask, "run", off_by_one)
    wrong = check("histogram", "numba-naive")
    assert not wrong.ok and wrong.max_abs_error == 1.0

    def crash(self, variant, *args):
        raise RuntimeError("launch failed")

    monkeypatch.setattr(KernelTask, "run", crash)
    crashed = check("saxpy", "cupy-tuned")
    assert not crashed.ok and crashed.error == "RuntimeError: launch failed"


def test_cu_sources_compile_with_nvcc(tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found: the CUDA toolkit is not installed")
    sources = [str(ROOT / "kernels_cuda" / f"{name}.cu") for name in CUPY_KERNEL_NAMES]
    done = subprocess.run(
        [nvcc, "-ptx", "-arch=compute_80", "--output-directory", str(tmp_path), *sources],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    for name, kernels in CUPY_KERNEL_NAMES.items():
        ptx = (tmp_path / f"{name}.ptx").read_text()
        for kernel in kernels:
            assert f".entry {kernel}(" in ptx
        assert ".f64" not in ptx, f"{name}.cu does float64 maths"


PTX_SCRIPT = """
import json
from numba import cuda
import kernels_cuda._numba as k
signatures = {
    "saxpy": "void(float32, float32[::1], float32[::1], float32[::1])",
    "reduce_sum": "void(float32[::1], float32[::1])",
    "matmul": "void(float32[:, ::1], float32[:, ::1], float32[:, ::1])",
    "stencil2d": "void(float32[:, ::1], float32[:, ::1], float32)",
    "histogram": "void(int32[::1], int32[::1])",
}
try:
    cuda.compile_ptx(k._saxpy_naive.py_func, signatures["saxpy"], cc=(8, 0))
except Exception as exc:
    print(json.dumps({"skip": f"Numba cannot compile for CUDA here: {type(exc).__name__}"}))
    raise SystemExit
out = {}
for name, signature in signatures.items():
    for kind in ("naive", "tiled" if name == "matmul" else "tuned"):
        ptx, _ = cuda.compile_ptx(getattr(k, f"_{name}_{kind}").py_func, signature, cc=(8, 0))
        out[f"{name}-{kind}"] = ".f64" in ptx
print(json.dumps(out))
"""


def test_numba_kernels_compile_for_a_real_gpu_in_float32():
    # softmax is left out: Numba compiles math.exp only with a device present
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", PTX_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    assert len(result) == 10
    assert not any(result.values()), f"float64 maths in {[k for k, v in result.items() if v]}"
