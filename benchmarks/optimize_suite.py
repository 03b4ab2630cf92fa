"""How well does %%optimize do on slow functions of the kind users write?

    python benchmarks/optimize_suite.py [--budget 2] [--only NAME,...]

For each function: the reference time at the calibrated size, the best verified speedup and its
strategy, the wall time the workbench spent, and the ratio of the workbench's median to
``timeit``'s for the same call (the reference, and the best candidate compiled in this process),
all measured side by side in one run.
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
import timeit

import numpy as np

import workbench

CASES: dict[str, tuple[str, object]] = {}


def case(inputs):
    def register(source: str) -> str:
        source = textwrap.dedent(source)
        name = source.split("def ", 1)[1].split("(", 1)[0]
        CASES[name] = (source, inputs)
        return source

    return register


def points(n):
    return (np.random.default_rng(n).standard_normal((n, 3)),)


def vector(n):
    return (np.random.default_rng(n).standard_normal(n),)


def grid(n):
    return (np.random.default_rng(n).random((n, n)),)


def samples(n):
    return (np.random.default_rng(n).random(n), 64)


def window(n):
    return (np.random.default_rng(n).standard_normal(n), 16)


def coeffs(n):
    rng = np.random.default_rng(n)
    return (rng.standard_normal(8), rng.standard_normal(n))


def matvec_inputs(n):
    rng = np.random.default_rng(n)
    return (rng.standard_normal((n, n)), rng.standard_normal(n))


def mandel_inputs(n):
    return (max(n, 2), 50)


case(points)("""
import numpy as np
def pairwise_dist(X):
    n = X.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = np.sqrt(((X[i] - X[j]) ** 2).sum())
    return out
""")
case(grid)("""
def jacobi_step(u):
    n, m = u.shape
    out = u.copy()
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return out
""")
case(samples)("""
import numpy as np
def histogram(x, bins):
    counts = np.zeros(bins, dtype=np.int64)
    for v in x:
        k = int(v * bins)
        if 0 <= k < bins:
            counts[k] += 1
    return counts
""")
case(window)("""
import numpy as np
def moving_average(x, w):
    out = np.empty(x.shape[0] - w + 1)
    for i in range(out.shape[0]):
        out[i] = x[i:i + w].mean()
    return out
""")
case(coeffs)("""
import numpy as np
def horner(c, x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        acc = 0.0
        for k in range(c.shape[0]):
            acc = acc * x[i] + c[k]
        out[i] = acc
    return out
""")
case(matvec_inputs)("""
import numpy as np
def matvec(A, v):
    n, m = A.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(m):
            out[i] += A[i, j] * v[j]
    return out
""")
case(mandel_inputs)("""
import numpy as np
def mandelbrot(n, max_iter):
    out = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            c = complex(-2.0 + 3.0 * j / n, -1.5 + 3.0 * i / n)
            z = 0j
            k = 0
            while k < max_iter and abs(z) <= 2.0:
                z = z * z + c
                k += 1
            out[i, j] = k
    return out
""")
case(vector)("""
def count_inversions(x):
    n = x.shape[0]
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if x[i] > x[j]:
                count += 1
    return count
""")


def timeit_median(fn, make, size: int, repeats: int = 7) -> float:
    args = make(size)
    fn(*args)  # warm-up / compile
    return float(np.median(timeit.Timer(lambda: fn(*args)).repeat(repeat=repeats, number=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=float, default=2.0, help="seconds of timed calls per candidate"
    )
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(CASES)
    workbench.configure(home=tempfile.mkdtemp(prefix="wb-bench-"), time_budget=args.budget)
    header = (
        f"{'function':<17}{'size':>8}{'reference':>12}{'best':>11}  {'strategy':<24}"
        f"{'workbench s':>12}{'wb/timeit ref':>15}{'wb/timeit best':>16}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        source, make = CASES[name]
        started = time.perf_counter()
        res = workbench.optimize(source, inputs=make)
        spent = time.perf_counter() - started
        ref = res.reference.timing
        ns: dict = {}
        exec(source, ns)  # noqa: S102 - the benchmark's own code
        ratio_ref = ref.median / timeit_median(ns[name], make, ref.size, repeats=5)
        best = res.best
        if best is None:
            print(
                f"{name:<17}{ref.size:>8}{ref.median:>11.4f}s{'-':>11}  {'(none passed)':<24}{spent:>12.1f}{ratio_ref:>15.2f}{'-':>16}"
            )
            continue
        cand_ns: dict = {}
        exec(best.code, cand_ns)  # noqa: S102 - a verified candidate, run here only to compare clocks
        ratio_best = best.median / timeit_median(cand_ns[name], make, ref.size)
        print(
            f"{name:<17}{ref.size:>8}{ref.median:>11.4f}s{best.speedup:>10.1f}x  {best.strategy:<24}"
            f"{spent:>12.1f}{ratio_ref:>15.2f}{ratio_best:>16.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
