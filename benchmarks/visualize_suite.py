"""VisPath on the embedded model: how often the plots run and pass the figure checks.

    python benchmarks/visualize_suite.py [--limit N] [--max-tokens 350] [--out results.json]

22 plotting requests of varied difficulty over four small data sets generated here
(deterministically). Each request runs once with K=3 paths, aggregation and one refinement
round; from that one run the table reads three set-ups side by side:

- single-path: the first path only (what one sample of the model gives),
- multi-path: the best of the K paths (the checks pick it, as the view does for the user),
- multi-path + aggregation: the final script written from the paths and their feedback.

"executable" means the script ran and saved a figure; "checks" means it also passed every
figure check (title, axis labels, legend for several series, no empty axes, no overlapping
x tick labels). Results are written as they come, so a long run can be stopped and read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def datasets() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(8)
    months = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m")
    regions = ["North", "South", "East", "West"]
    growth = {"North": 1.01, "South": 1.06, "East": 0.99, "West": 1.03}
    sales = pd.DataFrame(
        [
            {
                "month": m,
                "region": r,
                "revenue": round(100 * growth[r] ** i + rng.normal(0, 3), 1),
                "units": int(50 + 5 * i + rng.integers(0, 10)),
            }
            for r in regions
            for i, m in enumerate(months)
        ]
    )
    days = pd.date_range("2024-06-01", periods=60, freq="D")
    weather = pd.DataFrame(
        {
            "date": np.tile(days, 2),
            "city": np.repeat(["Lyon", "Oslo"], 60),
            "temp_c": np.r_[
                22 + 4 * np.sin(np.arange(60) / 9) + rng.normal(0, 1, 60),
                14 + 3 * np.sin(np.arange(60) / 9) + rng.normal(0, 1, 60),
            ].round(1),
            "rain_mm": rng.gamma(0.6, 4, 120).round(1),
        }
    )
    species = np.repeat(["setosa", "versicolor", "virginica"], 40)
    centre = {"setosa": (5.0, 3.4), "versicolor": (5.9, 2.8), "virginica": (6.6, 3.0)}
    flowers = pd.DataFrame(
        {
            "species": species,
            "sepal_length": [round(centre[s][0] + rng.normal(0, 0.35), 2) for s in species],
            "sepal_width": [round(centre[s][1] + rng.normal(0, 0.3), 2) for s in species],
        }
    )
    survey = pd.DataFrame(
        {
            "answer": [
                "Strongly disagree",
                "Disagree",
                "Neutral",
                "Agree",
                "Strongly agree",
            ]
            * 2,
            "group": ["staff"] * 5 + ["students"] * 5,
            "count": [4, 9, 21, 38, 18, 12, 20, 30, 25, 9],
        }
    )
    return {"sales": sales, "weather": weather, "flowers": flowers, "survey": survey}


REQUESTS: list[tuple[str, str]] = [
    ("sales", "monthly revenue by region"),
    ("sales", "total revenue per region as bars"),
    ("sales", "monthly revenue by region, highlight the region that grew fastest"),
    ("sales", "units sold per month, all regions summed"),
    ("sales", "share of yearly revenue per region"),
    ("sales", "revenue against units, coloured by region"),
    ("sales", "month-over-month revenue growth in percent for each region"),
    ("sales", "a heatmap of revenue with months as columns and regions as rows"),
    ("weather", "daily temperature in both cities"),
    ("weather", "distribution of daily rainfall"),
    ("weather", "weekly total rainfall per city"),
    ("weather", "temperature of Lyon with a 7-day rolling mean"),
    ("weather", "box plot of temperature per city"),
    ("weather", "does rain go with colder days? one panel per city"),
    ("flowers", "sepal length against sepal width by species"),
    ("flowers", "compare sepal length across species"),
    ("flowers", "histogram of sepal width, one colour per species"),
    ("flowers", "mean and spread of both measurements per species"),
    ("survey", "answers of staff and students side by side"),
    ("survey", "stacked bars of answers per group, in percent"),
    ("survey", "which answer is most common overall"),
    ("survey", "diverging bar chart of agreement per group"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=len(REQUESTS))
    parser.add_argument("--paths", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=350)
    parser.add_argument("--out", default="visualize_suite.json")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from workbench import _settings
    from workbench.llm import default_local_model
    from workbench.visualizer._engine import visualize

    home = Path(args.out).with_suffix(".workbench")
    settings = _settings.get_settings().replace(home=home, timeout=60.0)
    backend = default_local_model()
    data = datasets()
    rows = []
    started = time.perf_counter()
    for n, (name, request) in enumerate(REQUESTS[: args.limit], 1):
        t0 = time.perf_counter()
        result = visualize(
            request,
            data=data[name],
            data_name="df",
            backend=backend,
            paths=args.paths,
            refine_rounds=1,
            settings=settings,
            max_tokens=args.max_tokens,
            temperature=0.7,
            seed=n,
        )
        final = result.final
        row = {
            "data": name,
            "request": request,
            "paths_executed": [p.facts.executed for p in result.paths],
            "paths_passed": [p.passed for p in result.paths],
            "final_executed": bool(final and final.facts.executed),
            "final_passed": bool(final and final.passed),
            "refined": len(result.rounds),
            "problems": [p.facts.summary() for p in result.paths]
            + [final.facts.summary() if final else "-"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        rows.append(row)
        Path(args.out).write_text(json.dumps(rows, indent=1))
        print(
            f"[{n:2d}] {row['seconds']:6.1f}s paths ran {sum(row['paths_executed'])}/"
            f"{args.paths} passed {sum(row['paths_passed'])}/{args.paths}, final "
            f"{'ran' if row['final_executed'] else 'FAILED'}"
            f"{' + passed' if row['final_passed'] else ''} | {request}",
            flush=True,
        )
    print_table(rows, args.paths, time.perf_counter() - started)
    backend.close()
    return 0


def print_table(rows: list[dict], k: int, seconds: float) -> None:
    n = len(rows)
    if not n:
        return
    setups = [
        ("single-path (path 1)", lambda r: r["paths_executed"][0], lambda r: r["paths_passed"][0]),
        (
            f"multi-path (best of {k})",
            lambda r: any(r["paths_executed"]),
            lambda r: any(r["paths_passed"]),
        ),
        ("multi-path + aggregation", lambda r: r["final_executed"], lambda r: r["final_passed"]),
    ]
    print(f"\n{n} requests, {seconds / 60:.1f} min")
    print("| set-up | executable | passes figure checks |\n|---|---|---|")
    for name, ran, passed in setups:
        ran_n, passed_n = sum(map(ran, rows)), sum(map(passed, rows))
        print(f"| {name} | {ran_n}/{n} ({ran_n / n:.0%}) | {passed_n}/{n} ({passed_n / n:.0%}) |")


if __name__ == "__main__":
    sys.exit(main())
