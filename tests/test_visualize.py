"""``visualize``: paths rendered to PNGs in workers, figure checks, feedback, aggregation."""

from __future__ import annotations

import base64
import html
import json
import re

import numpy as np
import pytest

from workbench._errors import UsageError
from workbench.llm import Backend, Completion, OpenAIBackend, ReplayBackend
from workbench.llm._types import image_bytes
from workbench.store._sessions import SessionStore
from workbench.visualizer._engine import (
    PNG_SIGNATURE,
    describe_data,
    extract_script,
    parse_interpretations,
    render_script,
    visualize,
)

pd = pytest.importorskip("pandas")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

GOOD_LINES = """```python
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(8, 4))
for region, group in df.groupby("region"):
    ax.plot(group["month"], group["revenue"], label=region)
ax.set_title("Monthly revenue by region")
ax.set_xlabel("month")
ax.set_ylabel("revenue")
ax.tick_params(axis="x", labelrotation=90)
ax.legend()
fig.tight_layout()
plt.show()
```"""

GOOD_BARS = """Here you go:
```python
totals = df.groupby("region")["revenue"].sum()
fig, ax = plt.subplots()
ax.bar(totals.index, totals.values)
ax.set_title("Total revenue by region")
ax.set_xlabel("region")
ax.set_ylabel("revenue")
```"""

BROKEN = """```python
import matplotlib.pyplot as plt
plt.plot(df["profit"])
```"""

UNLABELLED = """```python
import matplotlib.pyplot as plt
plt.plot(df["revenue"])
```"""


class ScriptedBackend(Backend):
    """Answers by the kind of prompt; remembers every prompt it was given.

    With ``vision=True`` it sees images: a request with one is a critique, answered with
    ``CRITIQUE`` and the image kept in ``seen``.
    """

    kind = "scripted"
    CRITIQUE = "- the legend covers the lines"

    def __init__(
        self,
        paths=(GOOD_LINES, GOOD_BARS, BROKEN),
        final=GOOD_LINES,
        refined=None,
        vision=False,
    ):
        super().__init__()
        self.path_replies = list(paths)
        self.final = final
        self.refined = refined or GOOD_BARS
        self.prompts: list[str] = []
        self.supports_images = vision
        self.seen: list[bytes] = []

    @property
    def model(self) -> str:
        return "scripted"

    def _complete(self, request, *, on_token, cancel):
        content = request.messages[-1]["content"]
        if not isinstance(content, str):
            self.seen += [image_bytes(p) for p in content if p["type"] == "image_url"]
            return [Completion(text=self.CRITIQUE) for _ in range(request.n)]
        self.prompts.append(content)
        return [Completion(text=self.reply(content)) for _ in range(request.n)]

    EXPECTATIONS = "series per region\nhighlight one\nchart pie\ntitle mentions revenue"

    def reply(self, prompt: str) -> str:
        if "the finished figure must show" in prompt:
            text = self.EXPECTATIONS
        elif "DISTINCT interpretations" in prompt:
            text = (
                "1. trend lines: one line per region over the months\n"
                "2. **totals**: bars of total revenue per region\n"
                "3. profit view: plot the profit column"
            )
        elif "Interpretation to draw:" in prompt:
            names = ("trend lines", "totals", "profit view")
            index = next((i for i, name in enumerate(names) if name in prompt), 0)
            text = self.path_replies[index]
        elif "attempts were made" in prompt:
            text = self.final
        else:
            text = self.refined
        return text


@pytest.fixture
def df():
    months = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m").tolist()
    return pd.DataFrame(
        {
            "month": months * 2,
            "region": ["North"] * 12 + ["South"] * 12,
            "revenue": np.r_[np.linspace(10, 20, 12), np.linspace(5, 30, 12)],
        }
    )


def test_three_paths_render_to_pngs_and_the_run_is_recorded(df):
    backend = ScriptedBackend()
    result = visualize("monthly revenue by region", data=df, backend=backend, paths=3)

    assert [p.interpretation.split(":")[0] for p in result.paths] == [
        "trend lines",
        "totals",
        "profit view",
    ]
    for path in result.paths[:2]:
        assert path.png.startswith(PNG_SIGNATURE) and len(path.png) > 5000
        assert path.facts.passed, path.facts.problems
        assert "plt.show" not in path.code
    assert result.paths[0].facts.series == 2 and result.paths[1].facts.series == 1

    run = SessionStore(result.store_path).run(result.run_id)
    assert run["kind"] == "visualize" and run["source"] == "monthly revenue by region"
    stored = {c["id"]: c for c in run["candidates"]}
    assert set(stored) == {"path-0", "path-1", "path-2", "final"}
    assert stored["path-0"]["interpretation"].startswith("trend lines")
    assert stored["path-0"]["png_base64"] and stored["path-2"]["png_base64"] is None
    events = SessionStore(result.store_path).events(result.run_id)
    kinds = [e["kind"] for e in events]
    assert kinds.count("llm_exchange") == 6  # reformulation, expectations, 3 paths, aggregation
    assert "interpretations" in kinds


