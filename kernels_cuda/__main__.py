"""``python -m kernels_cuda [TASK ...] [--variants V,V] [--n N] [--json]``: check variants
against their NumPy references (with ``NUMBA_ENABLE_CUDASIM=1`` on a machine without a GPU)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

from . import TASKS, VARIANTS, check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels_cuda", description=__doc__)
    parser.add_argument("tasks", nargs="*", default=list(TASKS), help="task names (default all)")
    parser.add_argument("--variants", default="numba-naive,numba-tuned")
    parser.add_argument("--n", type=int, default=None, help="problem size (default: tiny)")
    parser.add_argument("--json", action="store_true", help="one JSON list on stdout")
    options = parser.parse_args(argv)
    unknown = [t for t in options.tasks if t not in TASKS]
    variants = [v for v in options.variants.split(",") if v]
    bad = [v for v in variants if v not in VARIANTS]
    if unknown or bad:
        parser.error(f"unknown task or variant: {', '.join(unknown + bad)}")
    results = []
    for name in options.tasks:
        for variant in variants:
            began = time.perf_counter()
            result = asdict(check(name, variant, options.n))
            result["seconds"] = round(time.perf_counter() - began, 3)
            results.append(result)
            if not options.json:
                status = "ok  " if result["ok"] else "FAIL"
                detail = result["error"] or f"max abs error {result['max_abs_error']:.3g}"
                print(f"{status} {name:<11} {variant:<12} n={result['n']:<6} {detail}")
    if options.json:
        json.dump(results, sys.stdout)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
