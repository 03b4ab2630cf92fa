"""What hardened mode costs: worker start and a timed call, hardened (each sandbox) vs default.

python benchmarks/hardened_overhead.py [--starts 7] [--runs 3]

The sandbox alone: ``true`` run inside it (plain ``true`` for the default). Worker start: wall
time of ``start_worker`` to exit for ``python -c "import numpy"`` (median of
``--starts``). Timed call: ``workbench.optimize`` with one candidate (``x + x`` on 10^6
floats): the run's wall time and the candidate's median call, medians of ``--runs``. Modes are
interleaved, so that a change of load hits each alike. Ratios are hardened / default.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import workbench
from workbench.sandbox import _hardening
from workbench.sandbox._process import Limits, start_worker

CELL = "def double(x):\n    return x * 2.0\n"
CANDIDATE = "def double(x):\n    return x + x\n"


def use(mode: str) -> bool:
    """Hardened workers through ``mode`` from now on (False: the default isolation)."""
    if mode == "default":
        return False
    _hardening.PREFERENCE = (mode,)  # each sandbox is probed once
    return True


def worker_start(mode: str) -> float:
    started = time.perf_counter()
    worker = start_worker(
        [sys.executable, "-c", "import numpy"], Limits(timeout=60), hardened=use(mode)
    )
    worker.process.wait()
    wall = time.perf_counter() - started
    assert worker.process.returncode == 0, worker.output_tail()
    worker.close()
    return wall


def sandbox_alone(mode: str) -> float:
    """The sandbox's own cost: ``true`` inside it (plain ``true`` for the default)."""
    scratch = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    argv = ["true"] if not use(mode) else _hardening.wrap_argv(["true"], scratch)
    started = time.perf_counter()
    subprocess.run(argv, check=True, cwd=scratch)
    wall = time.perf_counter() - started
    shutil.rmtree(scratch)
    return wall


def optimize_run(hardened: bool) -> tuple[float, float]:
    workbench.configure(hardened=hardened, time_budget=0.5, timing_target=0.02)
    started = time.perf_counter()
    res = workbench.optimize(
        CELL,
        inputs=lambda n: (np.arange(float(n)),),
        strategies=[],
        candidates=[CANDIDATE],
        sizes=[2, 1000],
        timing_size=10**6,
    )
    wall = time.perf_counter() - started
    cand = res.candidates[0]
    assert cand.status == "passed", cand.reason
    return wall, cand.timing.median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workbench.configure(home=tempfile.mkdtemp(prefix="wb-hardened-bench-"))
    modes = ["default"]
    for mode in _hardening.PREFERENCE:
        use(mode)
        if _hardening.sandbox().tool == mode:
            modes.append(mode)
            worker_start(mode)  # warm: the probe and the page cache, outside the figures
        else:
            print(f"{mode}: not available ({_hardening.sandbox().why_not})")
    starts: dict[str, list[float]] = {m: [] for m in modes}
    alone: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.starts):  # interleaved, so that a load change hits every mode alike
        for mode in modes:
            starts[mode].append(worker_start(mode))
            alone[mode].append(sandbox_alone(mode))
    runs: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for _ in range(args.runs):
        for mode in modes:
            runs[mode].append(optimize_run(use(mode)))
    rows = [
        (
            mode,
            statistics.median(alone[mode]),
            statistics.median(starts[mode]),
            statistics.median(w for w, _ in runs[mode]),
            statistics.median(c for _, c in runs[mode]),
        )
        for mode in modes
    ]
    base = rows[0]
    print(
        f"| {'mode':<10} | `true` inside | worker start | ratio | optimize run | ratio "
        "| timed call | ratio |"
    )
    print(
        f"|{'-' * 12}|---------------|--------------|-------|--------------|-------|------------|-------|"
    )
    for mode, bare, start, wall, call in rows:
        print(
            f"| {mode:<10} | {bare * 1e3:10.1f} ms | {start * 1e3:9.1f} ms | {start / base[2]:5.2f} | "
            f"{wall:10.2f} s | {wall / base[3]:5.2f} | {call * 1e3:7.3f} ms | {call / base[4]:5.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
