"""Does %%optimize find what an expert finds? Ours vs a hand-written fast version, per function.

    python benchmarks/expert_suite.py [--modes numba,numba+local,numba+local-large]
        [--only NAME,...] [--kind numpy|python] [--budget 1] [--paths 3] [--max-tokens 700]

For each function in ``benchmarks/expert_cases.py`` (vectorized NumPy kernels and plain-Python
code) the expert's version goes into the same ``optimize`` run as a user candidate, so it is
verified and timed like for like with the reference and with our candidates (same worker,
same sizes, interleaved). Printed per function: the reference's time, the expert's speedup,
our best verified speedup (1.0 when nothing was significantly faster: the user keeps the
original) and its strategy, ours/expert (the expert's speedup counted as 1.0 when their
version is slower than the original: they would keep the original too), how many of our candidates passed, the wall time;
then the geometric mean of ours/expert per kind and overall, for each mode.

Modes: ``numba`` (the mechanical variants only), ``numba+local`` (plus the embedded 0.5B
model), ``numba+local-large`` (plus the 1.5B model; needs ``workbench[local-large]``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from expert_cases import CASES, Case  # noqa: E402

import workbench  # noqa: E402

MODELS = {"local": "qwen2.5-coder-0.5b", "local-large": "qwen2.5-coder-1.5b"}


def strategies_for(mode: str, backends: dict, paths: int, max_tokens: int) -> list:
    parts = mode.split("+")
    out: list = []
    for part in parts:
        if part == "numba":
            out.append("numba")
        elif part in MODELS:
            if part not in backends:
                from workbench.llm import LocalModel

                backends[part] = LocalModel(MODELS[part], slots=1)
            out.append(workbench.LLMStrategy(backends[part], paths=paths, max_tokens=max_tokens))
        else:
            raise SystemExit(f"unknown mode part {part!r}: use numba, local, local-large")
    return out


def run_case(case: Case, strategies: list) -> dict:
    started = time.perf_counter()
    res = workbench.optimize(
        case.source, inputs=case.inputs, candidates=[case.expert], strategies=strategies
    )
    wall = time.perf_counter() - started
    expert = next(c for c in res.candidates if c.strategy == "user")
    ours = [c for c in res.candidates if c.strategy != "user"]
    passed = [c for c in ours if c.status == "passed" and c.speedup is not None]
    faster = [c for c in passed if c.significant and c.speedup > 1.0]
    best = max(faster, key=lambda c: c.speedup) if faster else None
    llm = [c for c in ours if c.strategy == "llm"]
    return {
        "name": case.name,
        "kind": case.kind,
        "size": res.reference.timing.size if res.reference.timing else None,
        "reference_s": res.reference.timing.median if res.reference.timing else math.nan,
        "expert": expert.speedup if expert.status == "passed" else None,
        "expert_status": expert.status if expert.status != "passed" else "",
        "expert_reason": expert.reason,
        "ours": best.speedup if best else 1.0,
        "strategy": best.strategy if best else "(original)",
        "passed": f"{len(passed)}/{len(ours)}",
        "llm_passed": f"{sum(c.status == 'passed' for c in llm)}/{len(llm)}" if llm else "-",
        "wall_s": wall,
    }


def geomean(values: list[float]) -> float:
    values = [v for v in values if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="numba")
    parser.add_argument("--only", help="comma-separated function names")
    parser.add_argument("--kind", choices=("numpy", "python"))
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls")
    parser.add_argument("--paths", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=700)
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(CASES)
    cases = [CASES[n] for n in names if args.kind in (None, CASES[n].kind)]
    workbench.configure(home=tempfile.mkdtemp(prefix="wb-expert-"), time_budget=args.budget)
    backends: dict = {}
    header = (
        f"{'function':<22}{'kind':<7}{'reference':>11}{'expert':>9}{'ours':>9}  "
        f"{'strategy':<24}{'ours/expert':>12}{'passed':>8}{'llm ok':>8}{'wall s':>8}"
    )
    try:
        for mode in args.modes.split(","):
            for part in [p for p in backends if p not in mode.split("+")]:
                backends.pop(part).close()  # one model server at a time on a small machine
            strategies = strategies_for(mode, backends, args.paths, args.max_tokens)
            print(f"\n== mode {mode} ({len(cases)} functions)\n{header}\n{'-' * len(header)}")
            rows = []
            for case in cases:
                row = run_case(case, strategies)
                rows.append(row)
                expert = row["expert"]
                # an expert whose rewrite is slower keeps the original too
                ratio = row["ours"] / max(expert, 1.0) if expert else math.nan
                row["ratio"] = ratio
                expert_text = f"{expert:.2f}x" if expert else row["expert_status"]
                print(
                    f"{row['name']:<22}{row['kind']:<7}{row['reference_s'] * 1e3:>9.2f}ms"
                    f"{expert_text:>9}{row['ours']:>8.2f}x  {row['strategy']:<24}"
                    f"{ratio:>12.2f}{row['passed']:>8}{row['llm_passed']:>8}{row['wall_s']:>8.1f}",
                    flush=True,
                )
                if not expert:
                    print(f"    expert {row['expert_status']}: {row['expert_reason']}")
            for kind in ("numpy", "python"):
                some = [r["ratio"] for r in rows if r["kind"] == kind]
                if some:
                    print(f"geometric mean ours/expert, {kind}: {geomean(some):.3f} ({len(some)})")
            print(
                f"geometric mean ours/expert, all: {geomean([r['ratio'] for r in rows]):.3f}; "
                f"found a verified speedup on {sum(r['ours'] > 1 for r in rows)}/{len(rows)}; "
                f"wall {sum(r['wall_s'] for r in rows):.0f} s"
            )
    finally:
        for backend in backends.values():
            backend.close()


if __name__ == "__main__":
    main()
