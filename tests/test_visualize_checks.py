"""Figure checks that see what a reader sees, expectations from the request, repair that keeps
the best attempt, and requests without data or with a data file (issue 19)."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from workbench._errors import UsageError
from workbench.sandbox._wire import decode, encode
from workbench.visualizer import _checks
from workbench.visualizer._engine import (
    FigureFacts,
    load_data,
    load_visualize_result,
    render_script,
    visualize,
)

pd = pytest.importorskip("pandas")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from test_visualize import GOOD_LINES, ScriptedBackend  # noqa: E402


@pytest.fixture
def sales():
    months = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m")
    growth = {"North": 1.01, "South": 1.06, "East": 0.99, "West": 1.03}
    return pd.DataFrame(
        [
            {"month": m, "region": r, "revenue": round(100 * g**i, 1)}
            for r, g in growth.items()
            for i, m in enumerate(months)
        ]
    )


def facts_of(script: str, data=None) -> FigureFacts:
    """The worker's measurement, in this process: run, measure, encode and decode the facts."""
    import matplotlib.pyplot as plt

    from workbench.sandbox._plot_facts import figure_facts

    plt.close("all")
    exec(compile(script, "<plot script>", "exec"), {"df": data, "plt": plt, "np": np})
    fig = plt.figure(plt.get_fignums()[-1])
    raw = {"error": None, "n_figures": 1, **figure_facts(fig)}
    plt.close("all")
    return FigureFacts.from_worker(decode(encode(raw)), png_bytes=1)


HEAD = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(9, 4))\n"
TAIL = (
    "ax.set_title('Monthly revenue'); ax.set_xlabel('month'); ax.set_ylabel('revenue')\n"
    "ax.tick_params(axis='x', labelrotation=45); fig.tight_layout()\n"
)
ONE_LINE = HEAD + "ax.plot(df['month'], df['revenue'], label='Region'); ax.legend()\n" + TAIL
PER_REGION = (
    HEAD + "for r, g in df.groupby('region'):\n    ax.plot(g['month'], g['revenue'], label=r)\n"
    "ax.legend()\n" + TAIL
)
HIGHLIGHTED = (
    HEAD + "for r, g in df.groupby('region'):\n"
    "    ax.plot(g['month'], g['revenue'], label=r, color='tab:red' if r == 'South' else 'grey',"
    " linewidth=3 if r == 'South' else 1)\nax.legend()\n" + TAIL
)
SAME_COLOUR = (
    HEAD + "for r, g in df.groupby('region'):\n"
    "    ax.plot(g['month'], g['revenue'], label=r, color='C0')\nax.legend()\n" + TAIL
)
LEGEND_OF_ONE = (
    HEAD + "for r, g in df.groupby('region'):\n    ax.plot(g['month'], g['revenue'])\n"
    "ax.legend(['revenue'])\n" + TAIL
)


def test_one_line_through_all_groups_is_found_in_a_real_worker(sales):
    png, joined = render_script(ONE_LINE, sales)
    assert png is not None and not joined.passed
    assert any("x jumps back to the start 3 time(s)" in p for p in joined.problems), joined.problems
    by_month = facts_of(
        ONE_LINE.replace("df['month'], df['revenue']", "s.month, s.revenue").replace(
            "ax.plot", "s = df.sort_values('month')\nax.plot", 1
        ),
        sales,
    )
    assert any("up and down at the same x 36 time(s)" in p for p in by_month.problems), (
        by_month.problems
    )
    png, per_region = render_script(PER_REGION, sales)
    assert png is not None and per_region.passed, per_region.problems
    assert per_region.axes[0]["legend_entries"] == ["East", "North", "South", "West"]


def test_series_in_the_same_colour_and_style_are_found_unless_one_is_highlighted(sales):
    same = facts_of(SAME_COLOUR, sales)
    assert "the plot draws 4 series in the same colour and style" in "; ".join(same.problems)
    highlighted = facts_of(HIGHLIGHTED, sales)
    assert highlighted.problems == []  # grey context lines around one emphasised line


def test_a_legend_that_names_fewer_series_than_drawn_is_found(sales):
    facts = facts_of(LEGEND_OF_ONE, sales)
    assert any("legend that names 1 of the 4 series" in p for p in facts.problems), facts.problems
    repeated = facts_of(
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3], label='a')\nax.plot([3, 2, 1], label='a')\n"
        "ax.plot([2, 2, 2], label='b')\nax.legend(); ax.set_title('t')\n"
        "ax.set_xlabel('x'); ax.set_ylabel('y')\n"
    )
    assert any("repeats 'a'" in p for p in repeated.problems), repeated.problems


