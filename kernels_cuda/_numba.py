"""Numba CUDA kernels (naive and tuned) for each task, and launchers.

Imported only when a Numba CUDA variant is asked for: importing ``numba.cuda`` fixes whether
the simulator is used (``NUMBA_ENABLE_CUDASIM``). A launcher takes device arrays (or host
arrays, which Numba copies), allocates its output on the device, launches and returns the
device output without synchronising, like a real GPU library call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda, float32, int32

THREADS = 256  # 1-D block size; the tuned reduction relies on it being a power of two
TILE = 16  # matmul tile (TILE x TILE threads)
BX, BY = 32, 8  # stencil block
# shared-array shapes must be plain constants for Numba (it does not fold BY + 2)
HALO_Y, HALO_X = BY + 2, BX + 2
SOFTMAX_THREADS = 128  # tuned softmax: threads per row (power of two)
BINS = 256
STENCIL_ALPHA = 0.1
MAX_BLOCKS = 1024  # grid-stride kernels: enough blocks to fill any current GPU


def _blocks(n: int, threads: int = THREADS, cap: int | None = None) -> int:
    blocks = max(1, math.ceil(n / threads))
    return min(blocks, cap) if cap else blocks


# --- SAXPY -----------------------------------------------------------------------------------


@cuda.jit
def _saxpy_naive(a, x, y, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = a * x[i] + y[i]


@cuda.jit
def _saxpy_tuned(a, x, y, out):
    # grid-stride: a grid sized to the device, each thread handles several elements
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, x.shape[0], stride):
        out[i] = a * x[i] + y[i]


def saxpy_naive(a: float, x: Any, y: Any) -> Any:
    out = cuda.device_array(x.shape[0], dtype=np.float32)
    _saxpy_naive[_blocks(x.shape[0]), THREADS](np.float32(a), x, y, out)
    return out


def saxpy_tuned(a: float, x: Any, y: Any) -> Any:
    out = cuda.device_array(x.shape[0], dtype=np.float32)
    _saxpy_tuned[_blocks(x.shape[0], cap=MAX_BLOCKS), THREADS](np.float32(a), x, y, out)
    return out


# --- sum reduction ---------------------------------------------------------------------------


@cuda.jit
def _reduce_sum_naive(x, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        cuda.atomic.add(out, 0, x[i])  # one global atomic per element


@cuda.jit
def _reduce_sum_tuned(x, out):
    partial = cuda.shared.array(THREADS, float32)
    tid = cuda.threadIdx.x
    acc = float32(0.0)
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        acc += x[i]
    partial[tid] = acc
    cuda.syncthreads()
    step = THREADS // 2
    while step > 0:  # tree in shared memory, then one atomic per block
        if tid < step:
            partial[tid] += partial[tid + step]
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        cuda.atomic.add(out, 0, partial[0])


def reduce_sum_naive(x: Any) -> Any:
    out = cuda.to_device(np.zeros(1, np.float32))
    _reduce_sum_naive[_blocks(x.shape[0]), THREADS](x, out)
    return out


def reduce_sum_tuned(x: Any) -> Any:
    out = cuda.to_device(np.zeros(1, np.float32))
    _reduce_sum_tuned[_blocks(x.shape[0], cap=MAX_BLOCKS), THREADS](x, out)
    return out


# --- matmul ----------------------------------------------------------------------------------


@cuda.jit
def _matmul_naive(a, b, c):
    col, row = cuda.grid(2)  # x is the fastest index: neighbouring threads, neighbouring columns
    if row < c.shape[0] and col < c.shape[1]:
        acc = float32(0.0)
        for k in range(a.shape[1]):
            acc += a[row, k] * b[k, col]
        c[row, col] = acc


@cuda.jit
def _matmul_tiled(a, b, c):
    sa = cuda.shared.array((TILE, TILE), float32)
    sb = cuda.shared.array((TILE, TILE), float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    col = cuda.blockIdx.x * TILE + tx
    row = cuda.blockIdx.y * TILE + ty
    depth = a.shape[1]
    acc = float32(0.0)
    for t in range(0, depth, TILE):
        if row < a.shape[0] and t + tx < depth:
            sa[ty, tx] = a[row, t + tx]
        else:
            sa[ty, tx] = float32(0.0)
        if t + ty < depth and col < b.shape[1]:
            sb[ty, tx] = b[t + ty, col]
        else:
            sb[ty, tx] = float32(0.0)
        cuda.syncthreads()
        for k in range(TILE):
            acc += sa[ty, k] * sb[k, tx]
        cuda.syncthreads()
    if row < c.shape[0] and col < c.shape[1]:
        c[row, col] = acc


def _matmul_grid(rows: int, cols: int) -> tuple[int, int]:
    return math.ceil(cols / TILE), math.ceil(rows / TILE)


def matmul_naive(a: Any, b: Any) -> Any:
    c = cuda.device_array((a.shape[0], b.shape[1]), dtype=np.float32)
    _matmul_naive[_matmul_grid(*c.shape), (TILE, TILE)](a, b, c)
    return c


def matmul_tiled(a: Any, b: Any) -> Any:
    c = cuda.device_array((a.shape[0], b.shape[1]), dtype=np.float32)
    _matmul_tiled[_matmul_grid(*c.shape), (TILE, TILE)](a, b, c)
    return c


# --- 2-D 5-point stencil ---------------------------------------------------------------------


@cuda.jit
def _stencil2d_naive(u, out, alpha):
    j, i = cuda.grid(2)
    ny, nx = u.shape
    if i < ny and j < nx:
        if i == 0 or j == 0 or i == ny - 1 or j == nx - 1:
            out[i, j] = u[i, j]
        else:
            c = u[i, j]
            out[i, j] = c + alpha * (
                u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - float32(4.0) * c
            )


@cuda.jit
def _stencil2d_tuned(u, out, alpha):
    tile = cuda.shared.array((HALO_Y, HALO_X), float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    j = cuda.blockIdx.x * BX + tx
    i = cuda.blockIdx.y * BY + ty
    ny, nx = u.shape
    inside = i < ny and j < nx
    if inside:  # centre plus the halo cells owned by edge threads
        tile[ty + 1, tx + 1] = u[i, j]
        if tx == 0 and j > 0:
            tile[ty + 1, 0] = u[i, j - 1]
        if tx == BX - 1 and j + 1 < nx:
            tile[ty + 1, BX + 1] = u[i, j + 1]
        if ty == 0 and i > 0:
            tile[0, tx + 1] = u[i - 1, j]
        if ty == BY - 1 and i + 1 < ny:
            tile[BY + 1, tx + 1] = u[i + 1, j]
    cuda.syncthreads()
    if inside:
        c = tile[ty + 1, tx + 1]
        if i == 0 or j == 0 or i == ny - 1 or j == nx - 1:
            out[i, j] = c
        else:
            around = (
                tile[ty, tx + 1] + tile[ty + 2, tx + 1] + tile[ty + 1, tx] + tile[ty + 1, tx + 2]
            )
            out[i, j] = c + alpha * (around - float32(4.0) * c)


def _stencil_grid(shape: tuple[int, int], bx: int, by: int) -> tuple[int, int]:
    return math.ceil(shape[1] / bx), math.ceil(shape[0] / by)


def stencil2d_naive(u: Any) -> Any:
    out = cuda.device_array(u.shape, dtype=np.float32)
    _stencil2d_naive[_stencil_grid(u.shape, BX, BY), (BX, BY)](u, out, np.float32(STENCIL_ALPHA))
    return out


def stencil2d_tuned(u: Any) -> Any:
    out = cuda.device_array(u.shape, dtype=np.float32)
    _stencil2d_tuned[_stencil_grid(u.shape, BX, BY), (BX, BY)](u, out, np.float32(STENCIL_ALPHA))
    return out


# --- row softmax -----------------------------------------------------------------------------


@cuda.jit
def _softmax_naive(x, out):
    r = cuda.grid(1)  # one thread per row: uncoalesced, little parallelism
    if r < x.shape[0]:
        m = x[r, 0]
        for j in range(1, x.shape[1]):
            m = max(m, x[r, j])
        s = float32(0.0)
        for j in range(x.shape[1]):
            e = math.exp(x[r, j] - m)
            out[r, j] = e
            s += e
        for j in range(x.shape[1]):
            out[r, j] = out[r, j] / s


@cuda.jit
def _softmax_tuned(x, out):
    # one block per row; coalesced strided loops, tree reductions in shared memory
    scratch = cuda.shared.array(SOFTMAX_THREADS, float32)
    r = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    cols = x.shape[1]
    m = x[r, 0]
    for j in range(tid, cols, SOFTMAX_THREADS):
        m = max(m, x[r, j])
    scratch[tid] = m
    cuda.syncthreads()
    step = SOFTMAX_THREADS // 2
    while step > 0:
        if tid < step:
            scratch[tid] = max(scratch[tid], scratch[tid + step])
        cuda.syncthreads()
        step //= 2
    m = scratch[0]
    cuda.syncthreads()
    s = float32(0.0)
    for j in range(tid, cols, SOFTMAX_THREADS):
        s += math.exp(x[r, j] - m)
    scratch[tid] = s
    cuda.syncthreads()
    step = SOFTMAX_THREADS // 2
    while step > 0:
        if tid < step:
            scratch[tid] += scratch[tid + step]
        cuda.syncthreads()
        step //= 2
    inv = float32(1.0) / scratch[0]
    for j in range(tid, cols, SOFTMAX_THREADS):
        out[r, j] = math.exp(x[r, j] - m) * inv


def softmax_naive(x: Any) -> Any:
    out = cuda.device_array(x.shape, dtype=np.float32)
    _softmax_naive[_blocks(x.shape[0], 64), 64](x, out)
    return out


def softmax_tuned(x: Any) -> Any:
    out = cuda.device_array(x.shape, dtype=np.float32)
    _softmax_tuned[x.shape[0], SOFTMAX_THREADS](x, out)
    return out


# --- histogram -------------------------------------------------------------------------------


@cuda.jit
def _histogram_naive(x, hist):
    i = cuda.grid(1)
    if i < x.shape[0]:
        v = x[i]
        if 0 <= v < BINS:
            cuda.atomic.add(hist, v, 1)  # global atomics on few addresses: contention


@cuda.jit
def _histogram_tuned(x, hist):
    local = cuda.shared.array(BINS, int32)
    tid = cuda.threadIdx.x
    for b in range(tid, BINS, cuda.blockDim.x):
        local[b] = 0
    cuda.syncthreads()
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        v = x[i]
        if 0 <= v < BINS:
            cuda.atomic.add(local, v, 1)  # shared-memory atomics: cheap
    cuda.syncthreads()
    for b in range(tid, BINS, cuda.blockDim.x):
        if local[b] != 0:
            cuda.atomic.add(hist, b, local[b])


def histogram_naive(x: Any) -> Any:
    hist = cuda.to_device(np.zeros(BINS, np.int32))
    _histogram_naive[_blocks(x.shape[0]), THREADS](x, hist)
    return hist


def histogram_tuned(x: Any) -> Any:
    hist = cuda.to_device(np.zeros(BINS, np.int32))
    _histogram_tuned[_blocks(x.shape[0], cap=MAX_BLOCKS), THREADS](x, hist)
    return hist


LAUNCHERS = {
    ("saxpy", "naive"): saxpy_naive,
    ("saxpy", "tuned"): saxpy_tuned,
    ("reduce_sum", "naive"): reduce_sum_naive,
    ("reduce_sum", "tuned"): reduce_sum_tuned,
    ("matmul", "naive"): matmul_naive,
    ("matmul", "tuned"): matmul_tiled,
    ("stencil2d", "naive"): stencil2d_naive,
    ("stencil2d", "tuned"): stencil2d_tuned,
    ("softmax", "naive"): softmax_naive,
    ("softmax", "tuned"): softmax_tuned,
    ("histogram", "naive"): histogram_naive,
    ("histogram", "tuned"): histogram_tuned,
}