def test_a_broken_script_is_feedback_for_the_aggregation_not_a_crash(df):
    backend = ScriptedBackend()
    result = visualize("monthly revenue by region", data=df, backend=backend)

    broken = result.paths[2]
    assert broken.png is None and not broken.facts.executed
    assert "KeyError" in broken.facts.error and "line 2" in broken.facts.error
    aggregate_prompt = next(p for p in backend.prompts if "attempts were made" in p)
    assert "KeyError: 'profit'" in aggregate_prompt
    assert "all figure checks pass" in aggregate_prompt  # the good paths' facts go along


def test_the_data_is_described_by_schema_and_a_few_rows_never_whole():
    big = pd.DataFrame({"x": np.arange(1000), "label": [f"row{i}" for i in range(1000)]})
    text = describe_data(big, "big")
    assert "1000 rows" in text and "x: int64" in text and "row4" in text
    assert "row5" not in text and "row999" not in text

    arrays = describe_data({"t": np.arange(500.0), "y": np.ones(500)}, "d")
    assert "'t'" in arrays and "shape (500,)" in arrays and "499" not in arrays


def test_figure_checks_catch_what_a_reader_would_notice(df):
    _, unlabelled = render_script(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.plot([3, 2, 1])", df
    )
    assert "the figure has no title" in unlabelled.problems
    assert "the plot has no x-axis label" in unlabelled.problems
    assert "the plot draws 2 series but has no legend" in unlabelled.problems

    crowded = (
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(4, 3))\n"
        "ax.bar([f'category number {i}' for i in range(12)], range(12))\n"
        "ax.set_title('t'); ax.set_xlabel('x'); ax.set_ylabel('y')\n"
    )
    _, overlapping = render_script(crowded, df)
    assert overlapping.axes[0]["overlapping_xticks"] > 5
    assert any("overlapping x tick" in p for p in overlapping.problems)
    _, rotated = render_script(crowded + _ROTATE, df)
    assert rotated.axes[0]["overlapping_xticks"] == 0 and rotated.passed

    _, empty = render_script(
        "import matplotlib.pyplot as plt\nfig, axes = plt.subplots(1, 2)\n"
        "axes[0].plot([1, 2], label='a')\nfig.suptitle('two')\n"
        "axes[0].set_xlabel('x'); axes[0].set_ylabel('y')",
        df,
    )
    assert "subplot 2 is empty: nothing was drawn on it" in empty.problems
    assert not any(p.startswith("subplot 1") for p in empty.problems)

    png, clean = render_script(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
        "ax.scatter(df.index, df.revenue, label='revenue')\nax.bar([0, 1], [3, 4], label='b')\n"
        "ax.set_title('t'); ax.set_xlabel('x'); ax.set_ylabel('y'); ax.legend()",
        df,
    )
    assert clean.passed and clean.series == 2 and png.startswith(PNG_SIGNATURE)


_ROTATE = "ax.tick_params(axis='x', labelrotation=90)\nfig.tight_layout()\n"


def test_errors_warnings_and_limits_come_back_as_facts(df):
    png, warned = render_script(
        "import warnings\nimport matplotlib.pyplot as plt\n"
        "warnings.warn('careful')\nplt.plot([1, 2])",
        df,
    )
    assert png is not None and any("careful" in w for w in warned.warnings)
    png, nothing = render_script("x = 1", df)
    assert png is None and nothing.problems == ["the script drew no figure"]
    png, hung = render_script("import time\ntime.sleep(60)", df, timeout=5)
    assert png is None and "stopped" in hung.error and "wall-clock" in hung.error


def test_aggregation_is_refined_while_its_checks_fail(df):
    # no path is better than the aggregate (a better one would be the final, unrepaired)
    backend = ScriptedBackend(
        paths=(UNLABELLED, UNLABELLED, BROKEN), final=UNLABELLED, refined=GOOD_BARS
    )
    result = visualize("revenue", data=df, backend=backend, refine_rounds=2)

    assert result.rounds and result.rounds[0].id == "final-r1"
    assert result.final is result.rounds[-1] and result.final.passed
    assert len(result.rounds) == 1  # it passed after one round: no second one
    refine_prompt = next(p for p in backend.prompts if "The current script" in p)
    assert "has no x-axis label" in refine_prompt

    html = result._repr_html_()
    assert html.count("data:image/png;base64,") == 3  # two paths and the final
    assert "trend lines" in html and "<details>" in html and "Aggregated plot" in html
    assert "KeyError" in html