def test_a_colour_bar_or_error_bars_ask_for_no_bar_chart():
    """MatPlotBench 78 ("a 3D scatter plot ... Include a color bar") expected a bar chart."""

    def charts(request: str) -> list[str]:
        found = _checks.from_request(request, _checks.Schema()).items
        return [e.arg for e in found if e.kind == "chart"]

    assert charts("Create a 3D scatter plot. Include a color bar for the size.") == ["scatter"]
    assert charts("A sine curve with error bars; a colour bar is not needed") == []
    assert charts("total revenue per region as bars, with error bars") == ["bar"]


def test_the_model_cannot_add_a_second_subplot_count():
    """MatPlotBench 1 ("arranged in two rows and three columns") expected 6 and 2 subplots."""
    request = "Six boxplots. The plots should be arranged in two rows and three columns."
    wanted = _checks.from_request(request, _checks.Schema())
    _checks.parse_expectations("subplots 2\nsubplots 6", request, _checks.Schema(), wanted)
    assert [(e.kind, e.arg) for e in wanted.items] == [("subplots", "6")]


def test_a_missing_highlight_and_groups_are_unmet_expectations(sales):
    schema = _checks.Schema.of(sales)
    request = "monthly revenue by region, highlight the region that grew fastest"
    wanted = _checks.from_request(request, schema).items
    assert [e.kind for e in wanted] == ["groups", "emphasis"] and wanted[0].arg == "region"

    joined = _checks.unmet(wanted, facts_of(ONE_LINE, sales), schema)
    assert any("names 0 of its 4 values (North, South, East, West)" in u for u in joined), joined
    assert any("stands out" in u for u in joined)
    plain = _checks.unmet(wanted, facts_of(PER_REGION, sales), schema)
    assert len(plain) == 1 and "stands out" in plain[0]
    assert _checks.unmet(wanted, facts_of(HIGHLIGHTED, sales), schema) == []
    annotated = PER_REGION + "ax.annotate('South grew fastest', (11, 170))\n"
    assert _checks.unmet(wanted, facts_of(annotated, sales), schema) == []


@pytest.mark.parametrize(
    "script",
    [
        # a parametric circle goes back along x, one small step at a time
        "t = np.linspace(0, 2 * np.pi, 200)\nfig, ax = plt.subplots()\n"
        "ax.plot(np.cos(t), np.sin(t)); ax.set_title('circle')\n"
        "ax.set_xlabel('x'); ax.set_ylabel('y')\n",
        # a radar chart closes its outline by jumping back to the first angle
        "a = np.linspace(0, 2 * np.pi, 6)\nfig = plt.figure()\n"
        "ax = fig.add_subplot(polar=True)\nax.plot(np.r_[a, a[:1]], [3, 4, 2, 5, 4, 3, 3])\n"
        "ax.set_title('radar')\n",
        # grey reference lines and error-bar caps are not series a reader must tell apart
        "x = np.linspace(0, 2 * np.pi, 50)\nfig, ax = plt.subplots()\n"
        "ax.plot(x, np.sin(x), label='sin')\nax.plot(x, np.cos(x), label='cos')\n"
        "ax.axhline(0, color='grey'); ax.axvline(np.pi, color='grey')\n"
        "ax.errorbar([1, 2, 3], [0.5, 0.2, 0.1], yerr=0.1, fmt='o', label='obs')\n"
        "ax.legend(); ax.set_title('waves'); ax.set_xlabel('x'); ax.set_ylabel('y')\n",
        # histograms of three groups, each its own colour
        "rng = np.random.default_rng(0)\nfig, ax = plt.subplots()\n"
        "for m in (0, 2, 4):\n    ax.hist(rng.normal(m, 1, 200), alpha=0.5, label=f'mean {m}')\n"
        "ax.legend(); ax.set_title('groups'); ax.set_xlabel('value'); ax.set_ylabel('count')\n",
        # a wide range on a log axis
        "fig, ax = plt.subplots()\nax.bar(list('abcde'), [2e3, 5e4, 3e5, 8e6, 3e7])\n"
        "ax.set_yscale('log'); ax.set_title('towns'); ax.set_xlabel('town')\n"
        "ax.set_ylabel('people')\n",
        # stacked and side-by-side bars of two series
        "fig, ax = plt.subplots()\nax.bar([0, 1, 2], [3, 4, 5], label='a')\n"
        "ax.bar([0, 1, 2], [1, 2, 1], bottom=[3, 4, 5], label='b')\n"
        "ax.bar([4.0, 5.0], [2, 3], width=0.4, label='c')\n"
        "ax.bar([4.4, 5.4], [3, 1], width=0.4, label='d')\n"
        "ax.legend(); ax.set_title('bars'); ax.set_xlabel('x'); ax.set_ylabel('y')\n",
    ],
    ids=["circle", "radar", "reference-lines", "histograms", "log-axis", "stacked-dodged-bars"],
)
def test_plots_a_reader_accepts_pass(script):
    facts = facts_of(script)
    assert facts.problems == [], facts.problems


