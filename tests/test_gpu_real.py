"""On a real CUDA device: CuPy and Numba kernels, CUDA-event timing, the CuPy candidate.

Every test skips cleanly without a device (and under the simulator, which is no GPU).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from workbench.gpu._device import detect_device
from workbench.gpu._timing import time_gpu
from workbench.optimizer.strategies._gpu import cupy_variant, gpu_tolerances

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kernels_cuda import TASKS, check  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def device():
    info = detect_device()
    if not info.has_device:
        pytest.skip(f"needs a CUDA device: {info.summary()}")
    return info


@pytest.fixture(scope="module")
def cupy(device):
    if not device.cupy.available:
        pytest.skip(device.cupy.reason)
    import cupy

    return cupy


@pytest.fixture(scope="module")
def numba_cuda(device):
    if not device.numba_cuda.available or device.simulator:
        pytest.skip(device.numba_cuda.reason or "the simulator is active")
    from numba import cuda

    return cuda


@pytest.mark.parametrize("variant", ["cupy-naive", "cupy-tuned"])
@pytest.mark.parametrize("name", list(TASKS))
def test_cupy_kernels_match_the_reference(cupy, name, variant):
    result = check(name, variant, n=TASKS[name].sim_size * 8)
    assert result.ok, result


@pytest.mark.parametrize("variant", ["numba-naive", "numba-tuned"])
@pytest.mark.parametrize("name", list(TASKS))
def test_numba_kernels_match_the_reference_on_the_device(numba_cuda, name, variant):
    result = check(name, variant, n=TASKS[name].sim_size * 8)
    assert result.ok, result


def test_cuda_events_time_a_cupy_kernel(cupy):
    task = TASKS["matmul"]
    timing = time_gpu(
        task.launcher("cupy-tuned"), task.make_inputs(512), backend="cupy", to_device=True
    )
    assert timing.device_ms is not None and timing.device_ms > 0
    assert timing.median_ms >= timing.device_ms
    assert timing.transfer_ms is not None and timing.transfer_ms > 0


def test_cuda_events_time_a_numba_kernel_with_l2_flush(numba_cuda):
    task = TASKS["saxpy"]
    timing = time_gpu(
        task.launcher("numba-tuned"),
        task.make_inputs(1 << 22),
        backend="numba-cuda",
        to_device=True,
        flush_l2=True,
        repeats=10,
    )
    assert timing.backend == "numba-cuda" and timing.l2_flushed
    assert timing.device_ms is not None and timing.device_ms > 0


def test_side_stream_work_is_not_a_speedup(cupy):
    a = cupy.random.random((2048, 2048), dtype=cupy.float32)
    side = cupy.cuda.Stream(non_blocking=True)

    def on_current_stream():
        return a @ a

    def on_side_stream():
        with side:
            return a @ a

    honest = time_gpu(on_current_stream, backend="cupy", repeats=10)
    sneaky = time_gpu(on_side_stream, backend="cupy", repeats=10)
    assert sneaky.median_ms >= 0.8 * honest.median_ms


def test_cupy_candidate_matches_numpy_within_gpu_tolerances(cupy):
    source = textwrap.dedent(
        """
        import numpy as np

        def normalise(x):
            centred = x - np.mean(x, axis=0)
            return centred / np.sqrt(np.sum(centred * centred, axis=0))
        """
    )
    reference: dict = {}
    exec(source, reference)
    candidate: dict = {}
    exec(cupy_variant(source, "normalise"), candidate)
    x = np.random.default_rng(0).random((1000, 64), dtype=np.float32)
    result = candidate["normalise"](x)
    assert type(result) is np.ndarray and result.dtype == np.float32
    rtol, atol = gpu_tolerances(result.dtype)
    np.testing.assert_allclose(result, reference["normalise"](x), rtol=rtol, atol=atol)


ELEMENTWISE = textwrap.dedent(
    """
    import numpy as np

    def axpb(x, y):
        out = np.empty(x.shape[0], dtype=np.float32)
        for i in range(x.shape[0]):
            out[i] = 3.0 * x[i] + y[i]
        return out
    """
)

SIDE_STREAM = textwrap.dedent(
    """
    import cupy as cp
    import numpy as np

    _stream = cp.cuda.Stream(non_blocking=True)

    def axpb(x, y):
        with _stream:
            dx, dy = cp.asarray(x), cp.asarray(y)
            for _ in range(50):  # plenty of work, left running on a side stream
                dx = 3.0 * dx + dy
        return (3.0 * x + y).astype(np.float32)  # the answer, from the host
    """
)


def _float32_inputs(n):
    rng = np.random.default_rng(n)
    return (rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32))


def test_optimize_splits_a_cupy_candidate_with_cuda_events(cupy):
    import workbench

    source = "import numpy as np\n\ndef axpb(x, y):\n    return 3.0 * x + y\n"
    res = workbench.optimize(source, inputs=_float32_inputs, target="cupy", sizes=[8, 1 << 22])
    cand = res["cupy"]
    assert cand.status == "passed", cand.reason
    t = cand.timing
    assert t.gpu_clock == "cuda-events" and t.device_time is not None
    assert min(t.h2d_time, t.kernel_time, t.d2h_time) > 0
    assert t.h2d_time + t.kernel_time + t.d2h_time <= t.median * 1.05
    assert "h2d" in repr(res)


def test_optimize_runs_the_mechanical_numba_cuda_candidate_on_the_device(numba_cuda):
    import workbench

    res = workbench.optimize(
        ELEMENTWISE, inputs=_float32_inputs, target="numba-cuda", sizes=[8, 1 << 20]
    )
    cand = res["numba-cuda"]
    assert cand.status == "passed", cand.reason
    assert cand.timing.gpu_clock == "cuda-events" and cand.timing.kernel_time > 0


def test_side_stream_work_left_running_is_paid_for_inside_optimize(cupy):
    import workbench

    source = "import numpy as np\n\ndef axpb(x, y):\n    return 3.0 * x + y\n"
    res = workbench.optimize(
        source,
        inputs=_float32_inputs,
        target="cupy",
        strategies=(),
        candidates=[SIDE_STREAM],
        sizes=[8, 1 << 22],
    )
    cand = res.candidates[0]
    assert cand.status == "passed", cand.reason
    # the worker waited for the whole device: the side-stream kernels are in the host time,
    # which the events on the default stream do not see
    assert cand.timing.median > cand.timing.device_time
