"""Reference GPU tasks: a NumPy reference, naive and tuned Numba CUDA kernels, and CuPy
``RawModule`` kernels from this folder's ``.cu`` files, for each of

    saxpy, reduce_sum, matmul, stencil2d, softmax, histogram

``TASKS[name]`` is a ``KernelTask``: ``reference(*args)``, ``make_inputs(n)`` (host float32
arrays, seeded by ``n``), ``launcher(variant)``, ``run(variant, *args)`` (to the device, launch,
back to NumPy), and ``bytes_moved(n)`` / ``flops(n)`` per call for a roofline.

Importing this package imports neither ``numba.cuda`` nor CuPy; asking for a variant does.
Variants: ``numba-naive``, ``numba-tuned`` (run on Numba's CUDA simulator too, with
``NUMBA_ENABLE_CUDASIM=1`` set before ``numba.cuda`` is imported), ``cupy-naive``,
``cupy-tuned`` (need CuPy and a device).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TASKS", "VARIANTS", "CheckResult", "KernelTask", "check", "cuda_source", "names"]

VARIANTS = ("numba-naive", "numba-tuned", "cupy-naive", "cupy-tuned")
BINS = 256
STENCIL_ALPHA = np.float32(0.1)
SOFTMAX_COLS = 1000  # not a multiple of the block size: the tail is tested too


def _rng(n: int) -> np.random.Generator:
    return np.random.default_rng(1000 + n)


# --- references and inputs -------------------------------------------------------------------


def saxpy_reference(a: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.float32(a) * x + y


def saxpy_inputs(n: int) -> tuple[Any, ...]:
    rng = _rng(n)
    return 2.5, rng.standard_normal(n, np.float32), rng.standard_normal(n, np.float32)


def reduce_sum_reference(x: np.ndarray) -> np.ndarray:
    return np.array([x.sum(dtype=np.float64)], dtype=np.float32)


def reduce_sum_inputs(n: int) -> tuple[Any, ...]:
    return (_rng(n).random(n, np.float32),)


def matmul_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b


def matmul_inputs(n: int) -> tuple[Any, ...]:
    rng = _rng(n)
    # n x (n+3) times (n+3) x (n+1): shapes that are no multiple of the tile
    return rng.standard_normal((n, n + 3), np.float32), rng.standard_normal(
        (n + 3, n + 1), np.float32
    )


def stencil2d_reference(u: np.ndarray) -> np.ndarray:
    out = u.copy()
    c = u[1:-1, 1:-1]
    around = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:]
    out[1:-1, 1:-1] = c + STENCIL_ALPHA * (around - np.float32(4.0) * c)
    return out


def stencil2d_inputs(n: int) -> tuple[Any, ...]:
    # wider than tall, so that even tiny grids span several 32 x 8 blocks in both directions
    return (_rng(n).random((n, 3 * n + 5), np.float32),)


def softmax_reference(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def softmax_inputs(n: int, cols: int = SOFTMAX_COLS) -> tuple[Any, ...]:
    return (_rng(n).standard_normal((n, cols), np.float32) * np.float32(4.0),)


def histogram_reference(x: np.ndarray) -> np.ndarray:
    return np.bincount(x, minlength=BINS).astype(np.int32)


def histogram_inputs(n: int) -> tuple[Any, ...]:
    # skewed: a few hot bins, as in real data (and where naive global atomics suffer)
    rng = _rng(n)
    values = np.minimum(rng.exponential(20.0, n), BINS - 1).astype(np.int32)
    return (values,)


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelTask:
    name: str
    description: str
    reference: Callable[..., np.ndarray]
    make_inputs: Callable[[int], tuple[Any, ...]]
    #: minimal DRAM traffic of one call at size n (bytes): the roofline's denominator
    bytes_moved: Callable[[int], float]
    #: floating-point operations of one call at size n (0 for integer work)
    flops: Callable[[int], float]
    #: size that keeps the CUDA simulator under a second; size for the GPU benchmark
    sim_size: int
    bench_size: int
    rtol: float = 1e-5
    atol: float = 1e-6

    def launcher(self, variant: str) -> Callable[..., Any]:
        """The callable of ``variant``: takes device (or host) arrays, returns a device array."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        backend, kind = variant.split("-")
        if backend == "numba":
            from . import _numba

            return _numba.LAUNCHERS[(self.name, kind)]
        from . import _cupy

        launch = _cupy.LAUNCHERS[self.name]
        return lambda *args: launch(kind, *args)

    def run(self, variant: str, *args: Any) -> np.ndarray:
        """Copy ``args`` to the device, launch ``variant``, return the result as NumPy."""
        if variant.startswith("numba"):
            from numba import cuda

            moved = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
            return self.launcher(variant)(*moved).copy_to_host()
        import cupy

        moved = [cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        return cupy.asnumpy(self.launcher(variant)(*moved))


def _matmul_bytes(n: int) -> float:
    return 4.0 * (n * (n + 3) + (n + 3) * (n + 1) + n * (n + 1))


TASKS: dict[str, KernelTask] = {
    task.name: task
    for task in (
        KernelTask(
            "saxpy",
            "out = a*x + y over float32 vectors of length n",
            saxpy_reference,
            saxpy_inputs,
            bytes_moved=lambda n: 12.0 * n,
            flops=lambda n: 2.0 * n,
            sim_size=300,
            bench_size=1 << 26,
        ),
        KernelTask(
            "reduce_sum",
            "sum of a float32 vector of length n",
            reduce_sum_reference,
            reduce_sum_inputs,
            bytes_moved=lambda n: 4.0 * n,
            flops=lambda n: float(n),
            sim_size=600,
            bench_size=1 << 26,
            rtol=1e-4,  # float32 atomics sum in any order
        ),
        KernelTask(
            "matmul",
            "float32 (n, n+3) @ (n+3, n+1)",
            matmul_reference,
            matmul_inputs,
            bytes_moved=_matmul_bytes,
            flops=lambda n: 2.0 * n * (n + 3) * (n + 1),
            sim_size=18,
            bench_size=2048,
            rtol=1e-4,
            atol=1e-4,
        ),
        KernelTask(
            "stencil2d",
            "one 5-point heat step on a float32 (n, 3n+5) grid",
            stencil2d_reference,
            stencil2d_inputs,
            bytes_moved=lambda n: 8.0 * n * (3 * n + 5),
            flops=lambda n: 7.0 * n * (3 * n + 5),
            sim_size=12,
            bench_size=4096,
        ),
        KernelTask(
            "softmax",
            f"row softmax of a float32 (n, {SOFTMAX_COLS}) matrix",
            softmax_reference,
            softmax_inputs,
            bytes_moved=lambda n: 8.0 * n * SOFTMAX_COLS,
            flops=lambda n: 5.0 * n * SOFTMAX_COLS,  # max, sub, exp, add, mul per element
            sim_size=3,
            bench_size=32768,
            rtol=1e-4,
        ),
        KernelTask(
            "histogram",
            f"counts of int32 values in [0, {BINS}) over n values",
            histogram_reference,
            histogram_inputs,
            bytes_moved=lambda n: 4.0 * n + 4.0 * BINS,
            flops=lambda n: 0.0,
            sim_size=700,
            bench_size=1 << 26,
            rtol=0.0,
            atol=0.0,  # counts are exact
        ),
    )
}


def names() -> list[str]:
    return list(TASKS)


def cuda_source(name: str) -> str:
    """The CUDA C source of a task (readable without CuPy)."""
    return (Path(__file__).resolve().parent / f"{name}.cu").read_text()


@dataclass(frozen=True)
class CheckResult:
    task: str
    variant: str
    n: int
    ok: bool
    max_abs_error: float | None
    error: str = ""


def check(name: str, variant: str, n: int | None = None) -> CheckResult:
    """Run ``variant`` of task ``name`` at size ``n`` and compare with the NumPy reference."""
    task = TASKS[name]
    size = task.sim_size if n is None else n
    args = task.make_inputs(size)
    expected = task.reference(*args)
    try:
        actual = task.run(variant, *args)
    except Exception as exc:  # report, do not crash a whole check run
        return CheckResult(name, variant, size, False, None, f"{type(exc).__name__}: {exc}")
    if actual.shape != expected.shape:
        return CheckResult(
            name, variant, size, False, None, f"shape {actual.shape}, expected {expected.shape}"
        )
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    ok = bool(np.all(diff <= task.atol + task.rtol * np.abs(expected.astype(np.float64))))
    return CheckResult(name, variant, size, ok, float(diff.max()) if diff.size else 0.0)