def test_accept_offers_the_code_and_runs_it_in_the_namespace(df, monkeypatch):
    offered: list[str] = []
    monkeypatch.setattr("workbench.store._runs.offer_next_cell", offered.append)
    namespace = {"df": df}
    result = visualize("revenue", backend=ScriptedBackend(), namespace=namespace)

    code = result.accept()
    assert code == result.final.code
    assert offered and offered[0].endswith(code) and offered[0].startswith("# accepted")
    assert "fig" in namespace and namespace["fig"].axes[0].get_title() == (
        "Monthly revenue by region"
    )
    assert SessionStore(result.store_path).run(result.run_id)["accepted"] == "final"

    assert result.accept(1) == result.paths[1].code
    with pytest.raises(UsageError, match="path number"):
        result.accept(7)


def test_refine_sends_the_users_words_and_keeps_the_paths(df):
    backend = ScriptedBackend()
    result = visualize("revenue", data=df, backend=backend, paths=2)
    refined = result.refine("log scale, larger font", path=0)

    assert refined.paths == result.paths and refined.final.hint == "log scale, larger font"
    assert "The user asks: log scale, larger font" in backend.prompts[-1]
    assert refined.final.png.startswith(PNG_SIGNATURE)
    with pytest.raises(UsageError, match="say what to change"):
        result.refine("  ")


def test_vision_critique_is_asked_only_of_backends_that_see_images(df):
    blind_backend = ScriptedBackend()
    blind = visualize("revenue", data=df, backend=blind_backend, paths=1, aggregate=False)
    assert blind.paths[0].critique is None and blind.paths[0].critique_error is None

    seeing = ScriptedBackend(vision=True)
    result = visualize("revenue", data=df, backend=seeing, paths=2, aggregate=False)
    assert sorted(seeing.seen) == sorted(p.png for p in result.paths)  # each path's own, once
    assert all(p.startswith(PNG_SIGNATURE) for p in seeing.seen)
    assert result.paths[0].critique == ScriptedBackend.CRITIQUE
    assert "the legend covers the lines" in result.paths[0].feedback_text()


def vision_server(backend: ScriptedBackend):
    from test_llm_vision import VisionServer

    return VisionServer(responder=backend.reply)


def test_a_vision_model_critiques_each_plot_and_the_repair_reads_it(df):
    # the aggregate fails its checks, and no path does better: a repair
    scripted = ScriptedBackend(paths=(UNLABELLED, UNLABELLED, BROKEN), final=UNLABELLED)
    server = vision_server(scripted)
    try:
        llm = OpenAIBackend("vlm", base_url=server.url, api_key_env=None, vision=True)
        result = visualize("monthly revenue by region", data=df, backend=llm, refine_rounds=1)
    finally:
        server.close()

    store = SessionStore(result.store_path)
    run = store.run(result.run_id)
    assert run["options"]["vision"] is True
    stored = {c["id"]: c for c in run["candidates"]}
    assert set(stored) == {"path-0", "path-1", "path-2", "final", "final-r1"}
    drawn = {k: base64.b64decode(c["png_base64"]) for k, c in stored.items() if c["png_base64"]}
    assert set(drawn) == {"path-0", "path-1", "final", "final-r1"}  # path-2's script broke
    # the server saw each drawn image once and checked it is a well-formed PNG
    assert sorted(server.images) == sorted(drawn.values())
    for key, png in drawn.items():
        critique = stored[key]["critique"]
        assert critique.startswith("- the legend covers the lines")
        assert f"{len(png)} bytes" in critique  # its own image was judged
    assert stored["path-2"]["critique"] is None and result.paths[2].critique is None
    assert result.paths[0].critique == stored["path-0"]["critique"]
    assert result.final.id == "final-r1" and result.final.critique == stored["final-r1"]["critique"]

    # the critique of the failing aggregate is in the repair prompt the server was sent
    repair = server.text_requests[-1]["messages"][-1]["content"]
    assert "The current script:" in repair and "has no x-axis label" in repair
    assert f"A reviewer looking at the image says: {stored['final']['critique']}" in repair
    # and the aggregate prompt carried the paths' critiques
    aggregate = server.text_requests[-2]["messages"][-1]["content"]
    assert "attempts were made" in aggregate and stored["path-1"]["critique"] in aggregate
    assert html.escape(result.final.critique) in result._repr_html_()

    exchanges = [e["data"] for e in store.events(result.run_id) if e["kind"] == "llm_exchange"]
    critiques = [
        x for x in exchanges if not isinstance(x["request"]["messages"][-1]["content"], str)
    ]
    assert len(critiques) == 4
    assert all(len(json.dumps(x)) < 3000 for x in critiques)  # the PNG is not stored again


