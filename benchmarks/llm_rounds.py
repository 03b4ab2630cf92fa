"""Where the time of an LLM round goes: generation vs verification vs timing, per round.

    python benchmarks/llm_rounds.py [--rounds 2] [--paths 3] [--max-tokens 400]

Runs ``optimize`` with the embedded model on a loop function and reads the phase timeline the
session stored (the same ranges an Nsight capture shows as NVTX ranges).
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time

import numpy as np

import workbench
from workbench import LLMStrategy

SOURCE = """
import numpy as np
def sum_squares(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * x[i]
    return total
"""


def make(n):
    return (np.random.default_rng(n).standard_normal(n),)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--paths", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=400)
    args = parser.parse_args()
    workbench.configure(home=tempfile.mkdtemp(prefix="wb-llm-rounds-"), time_budget=1.0)
    strategy = LLMStrategy(paths=args.paths, max_tokens=args.max_tokens)
    started = time.perf_counter()
    res = workbench.optimize(
        SOURCE, inputs=make, strategies=[strategy], rounds=args.rounds, patience=args.rounds
    )
    total = time.perf_counter() - started
    events = workbench.SessionStore(workbench.get_settings().home).events(res.run_id)
    (phases,) = [e["data"]["phases"] for e in events if e["kind"] == "timeline"]
    round_of = {c.id: c.round for c in res.candidates}
    spent: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    for p in phases:
        attrs = p["attributes"]
        rnd = attrs.get("round", round_of.get(attrs.get("candidate"), 0))
        kind = {"compile": "verify"}.get(p["name"], p["name"])
        spent[rnd][kind] += p["end"] - p["start"]
    tokens = sum(e.completion_tokens for e in strategy.exchanges)
    print(
        f"{'round':>5} {'generate s':>11} {'verify s':>9} {'time s':>7} {'candidates':>11} {'passed':>7} {'best':>8}"
    )
    for rnd in sorted(spent):
        cands = [c for c in res.candidates if c.round == rnd]
        passed = [c for c in cands if c.status == "passed"]
        best = max((c.speedup for c in passed), default=None)
        print(
            f"{rnd:>5} {spent[rnd]['generate']:>11.1f} {spent[rnd]['verify']:>9.1f} {spent[rnd]['time']:>7.1f}"
            f" {len(cands):>11} {len(passed):>7} {(f'{best:.0f}x' if best else '-'):>8}"
        )
    print(
        f"reference {spent[0]['reference']:.1f} s; total {total:.1f} s; {tokens} completion tokens; "
        f"paths: {sorted({c.path for c in res.candidates if c.path})}"
    )


if __name__ == "__main__":
    main()
