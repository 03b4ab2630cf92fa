"""CuPy launchers for the CUDA C kernels in this folder's ``.cu`` files.

Imported only when a CuPy variant is asked for. Each ``.cu`` file is compiled once per
process with NVRTC through ``cupy.RawModule``. A launcher takes CuPy arrays (host arrays are
copied), allocates its output, launches on the current stream and returns without
synchronising.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import cupy
import numpy as np

HERE = Path(__file__).resolve().parent
THREADS = 256
TILE = 16  # must match matmul.cu
BX, BY = 32, 8  # must match stencil2d.cu
BINS = 256  # must match histogram.cu
STENCIL_ALPHA = 0.1


def source(task: str) -> str:
    """The CUDA C source of ``task`` (``kernels_cuda/<task>.cu``)."""
    return (HERE / f"{task}.cu").read_text()


@cache
def module(task: str) -> Any:
    return cupy.RawModule(code=source(task), options=("--std=c++14",))


def kernel(task: str, name: str) -> Any:
    return module(task).get_function(name)


def _grid_stride_blocks(n: int) -> int:
    sms = cupy.cuda.Device().attributes["MultiProcessorCount"]
    return max(1, min(math.ceil(n / THREADS), 8 * sms))


def _f32(x: Any) -> Any:
    return cupy.ascontiguousarray(cupy.asarray(x, dtype=cupy.float32))


def saxpy(variant: str, a: float, x: Any, y: Any) -> Any:
    x, y = _f32(x), _f32(y)
    n = x.size
    out = cupy.empty_like(x)
    blocks = math.ceil(n / THREADS) if variant == "naive" else _grid_stride_blocks(n // 4 + 1)
    kernel("saxpy", f"saxpy_{variant}")(
        (blocks,), (THREADS,), (np.float32(a), x, y, out, np.int64(n))
    )
    return out


def reduce_sum(variant: str, x: Any) -> Any:
    x = _f32(x)
    out = cupy.zeros(1, dtype=cupy.float32)
    blocks = math.ceil(x.size / THREADS) if variant == "naive" else _grid_stride_blocks(x.size)
    kernel("reduce_sum", f"reduce_sum_{variant}")(
        (max(blocks, 1),), (THREADS,), (x, out, np.int64(x.size))
    )
    return out


def matmul(variant: str, a: Any, b: Any) -> Any:
    a, b = _f32(a), _f32(b)
    rows, depth = a.shape
    cols = b.shape[1]
    c = cupy.empty((rows, cols), dtype=cupy.float32)
    name = "matmul_naive" if variant == "naive" else "matmul_tiled"
    grid = (math.ceil(cols / TILE), math.ceil(rows / TILE))
    kernel("matmul", name)(
        grid, (TILE, TILE), (a, b, c, np.int32(rows), np.int32(cols), np.int32(depth))
    )
    return c


def stencil2d(variant: str, u: Any) -> Any:
    u = _f32(u)
    ny, nx = u.shape
    out = cupy.empty_like(u)
    grid = (math.ceil(nx / BX), math.ceil(ny / BY))
    args = (u, out, np.int32(ny), np.int32(nx), np.float32(STENCIL_ALPHA))
    kernel("stencil2d", f"stencil2d_{variant}")(grid, (BX, BY), args)
    return out


def softmax(variant: str, x: Any) -> Any:
    x = _f32(x)
    rows, cols = x.shape
    out = cupy.empty_like(x)
    args = (x, out, np.int32(rows), np.int32(cols))
    if variant == "naive":
        kernel("softmax", "softmax_naive")((math.ceil(rows / 64),), (64,), args)
    else:
        kernel("softmax", "softmax_tuned")((rows,), (THREADS,), args)
    return out


def histogram(variant: str, x: Any) -> Any:
    x = cupy.ascontiguousarray(cupy.asarray(x, dtype=cupy.int32))
    hist = cupy.zeros(BINS, dtype=cupy.int32)
    blocks = math.ceil(x.size / THREADS) if variant == "naive" else _grid_stride_blocks(x.size)
    kernel("histogram", f"histogram_{variant}")(
        (max(blocks, 1),), (THREADS,), (x, hist, np.int64(x.size))
    )
    return hist


LAUNCHERS = {
    "saxpy": saxpy,
    "reduce_sum": reduce_sum,
    "matmul": matmul,
    "stencil2d": stencil2d,
    "softmax": softmax,
    "histogram": histogram,
}
