"""Does the speedup the workbench reports agree with an independent measurement?

Six functions from microseconds to ~100 ms per call, each with a faster candidate. For each, the
workbench's reported speedup (paired timing job, median ratio) is printed beside ``timeit`` run
in this process on the same inputs (``inputs(size + k)`` for k = 0..K-1, the inputs the timing
job gives call k), taken in the same run, and their ratio. Agreement means within 5 %.

    python benchmarks/timing_agreement.py [--budget 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import timeit

import numpy as np

import workbench

CASES = [
    # (name, timing size, reference, candidate, inputs)
    (
        "squares, 200 ints (µs)",
        200,
        "def f(x):\n    return sum([v * v for v in x])\n",
        "def f(x):\n    s = 0\n    for v in x:\n        s += v * v\n    return s\n",
        lambda n: (list(range(n)),),
    ),
    (
        "row norms, 64x8 (µs)",
        64,
        "import numpy as np\ndef f(X):\n    return np.sqrt((X ** 2).sum(axis=1))\n",
        "import numpy as np\ndef f(X):\n    return np.sqrt(np.einsum('ij,ij->i', X, X))\n",
        lambda n: (np.random.default_rng(n).random((n, 8)),),
    ),
    (
        "dot, 2,000 floats (100 µs)",
        2000,
        "def f(x, y):\n    s = 0.0\n    for a, b in zip(x, y):\n        s += a * b\n    return s\n",
        "import math\ndef f(x, y):\n    return math.fsum(a * b for a, b in zip(x, y))\n",
        lambda n: tuple(np.random.default_rng(n).random((2, n)).tolist()),
    ),
    (
        "pairwise, 60 points (ms)",
        60,
        "import numpy as np\ndef f(X):\n    n = len(X)\n    out = np.empty((n, n))\n"
        "    for i in range(n):\n        for j in range(n):\n"
        "            out[i, j] = np.sqrt(((X[i] - X[j]) ** 2).sum())\n    return out\n",
        "import numpy as np\ndef f(X):\n    d = X[:, None, :] - X[None, :, :]\n"
        "    return np.sqrt((d ** 2).sum(axis=-1))\n",
        lambda n: (np.random.default_rng(n).random((n, 3)),),
    ),
    (
        "word counts, 40k words (10 ms)",
        40_000,
        "def f(words):\n    counts = {}\n    for w in words:\n        if w in counts:\n"
        "            counts[w] += 1\n        else:\n            counts[w] = 1\n    return counts\n",
        "from collections import Counter\ndef f(words):\n    return dict(Counter(words))\n",
        lambda n: ([f"w{v}" for v in np.random.default_rng(n).integers(0, 500, n)],),
    ),
    (
        "running max, 300k (100 ms)",
        300_000,
        "import numpy as np\ndef f(x):\n    out = np.empty_like(x)\n    m = -np.inf\n"
        "    for i in range(len(x)):\n        m = max(m, x[i])\n        out[i] = m\n    return out\n",
        "import numpy as np\ndef f(x):\n    return np.maximum.accumulate(x)\n",
        lambda n: (np.random.default_rng(n).random(n),),
    ),
]


def independent(reference: str, candidate: str, inputs, size: int, calls: int) -> float:
    """The median-ratio speedup from ``timeit``, on the inputs the timing job used."""
    ref_ns: dict = {"np": np}
    cand_ns: dict = {"np": np}
    exec(reference, ref_ns)
    exec(candidate, cand_ns)
    ref_fn, cand_fn = ref_ns["f"], cand_ns["f"]
    ref_times, cand_times = [], []
    for k in range(calls):
        args = inputs(size + k)
        for fn, out in ((ref_fn, ref_times), (cand_fn, cand_times)):
            timer = timeit.Timer(lambda fn=fn, args=args: fn(*args))
            number, _ = timer.autorange()
            out.append(min(timer.repeat(repeat=3, number=number)) / number)
    return statistics.median(ref_times) / statistics.median(cand_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=2.0, help="time budget per candidate (s)")
    args = parser.parse_args()
    workbench.configure(home=tempfile.mkdtemp(prefix="wb-agreement-"), time_budget=args.budget)
    print(f"{'function':<32}{'workbench':>11}{'interval':>18}{'timeit':>9}{'ratio':>8}")
    worst = 0.0
    for name, size, reference, candidate, inputs in CASES:
        res = workbench.optimize(
            reference,
            inputs=inputs,
            strategies=[],
            candidates=[candidate],
            sizes=[1, 2, 3, 8],
            timing_size=size,
            namespace={"np": np},
        )
        cand = res.candidates[0]
        if cand.status != "passed":
            print(f"{name:<32} {cand.status}: {cand.reason}")
            worst = float("inf")
            continue
        other = independent(reference, candidate, inputs, size, min(cand.timing.repeats, 15))
        ratio = cand.speedup / other
        worst = max(worst, abs(ratio - 1))
        interval = f"[{cand.speedup_low:.2f}-{cand.speedup_high:.2f}]"
        print(f"{name:<32}{cand.speedup:>10.2f}x{interval:>18}{other:>8.2f}x{ratio:>8.3f}")
    print(f"largest disagreement: {worst:.1%} ({'within' if worst <= 0.05 else 'over'} 5 %)")
    return 0 if worst <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
