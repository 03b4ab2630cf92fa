"""Pass-matrix speed: the worker pool against one process per test, side by side in one run.

    python benchmarks/passmatrix_speed.py [--codes 12] [--tests 30]

Both builds run the same cells (no cache) and must give the same verdicts; the script prints
both wall times and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from workbench.generator._passmatrix import build_pass_matrix

VARIANTS = [
    "def f(xs):\n    return sorted(xs)\n",
    "def f(xs):\n    return sorted(xs, reverse=True)\n",
    "def f(xs):\n    return list(xs)\n",
    "def f(xs):\n    out = list(xs)\n    out.sort()\n    return out[:{k}]\n",
    "def f(xs):\n    return sorted(set(xs))\n",
    "def f(xs):\n    while len(xs) == {k}:\n        pass\n    return sorted(xs)\n",
]


def workload(n_codes: int, n_tests: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    codes = [
        VARIANTS[i % len(VARIANTS)].replace("{k}", str(i)) + f"# {i}\n" for i in range(n_codes)
    ]
    tests = []
    for _ in range(n_tests):
        xs = rng.integers(0, 5, size=int(rng.integers(0, 8))).tolist()
        tests.append(f"assert f({xs}) == {sorted(xs)}")
    return codes, tests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=12)
    parser.add_argument("--tests", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    codes, tests = workload(args.codes, args.tests)

    started = time.perf_counter()
    pooled = build_pass_matrix(codes, tests, entry="f", workers=args.workers)
    pooled_s = time.perf_counter() - started
    started = time.perf_counter()
    single = build_pass_matrix(codes, tests, entry="f", workers=args.workers, process_per_test=True)
    single_s = time.perf_counter() - started

    same = np.array_equal(pooled.outcomes, single.outcomes)
    cells = pooled.passed.size
    print(
        f"{len(pooled.codes)} codes x {len(pooled.tests)} tests = {cells} cells, {args.workers} workers"
    )
    print(f"worker pool:          {pooled_s:8.2f} s  ({1e3 * pooled_s / cells:.2f} ms/cell)")
    print(f"one process per test: {single_s:8.2f} s  ({1e3 * single_s / cells:.2f} ms/cell)")
    print(f"speed-up: {single_s / pooled_s:.1f}x; same verdicts: {same}")


if __name__ == "__main__":
    main()
