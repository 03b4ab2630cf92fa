"""VisPath on public-style plotting instructions: how often the final plots run, pass the
figure checks and show what was asked, and (with ground truth) how close they look.

    python benchmarks/visualize_suite.py [--suite own|frames|matplotbench] [--limit N]
        [--model qwen2.5-coder-0.5b | --replay FILE] [--record FILE] [--out results.json]

Suites:

- ``own`` (default): 11 instructions written here in MatPlotBench's style: most make their
  own data ("reproducible random data", "a sine wave from 0 to 2π"), three come with a data
  file (CSV, JSON) written at run time, one with a DataFrame (the demo's request);
- ``frames``: 22 requests over four DataFrames generated here;
- ``matplotbench``: MatPlotBench (thunlp/MatPlotAgent, the benchmark the VisPath paper reports
  on), read at run time from ``--matplotbench``: a local ``benchmark_data`` folder or a URL
  it is downloaded from into ``--cache``; never kept in this repository. Its cases with a
  data folder get the folder's file(s) as data; its ground-truth images are compared.

Each case runs once with K paths, aggregation and up to ``--refine-rounds`` repairs. The table
reads three set-ups from that run: the first path alone, the best of the K paths (the checks
pick it) and the final script. "runs" = the script ran and saved a figure; "checks" = it also
passes every figure check and shows every expectation of the request; "old checks" = the
figure checks this project had before (title, axis labels, legend for several series, empty
axes, overlapping x tick labels), for comparison. "similarity" is a block SSIM of the final
image against the ground truth (grey, 128x128), where one exists.

``--record FILE`` saves the model's exchanges; ``--replay FILE`` answers from them without a
model (what CI runs). Results are written as they come.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MATPLOTBENCH_URL = "https://raw.githubusercontent.com/thunlp/MatPlotAgent/main/benchmark_data"
HERE = Path(__file__).resolve().parent
RECORDING = HERE / "recordings" / "visualize_suite.json"


@dataclass
class Case:
    id: str
    instruction: str
    data: Any = None  # None: the script makes its own; a DataFrame; or a file/folder path
    ground_truth: Path | None = None
    files: dict[str, str] = field(default_factory=dict)  # name -> text, written at run time


# -- the own suite ---------------------------------------------------------------------------
def demo_frame() -> pd.DataFrame:
    months = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m")
    growth = {"North": 1.01, "South": 1.06, "East": 0.99, "West": 1.03}
    return pd.DataFrame(
        [
            {"month": m, "region": r, "revenue": round(100 * g**i, 1)}
            for r, g in growth.items()
            for i, m in enumerate(months)
        ]
    )


def _temperatures_csv() -> str:
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-03-01", periods=45, freq="D").strftime("%Y-%m-%d")
    rows = [
        (d, city, round(base + 6 * np.sin(i / 7) + rng.normal(0, 1), 1))
        for city, base in (("Lyon", 14.0), ("Oslo", 4.0), ("Seville", 21.0))
        for i, d in enumerate(days)
    ]
    return pd.DataFrame(rows, columns=["date", "city", "temp_c"]).to_csv(index=False)


def _scores_csv() -> str:
    rng = np.random.default_rng(5)
    rows = [
        (f"s{c}{i}", c, int(np.clip(rng.normal(mean, 9), 0, 100)))
        for c, mean in (("A", 62), ("B", 71), ("C", 55), ("D", 80))
        for i in range(30)
    ]
    return pd.DataFrame(rows, columns=["student", "class", "score"]).to_csv(index=False)


def _sales_json() -> str:
    rows = [
        {"year": y, "product": p, "sales": s}
        for y in range(2019, 2025)
        for p, s in (
            ("tea", 20 + 3 * (y - 2019)),
            ("coffee", 35 - (y - 2019)),
            ("cocoa", 8 + y % 3),
        )
    ]
    return json.dumps(rows)


def own_cases() -> list[Case]:
    return [
        Case(
            "own-1",
            "Plot a sine wave and a cosine wave from 0 to 2π on the same axes, each with its own "
            "colour and a legend, axis labels, and the title 'Sine and cosine'.",
        ),
        Case(
            "own-2",
            "Generate randomly generated, reproducible data for three groups of 200 normally "
            "distributed samples with different means, and draw their histograms on one axes, "
            "semi-transparent, with a legend naming the groups.",
        ),
        Case(
            "own-3",
            "Create a figure with two rows and two columns of subplots showing a line, a "
            "scatter, a bar chart and a pie chart of small reproducible random data; give each "
            "subplot a title.",
        ),
        Case(
            "own-4",
            "Draw a bar chart of the populations of five made-up towns that range from 2 "
            "thousand to 30 million people, so that the small towns remain readable.",
        ),
        Case(
            "own-5",
            "Make a scatter plot of 300 reproducible random points whose y grows linearly with "
            "x plus noise, and draw the least-squares fit line in red. The title should be "
            "'Linear fit'.",
        ),
        Case(
            "own-6",
            "Draw a horizontal bar chart of 12 programming languages with long names and "
            "made-up popularity scores, sorted from most to least popular, with readable labels.",
        ),
        Case(
            "own-7",
            "Simulate three reproducible random walks of 500 steps and plot them as lines over "
            "the step number, one colour per walk, with a legend and the title 'Random walks'.",
        ),
        Case(
            "own-8",
            "data.csv holds daily temperatures of three cities (date, city, temp_c): plot one "
            "line per city over the dates with a legend and readable date labels.",
            data="data.csv",
            files={"data.csv": _temperatures_csv()},
        ),
        Case(
            "own-9",
            "data.csv holds exam scores of students by class: show the distribution of scores "
            "per class as box plots, one box per class.",
            data="data.csv",
            files={"data.csv": _scores_csv()},
        ),
        Case(
            "own-10",
            "data.json holds yearly sales per product: draw a stacked bar chart of sales per "
            "year with one colour per product and a legend.",
            data="data.json",
            files={"data.json": _sales_json()},
        ),
        Case(
            "own-11",
            "monthly revenue by region, highlight the region that grew fastest, readable labels",
            data=demo_frame(),
        ),
    ]


# -- the frames suite (the earlier benchmark) ------------------------------------------------
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
    answers = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
    survey = pd.DataFrame(
        {
            "answer": answers * 2,
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


def frame_cases() -> list[Case]:
    data = datasets()
    return [Case(f"frames-{i}", r, data=data[d]) for i, (d, r) in enumerate(REQUESTS, 1)]


# -- MatPlotBench, read at run time ----------------------------------------------------------
def matplotbench_cases(source: str, cache: Path, ids: list[int] | None) -> list[Case]:
    """MatPlotBench's cases from a local ``benchmark_data`` folder or a URL (downloaded into
    ``cache`` as needed)."""
    remote = source.startswith(("http://", "https://"))
    root = cache if remote else Path(source).expanduser()
    index = root / "benchmark_instructions.json"
    if remote and not index.exists():
        _download(f"{source}/benchmark_instructions.json", index)
    if not index.exists():
        raise SystemExit(f"no {index}: give --matplotbench a MatPlotAgent benchmark_data folder")
    cases = []
    for item in json.loads(index.read_text()):
        n = int(item["id"])
        if ids and n not in ids:
            continue
        data_dir = root / "data" / str(n)
        truth = root / "ground_truth" / f"example_{n}.png"
        if remote:
            _download(f"{source}/ground_truth/example_{n}.png", truth, missing_ok=True)
        data: Any = None
        if data_dir.is_dir():
            files = sorted(p for p in data_dir.iterdir() if p.is_file())
            data = str(files[0]) if len(files) == 1 else str(data_dir)
        cases.append(
            Case(
                f"matplotbench-{n}",
                item["simple_instruction"].strip(),
                data=data,
                ground_truth=truth if truth.exists() else None,
            )
        )
    return cases


def _download(url: str, target: Path, missing_ok: bool = False) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a fixed https URL
            target.write_bytes(response.read())
    except OSError as exc:
        if not missing_ok:
            raise SystemExit(
                f"could not download {url} ({exc}): give --matplotbench a local copy of "
                "MatPlotAgent's benchmark_data folder"
            ) from None


# -- measures --------------------------------------------------------------------------------
def old_checks_pass(facts: Any) -> bool:
    """The figure checks this project had before issue 19, on the same facts."""
    if not facts.executed or not facts.axes:
        return False
    if not facts.suptitle and not any(a.get("title") for a in facts.axes):
        return False
    for a in facts.axes:
        if a.get("empty"):
            return False
        if not a.get("pie") and (not a.get("xlabel") or not a.get("ylabel")):
            return False
        if a.get("series", 0) > 1 and not a.get("legend") and not a.get("pie"):
            return False
        if a.get("overlapping_xticks"):
            return False
    return True


def similarity(
    png: bytes | None, truth: Path | None, size: int = 128, block: int = 8
) -> float | None:
    """Mean SSIM over ``block``-pixel blocks of the two images, grey and resized to ``size``."""
    if png is None or truth is None:
        return None
    from PIL import Image

    def grey(image: Image.Image) -> np.ndarray:
        flat = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        flat.paste(rgba, mask=rgba.split()[-1])
        return np.asarray(flat.convert("L").resize((size, size), Image.BILINEAR), dtype=float)

    a, b = grey(Image.open(io.BytesIO(png))), grey(Image.open(truth))
    shape = (size // block, block, size // block, block)
    a, b = a.reshape(shape).swapaxes(1, 2), b.reshape(shape).swapaxes(1, 2)
    mu_a, mu_b = a.mean(axis=(2, 3)), b.mean(axis=(2, 3))
    var_a, var_b = a.var(axis=(2, 3)), b.var(axis=(2, 3))
    cov = ((a - mu_a[..., None, None]) * (b - mu_b[..., None, None])).mean(axis=(2, 3))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim.mean())


# -- the run ---------------------------------------------------------------------------------
def run_case(case: Case, n: int, backend: Any, args: argparse.Namespace, settings: Any) -> dict:
    from workbench.visualizer._engine import visualize

    workdir = Path(tempfile.mkdtemp(prefix="wb-vis-case-"))
    data = case.data
    try:
        for name, text in case.files.items():
            (workdir / name).write_text(text)
        if isinstance(data, str) and case.files:
            data = str(workdir / data)
        t0 = time.perf_counter()
        result = visualize(
            case.instruction,
            data=data,
            data_name="df",
            backend=backend,
            paths=args.paths,
            refine_rounds=args.refine_rounds,
            settings=settings,
            max_tokens=args.max_tokens,
            temperature=0.7,
            seed=n,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    final = result.final
    paths = result.paths
    return {
        "id": case.id,
        "instruction": case.instruction[:200],
        "data": "none"
        if case.data is None
        else ("file" if isinstance(case.data, str) else "frame"),
        "expected": final.facts.expected if final else [],
        "paths_ran": [p.facts.executed for p in paths],
        "paths_passed": [p.passed for p in paths],
        "paths_old_checks": [old_checks_pass(p.facts) for p in paths],
        "final_ran": bool(final and final.facts.executed),
        "final_passed": bool(final and final.passed),
        "final_old_checks": bool(final and old_checks_pass(final.facts)),
        "final_id": final.id if final else None,
        "repairs": len(result.rounds),
        "final_problems": (final.facts.problems + final.facts.unmet) if final else [],
        "similarity": similarity(final.png if final else None, case.ground_truth),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("own", "frames", "matplotbench"), default="own")
    parser.add_argument("--matplotbench", default=MATPLOTBENCH_URL, metavar="DIR|URL")
    parser.add_argument("--ids", default="", help="case numbers, e.g. 8,1,4 (own) or 4,83")
    parser.add_argument("--cache", default="~/.cache/workbench/matplotbench")
    parser.add_argument("--limit", type=int, default=0, help="first N cases (0: all)")
    parser.add_argument("--paths", type=int, default=3)
    parser.add_argument("--refine-rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--model", default=None, help="embedded model (default: the default)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per answer")
    parser.add_argument("--replay", default=None, metavar="FILE", help="answer from a recording")
    parser.add_argument("--record", default=None, metavar="FILE", help="save the exchanges")
    parser.add_argument("--out", default="visualize_suite.json")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from workbench import _settings

    ids = [int(i) for i in args.ids.split(",") if i.strip()] or None
    if args.suite == "matplotbench":
        cases = matplotbench_cases(args.matplotbench, Path(args.cache).expanduser(), ids)
    else:
        cases = own_cases() if args.suite == "own" else frame_cases()
        if ids:  # in the order given
            by_number = {int(c.id.rsplit("-", 1)[1]): c for c in cases}
            cases = [by_number[i] for i in ids if i in by_number]
    if args.limit:
        cases = cases[: args.limit]

    if args.replay:
        from workbench.llm import ReplayBackend

        backend: Any = ReplayBackend(args.replay)
    else:
        from workbench.llm._local import DEFAULT_MODEL, LocalModel

        backend = LocalModel(args.model or DEFAULT_MODEL, timeout=args.timeout)
    if args.record:
        from workbench.llm import RecordingBackend

        backend = RecordingBackend(backend)
    home = Path(args.out).with_suffix(".workbench")
    settings = _settings.get_settings().replace(home=home, timeout=60.0)
    rows = []
    started = time.perf_counter()
    for n, case in enumerate(cases, 1):
        row = run_case(case, n, backend, args, settings)
        rows.append(row)
        Path(args.out).write_text(json.dumps(rows, indent=1))
        if args.record:
            backend.save(args.record)
        print(
            f"[{case.id:>16}] {row['seconds']:6.1f}s paths ran {sum(row['paths_ran'])}/"
            f"{args.paths} passed {sum(row['paths_passed'])}/{args.paths}; final "
            f"{'ran' if row['final_ran'] else 'FAILED'}{' + passed' if row['final_passed'] else ''}"
            f" ({row['repairs']} repairs) | {'; '.join(row['final_problems'])[:160]}",
            flush=True,
        )
    print_table(rows, args.paths, time.perf_counter() - started, backend.model)
    close = getattr(backend, "close", None)
    if close is not None and not args.replay:
        close()
    return 0


def print_table(rows: list[dict], k: int, seconds: float, model: str = "") -> None:
    n = len(rows)
    if not n:
        return
    setups = [
        ("single path (path 1)", "paths", lambda r, key: r[key][0]),
        (f"best of {k} paths", "paths", lambda r, key: any(r[key])),
        ("aggregated + repaired", "final", lambda r, key: r[key]),
    ]
    print(f"\n{n} cases, {seconds / 60:.1f} min, model {model}")
    print("| set-up | runs | passes the checks | passes the old checks |\n|---|---|---|---|")
    for name, prefix, pick in setups:
        ran = sum(pick(r, f"{prefix}_ran") for r in rows)
        passed = sum(pick(r, f"{prefix}_passed") for r in rows)
        old = sum(pick(r, f"{prefix}_old_checks") for r in rows)
        print(
            f"| {name} | {ran}/{n} ({ran / n:.0%}) | {passed}/{n} ({passed / n:.0%}) | {old}/{n} |"
        )
    scores = [r["similarity"] for r in rows if r["similarity"] is not None]
    if scores:
        # a script that fails after drawing still leaves a (partial) figure to compare
        ran = [r["similarity"] for r in rows if r["similarity"] is not None and r["final_ran"]]
        print(
            f"image similarity of the final to the ground truth: mean {np.mean(scores):.3f} over "
            f"{len(scores)}"
            + (f"; {np.mean(ran):.3f} over the {len(ran)} that ran" if ran else "; none ran")
        )


if __name__ == "__main__":
    sys.exit(main())