def test_bars_of_several_series_drawn_over_each_other_are_found(sales):
    # what the embedded model drew for the demo request: the regions behind are hidden
    over = facts_of(
        "fig, ax = plt.subplots(figsize=(10, 5))\nfor r, g in df.groupby('region'):\n"
        "    ax.bar(g['month'], g['revenue'], label=r)\nax.legend(); ax.set_title('t')\n"
        "ax.set_xlabel('month'); ax.set_ylabel('revenue'); ax.tick_params('x', rotation=45)\n"
        "fig.tight_layout()\n",
        sales,
    )
    assert over.problems == [
        "the plot draws 4 bar series over each other at the same places: the ones behind are "
        "hidden; stack them (bottom=...) or put them side by side"
    ]


def test_log_worthy_range_cut_text_and_clipped_data_are_found():
    linear = facts_of(
        "fig, ax = plt.subplots()\nax.bar(list('abcde'), [2e3, 5e4, 3e5, 8e6, 3e7])\n"
        "ax.set_title('towns'); ax.set_xlabel('town'); ax.set_ylabel('people')\n"
    )
    assert any("use a log scale" in p for p in linear.problems), linear.problems
    cut = facts_of(
        "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot([1, 2, 3])\n"
        "ax.set_title('a title far too long to fit in a figure only three inches wide')\n"
        "ax.set_xlabel('x'); ax.set_ylabel('y')\n"
    )
    assert any("past the figure's edge" in p for p in cut.problems), cut.problems
    clipped = facts_of(
        "fig, ax = plt.subplots()\nax.scatter(np.arange(40), np.arange(40))\nax.set_xlim(0, 10)\n"
        "ax.set_title('t'); ax.set_xlabel('x'); ax.set_ylabel('y')\n"
    )
    assert any("outside the axis limits" in p for p in clipped.problems), clipped.problems


def test_the_models_expectations_are_kept_only_when_the_request_or_data_backs_them(sales):
    schema = _checks.Schema.of(sales)
    assert schema.column("regions").values == ("North", "South", "East", "West")
    assert schema.column("month").kind == "time"  # '2024-01' strings read as time
    request = "monthly revenue by region as lines, highlight the fastest"
    found = _checks.Expectations()
    reply = (
        "1. series per region\n- highlight one\n* x sorted\ntitle mentions revenue\n"
        "chart line\nchart pie\nseries per month\nseries per colour\nlog y\nsubplots 4\nmake it nice"
    )
    _checks.parse_expectations(reply, request, schema, found)
    kinds = {(e.kind, e.arg) for e in found.items}
    assert kinds == {
        ("groups", "region"),
        ("emphasis", ""),
        ("x_sorted", ""),
        ("title", "revenue"),
        ("chart", "line"),
    }
    dropped = " ".join(found.dropped)
    for why in ("no such chart", "not a grouping column", "no such column", "not asked"):
        assert why in dropped
    assert "no subplots asked" in dropped and "not one of the forms" in dropped

    grid = _checks.from_request(
        "The plots should be arranged in two rows and three columns. The title of the plot "
        "should be 'Different standard deviations'. Draw a histogram.",
        _checks.Schema(),
    )
    assert {(e.kind, e.arg) for e in grid.items} == {
        ("subplots", "6"),
        ("title", "Different standard deviations"),
        ("chart", "hist"),
    }


class Repairs(ScriptedBackend):
    """The aggregate lacks a legend; the first repair breaks, the second fixes it."""

    def __init__(self, repairs):
        super().__init__(paths=(NO_LEGEND, BROKEN_REPAIR, BROKEN_REPAIR))  # none beats it
        self.repairs = list(repairs)

    def reply(self, prompt):
        if "The current script" in prompt:
            return self.repairs.pop(0)
        if "attempts were made" in prompt:
            return NO_LEGEND
        return super().reply(prompt)


