"""Where the evaluation jobs run, and what it costs: serial, local-parallel, and Dask.

One optimize run with 12 user candidates (9 right, 3 wrong) and one pass matrix over 80
HumanEval tasks of CodeT's CodeGen-16B samples (10 codes x 10 tests each), each run three ways:
one job after another (today's behaviour before jobs), the local executor (verification in
parallel up to the cores, one timing slot), and a Dask cluster of two worker processes on this
machine. Verdicts must be identical; wall times and ratios are printed side by side.

    python benchmarks/executor_scaling.py [--data ../shared/eval/codet-humaneval/FILE.jsonl.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import workbench
from workbench.execute import DaskExecutor, LocalExecutor, SerialExecutor
from workbench.generator import build_pass_matrix

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared/eval/codet-humaneval/humaneval_codegen16b_0-81.jsonl.gz"
)

REFERENCE = """
def smooth(x):
    out = []
    for i in range(len(x)):
        lo, hi = max(0, i - 2), min(len(x), i + 3)
        s = 0.0
        for j in range(lo, hi):
            s += x[j]
        out.append(s / (hi - lo))
    return np.array(out)
"""
RIGHT = [
    # the same numbers by other routes
    "import numpy as np\ndef smooth(x):\n    c = np.concatenate(([0.0], np.cumsum(x)))\n"
    "    i = np.arange(len(x))\n    lo = np.maximum(0, i - 2)\n    hi = np.minimum(len(x), i + 3)\n"
    f"    return (c[hi] - c[lo]) / (hi - lo){' ' * k}\n"
    for k in range(5)
] + [
    "import numpy as np\ndef smooth(x):\n    out = np.empty(len(x))\n    for i in range(len(x)):\n"
    f"        lo, hi = max(0, i - 2), min(len(x), i + 3)\n        out[i] = x[lo:hi].mean(){' ' * k}\n"
    "    return out\n"
    for k in range(4)
]
WRONG = [
    "import numpy as np\ndef smooth(x):\n    return np.convolve(x, np.ones(5) / 5, mode='same')\n",
    "import numpy as np\ndef smooth(x):\n    return np.asarray(x, float)\n",
    "import numpy as np\ndef smooth(x):\n    return np.cumsum(x) / (np.arange(len(x)) + 1)\n",
]


def make_inputs(n):
    return (np.random.default_rng(n).standard_normal(n),)


def optimize_with(executor) -> tuple[float, list[tuple[str, str]]]:
    started = time.perf_counter()
    res = workbench.optimize(
        REFERENCE,
        inputs=make_inputs,
        strategies=[],
        candidates=[*RIGHT, *WRONG],
        namespace={"np": np},
        executor=executor,
    )
    return time.perf_counter() - started, [(c.id, c.status) for c in res.candidates]


def humaneval_tasks(path: Path, n: int = 80) -> list[tuple[str, list[str], list[str]]]:
    sys.path.insert(0, str(Path(__file__).parent))
    from ranking_codet import cut_at_stop_tokens, extract_tests

    tasks = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            task = json.loads(line)
            entry, prompt = task["entry_point"], task["prompt"]
            codes = list(
                dict.fromkeys(prompt + cut_at_stop_tokens(s) for s in task["code_samples"])
            )
            tests = list(
                dict.fromkeys(t for s in task["test_samples"] for t in extract_tests(s, entry)[:5])
            )
            if codes and tests:
                tasks.append((entry, codes[:10], tests[:10]))
            if len(tasks) == n:
                break
    return tasks


def matrices_with(executor, tasks) -> tuple[float, list[list[list[str]]]]:
    started = time.perf_counter()
    outcomes = [
        build_pass_matrix(codes, tests, entry=entry, executor=executor).outcomes.tolist()
        for entry, codes, tests in tasks
    ]
    return time.perf_counter() - started, outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--tasks", type=int, default=80)
    args = parser.parse_args()
    import distributed

    workbench.configure(home=tempfile.mkdtemp(prefix="wb-scaling-"))
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, resources={"timing": 1}, dashboard_address=None
    )
    client = distributed.Client(cluster)
    executors = {
        "serial": SerialExecutor(),
        "local": LocalExecutor(),
        "dask x2": DaskExecutor(client),
    }
    tasks = humaneval_tasks(args.data, args.tasks) if args.data.exists() else []
    rows = []
    try:
        results = {name: optimize_with(ex) for name, ex in executors.items()}
        same = len({tuple(v) for _, v in results.values()}) == 1
        rows.append(("optimize, 12 candidates", {k: t for k, (t, _) in results.items()}, same))
        if tasks:
            results = {name: matrices_with(ex, tasks) for name, ex in executors.items()}
            same = len({json.dumps(v) for _, v in results.values()}) == 1
            label = f"pass matrix, {len(tasks)} tasks"
            rows.append((label, {k: t for k, (t, _) in results.items()}, same))
        else:
            print(f"(no CodeT data at {args.data}: pass-matrix row skipped)")
    finally:
        client.close()
        cluster.close()
    names = list(executors)
    print(
        f"{'run':<26}"
        + "".join(f"{n:>11}" for n in names)
        + "   local/serial  dask/serial  verdicts"
    )
    for label, times, same in rows:
        cells = "".join(f"{times[n]:>10.1f}s" for n in names)
        print(
            f"{label:<26}{cells}   {times['serial'] / times['local']:>11.2f}x "
            f"{times['serial'] / times['dask x2']:>11.2f}x  {'identical' if same else 'DIFFER'}"
        )
    return 0 if all(same for _, _, same in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
