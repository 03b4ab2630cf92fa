"""pyperf's measurement of one timing_agreement case: the reference and the candidate each timed
by pyperf in its own worker processes (pyperf averages over several processes, as it should:
a microsecond function's time moves from one process to the next), every call on fresh
arguments ``inputs(size, TIMING_SEED + i)`` built outside the timed region, the garbage
collector off during the call, like the workbench's workers.

Run by ``timing_agreement.py``; by hand:

    python benchmarks/timing_agreement_pyperf.py --case 0 -o case0.json --processes 6
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyperf  # noqa: E402
from timing_agreement import CASES, functions  # noqa: E402

from workbench.optimizer._inputs import TIMING_SEED  # noqa: E402


def time_calls(loops: int, fn, inputs, size: int) -> float:
    total = 0.0
    for i in range(loops):
        args = inputs(size, TIMING_SEED + i)
        gc.disable()
        t0 = time.perf_counter()
        fn(*args)
        total += time.perf_counter() - t0
        gc.enable()
        del args
    return total


def add_case(cmd, args) -> None:
    cmd.extend(("--case", str(args.case)))


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=add_case, min_time=0.05)
    runner.argparser.add_argument("--case", type=int, required=True)
    args = runner.parse_args()
    name, size, reference, candidate, inputs = CASES[args.case]
    ref_fn, cand_fn = functions(reference, candidate)
    runner.bench_time_func("reference", time_calls, ref_fn, inputs, size)
    runner.bench_time_func("candidate", time_calls, cand_fn, inputs, size)


if __name__ == "__main__":
    main()