NO_LEGEND = GOOD_LINES.replace("ax.legend()\n", "")
BROKEN_REPAIR = "```python\nimport matplotlib.pyplot as plt\nplt.plot(df['nope'])\n```"


def test_repair_keeps_the_best_attempt_and_repairs_from_it(sales):
    backend = Repairs([BROKEN_REPAIR, BROKEN_REPAIR])
    result = visualize("monthly revenue by region", data=sales, backend=backend, refine_rounds=2)
    assert [r.id for r in result.rounds] == ["final-r1", "final-r2"]
    assert not any(r.facts.executed for r in result.rounds)
    assert result.final.id == "final" and result.final.facts.executed  # never a worse one
    assert any("kept final" in n for n in result.notes)
    repairs = [p for p in backend.prompts if "The current script" in p]
    assert len(repairs) == 2 and all("has no legend" in p for p in repairs)  # from the best

    fixed = visualize(
        "monthly revenue by region",
        data=sales,
        backend=Repairs([BROKEN_REPAIR, GOOD_LINES]),
        refine_rounds=3,
    )
    assert fixed.final.id == "final-r2" and fixed.final.passed and len(fixed.rounds) == 2


def test_a_path_that_scores_better_than_the_aggregate_is_the_final_and_stays_it(sales):
    # a small model's aggregation breaks the script that ran: the final is the path's
    backend = ScriptedBackend(final=BROKEN_REPAIR, refined=BROKEN_REPAIR)
    result = visualize("monthly revenue by region", data=sales, backend=backend, refine_rounds=1)
    assert result.aggregated is not None and not result.aggregated.facts.executed
    assert result.final.id == "final-path-0" and result.final.facts.executed
    assert result.final.code == result.paths[0].code
    assert any("path-0's script" in n for n in result.notes)
    assert load_visualize_result(result.run_id).final.id == "final-path-0"


OWN_DATA = """```python
import numpy as np
import matplotlib.pyplot as plt
df = np.random.default_rng(0).normal(size=(100, 2))
fig, ax = plt.subplots()
ax.scatter(df[:, 0], df[:, 1])
ax.set_title('Random points'); ax.set_xlabel('x'); ax.set_ylabel('y')
```"""


@pytest.mark.parametrize(
    ("script", "hint"),
    [
        (
            "import matplotlib.pyplot as plt\nfig, axes = plt.subplots(1, 2)\naxes.plot([1, 2])\n",
            "plt.subplots(rows, cols) with several subplots returns an array of Axes",
        ),
        (
            "import matplotlib.pyplot as plt\nfig = plt.figure(projection='3d')\n",
            "projection belongs to the subplot",
        ),
        (
            "import matplotlib.pyplot as plt\nplt.pie([1, 2], counterclockwise=True)\n",
            "that call takes no argument counterclockwise",
        ),
        ("import matplotlib.pyplot as plt\nplt.plot(x, x)\n", "define x before it is used"),
        (
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
            "ax.xaxis.tick_params(rotation=45)\n",
            "ax.xaxis has no method tick_params: call it on the Axes",
        ),
        (
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
            "ax.colorbar(ax.imshow([[1, 2]]))\n",
            "Axes has no method colorbar: it may belong to the figure or pyplot",
        ),
    ],
)
def test_a_failing_script_gets_the_hint_that_usually_fixes_it(script, hint):
    """MatPlotBench with the 0.5B model: three of its first six failures were methods called
    on the array plt.subplots returns; the repair got the error alone and repeated it."""
    _, facts = render_script(script, None)
    assert facts.error is not None and not facts.executed
    assert f"Hint: {hint}" in facts.feedback()
    assert _checks.error_hints("ValueError: alpha (15.9) is outside 0-1 range") == []


def test_a_request_without_data_makes_its_own():
    backend = ScriptedBackend(paths=[OWN_DATA], final=OWN_DATA)
    result = visualize("100 random points, reproducible", backend=backend, paths=1)
    assert result.paths[0].facts.passed and "default_rng(0)" in result.paths[0].code
    prompt = next(p for p in backend.prompts if "Interpretation to draw" in p)
    assert "No data is given" in prompt and "make the data in the script" in prompt
    assert "already holds the data" not in prompt
    assert "groupby" not in prompt  # an example over a `df` that this script does not have


