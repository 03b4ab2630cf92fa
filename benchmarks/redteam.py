"""Run the red-team catalogue and print a table: case, verdict, reason.

python benchmarks/redteam.py [--only NAME,...] [--executor local|serial|tcp://host:8786]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from redteam_cases import CASES, run_case  # beside this script: not part of the wheel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument(
        "--executor", default="local", help="local, serial, or a Dask scheduler address"
    )
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    base = {
        "home": tempfile.mkdtemp(prefix="wb-redteam-"),
        "time_budget": 0.5,
        "timing_target": 0.05,
        "executor": args.executor,
    }
    print(f"| {'case':<22} | {'kind':<5} | {'verdict':<7} | {'speedup':>7} | held | reason")
    print(f"|{'-' * 24}|{'-' * 7}|{'-' * 9}|{'-' * 9}|------|--------")
    started, failures = time.perf_counter(), 0
    for case in chosen:
        row = run_case(case, base_settings=base)
        failures += not row.held
        speed = f"{row.speedup:.2f}x" if row.speedup is not None else "-"
        reason = row.reason if row.held else f"{row.why}: {row.reason}"
        flag = "yes" if row.held else "NO"
        print(
            f"| {case.name:<22} | {case.kind:<5} | {row.status:<7} | {speed:>7} | {flag:<4} | {reason[:110]}",
            flush=True,
        )
    print(
        f"\n{len(chosen) - failures} of {len(chosen)} cases held, in {time.perf_counter() - started:.0f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