@pytest.mark.parametrize(
    ("mode", "why"),
    [("refuse_images", "refused .* not supported"), ("slow_images", "did not answer within")],
)
def test_a_failing_critique_keeps_the_plot_and_says_why(df, mode, why):
    server = vision_server(ScriptedBackend())
    server.mode = mode
    try:
        llm = OpenAIBackend(
            "vlm", base_url=server.url, api_key_env=None, vision=True, max_retries=0, timeout=1
        )
        result = visualize("revenue by region", data=df, backend=llm, paths=1, aggregate=False)
    finally:
        server.close()

    path = result.paths[0]
    assert path.png.startswith(PNG_SIGNATURE) and path.facts.passed and path.critique is None
    assert re.search("critique failed: .*" + why, path.critique_error), path.critique_error
    assert "no critique:" in result._repr_html_()
    (stored,) = SessionStore(result.store_path).run(result.run_id)["candidates"]
    assert stored["png_base64"] and stored["critique_error"] == path.critique_error


def test_a_model_without_vision_is_sent_no_image(df):
    server = vision_server(ScriptedBackend())
    try:
        llm = OpenAIBackend("tiny", base_url=server.url, api_key_env=None)
        result = visualize("revenue by region", data=df, backend=llm, paths=1, aggregate=False)
    finally:
        server.close()
    assert result.paths[0].png and server.images == []
    assert server.requests and server.requests == server.text_requests


def test_a_recorded_vision_run_replays_with_its_critiques(df, tmp_path):
    from workbench.llm import RecordingBackend

    recorder = RecordingBackend(ScriptedBackend(vision=True))
    first = visualize("revenue", data=df, backend=recorder, paths=1, aggregate=False, seed=1)
    replay = ReplayBackend(recorder.save(tmp_path / "run.json"))
    again = visualize("revenue", data=df, backend=replay, paths=1, aggregate=False, seed=1)
    assert [p.critique for p in again.paths] == [p.critique for p in first.paths]
    assert again.paths[0].critique == ScriptedBackend.CRITIQUE
    assert all(p.critique_error is None for p in again.paths)


def test_extract_script_keeps_module_level_code_and_protects_the_data():
    reply = (
        "Sure!\n```python\ndf = pd.read_csv('sales.csv')\nfig, ax = plt.subplots()\n"
        "ax.plot(np.arange(3))\nplt.show()\n```"
    )
    code, notes = extract_script(reply, "df")
    assert "read_csv" not in code and "plt.show" not in code and "ax.plot" in code
    assert code.startswith("import matplotlib.pyplot as plt\nimport numpy as np")
    assert any("overwrote df" in n for n in notes)
    assert extract_script("no code here, sorry", "df")[0] is None


def test_interpretations_are_padded_with_distinct_defaults():
    found = parse_interpretations("1. A bar chart of totals per region\nrambling\n", 3)
    assert found[0] == "A bar chart of totals per region" and len(set(found)) == 3


def test_bad_input_says_what_to_do(df):
    with pytest.raises(UsageError, match="say what to plot"):
        visualize("  ", data=df, backend=ScriptedBackend())
    with pytest.raises(UsageError, match="no data file"):
        visualize("revenue", data="missing/sales.csv", backend=ScriptedBackend())
    with pytest.raises(UsageError, match="cannot be pickled"):
        render_script("x = 1", {"f": lambda: None})


@pytest.mark.llm
@pytest.mark.slow  # minutes of generation on 2 cores: CI's slow step
def test_the_embedded_model_draws_a_dataframe(df):
    from workbench.llm import default_local_model

    result = visualize(
        "revenue per month for each region",
        data=df,
        backend=default_local_model(),
        paths=2,
        refine_rounds=0,
        max_tokens=300,
        temperature=0.2,
        seed=1,
    )
    attempts = [*result.paths, result.final]
    assert len(result.paths) == 2 and result.final is not None
    assert any(a.png is not None and a.png.startswith(PNG_SIGNATURE) for a in attempts), [
        a.facts.summary() for a in attempts
    ]
    assert all(re.search(r"\S", a.interpretation) for a in result.paths)


def test_magic_usage_errors_are_one_line(shell):
    from IPython.core.error import UsageError as IPythonUsageError

    with pytest.raises(IPythonUsageError, match="no variable 'sales'"):
        shell.run_cell_magic("visualize", "--data sales", "revenue by month")
    shell.user_ns["sales"] = {"month": [1, 2], "revenue": [3.0, 4.0]}
    with pytest.raises(IPythonUsageError, match="cell is empty"):
        shell.run_cell_magic("visualize", "--data sales", "   ")
    with pytest.raises(IPythonUsageError, match="switched off"):  # tests run with the LLM off
        shell.run_cell_magic("visualize", "--data sales", "revenue by month")