def test_a_data_file_is_read_described_and_read_again_on_accept(sales, tmp_path, monkeypatch):
    sales.to_csv(tmp_path / "sales.csv", index=False)
    (tmp_path / "sales.json").write_text(sales.to_json(orient="records"))
    (tmp_path / "doc.json").write_text(json.dumps({"x": [1, 2, 3], "meta": {"unit": "m"}}))
    assert load_data(tmp_path / "sales.json").shape == (48, 3)
    assert load_data(tmp_path / "doc.json")["meta"] == {"unit": "m"}
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    with pytest.raises(UsageError, match="t.parquet"):
        load_data(tmp_path / "t.parquet")
    with pytest.raises(UsageError, match="no data file"):
        load_data(tmp_path / "nope.csv")

    offered: list[str] = []
    monkeypatch.setattr("workbench.store._runs.offer_next_cell", offered.append)
    backend = ScriptedBackend()
    namespace: dict = {}
    result = visualize(
        "monthly revenue by region",
        data=str(tmp_path / "sales.csv"),
        backend=backend,
        namespace=namespace,
    )
    assert result.paths[0].facts.passed, result.paths[0].facts.summary()
    assert "48 rows" in backend.prompts[0] and "region: " in backend.prompts[0]
    code = result.accept()
    assert code.startswith(
        f"import pandas as pd\ndf = pd.read_csv({str(tmp_path / 'sales.csv')!r})"
    )
    assert namespace["df"].shape == (48, 3) and "fig" in namespace


def test_magic_takes_a_file_or_no_data(shell, tmp_path, sales):
    from IPython.core.error import UsageError as IPythonUsageError

    path = tmp_path / "sales.csv"
    sales.to_csv(path, index=False)
    shell.user_ns.pop("df", None)
    with pytest.raises(IPythonUsageError, match="no variable 'nope' in the notebook and no such"):
        shell.run_cell_magic("visualize", "--data nope", "revenue by month")
    # the data is accepted; the call stops only where the model is needed (switched off in tests)
    for line in (f"--data {path}", ""):
        with pytest.raises(IPythonUsageError, match="switched off"):
            shell.run_cell_magic("visualize", line, "a sine wave from 0 to 2 pi")


def _suite():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    return importlib.import_module("visualize_suite")


def test_matplotbench_cases_are_read_from_a_local_copy_with_data_and_ground_truth(tmp_path):
    suite = _suite()
    root = tmp_path / "benchmark_data"
    (root / "data" / "2").mkdir(parents=True)
    (root / "data" / "2" / "data.csv").write_text("a,b\n1,2\n")
    (root / "ground_truth").mkdir()
    png, _ = render_script(
        "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('truth')", None
    )
    (root / "ground_truth" / "example_2.png").write_bytes(png)
    items = [
        {"id": 1, "simple_instruction": " a sine wave from 0 to 2 pi ", "expert_instruction": ""},
        {"id": 2, "simple_instruction": "plot data.csv", "expert_instruction": ""},
    ]
    (root / "benchmark_instructions.json").write_text(json.dumps(items))
    cases = suite.matplotbench_cases(str(root), tmp_path / "cache", None)
    assert [(c.id, c.instruction, c.data is None) for c in cases] == [
        ("matplotbench-1", "a sine wave from 0 to 2 pi", True),
        ("matplotbench-2", "plot data.csv", False),
    ]
    assert cases[1].data.endswith("data.csv") and cases[1].ground_truth.name == "example_2.png"
    assert suite.matplotbench_cases(str(root), tmp_path, [2])[0].id == "matplotbench-2"

    assert suite.similarity(png, cases[1].ground_truth) == pytest.approx(1.0)
    other, _ = render_script(
        "import matplotlib.pyplot as plt\nplt.bar(range(9), range(9))\nplt.title('other')", None
    )
    assert suite.similarity(other, cases[1].ground_truth) < 0.9
    assert suite.similarity(None, cases[1].ground_truth) is None


def test_the_benchmark_replays_its_recording_with_the_recorded_verdicts(tmp_path, capsys):
    """CI's run of benchmarks/visualize_suite.py: the embedded model's recorded answers for
    the first case, replayed; the verdicts are the ones measured when it was recorded."""
    from pathlib import Path

    suite = _suite()
    recorded = json.loads(
        (Path(suite.HERE) / "recordings/visualize_suite_results.json").read_text()
    )
    first = recorded["rows"][0]
    out = tmp_path / "replayed.json"
    args = [*recorded["args"], "--ids", first["id"].rsplit("-", 1)[1], "--out", str(out)]
    assert suite.main(["--replay", str(suite.RECORDING), *args]) == 0
    (row,) = json.loads(out.read_text())
    for key in ("paths_ran", "paths_passed", "final_ran", "final_passed", "final_problems"):
        assert row[key] == first[key], key
    assert "| aggregated + repaired |" in capsys.readouterr().out
