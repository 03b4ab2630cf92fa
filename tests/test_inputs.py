"""Inputs from what is in front of the user: an example call, the notebook's history, a seeded
builder; real types (pandas, sparse, torch, records) across the isolation boundary."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench._errors import InputsError, UsageError
from workbench.optimizer._inputs import _from_history, _Resample, _rows
from workbench.optimizer._task import task_from

ROWWISE = """
def total_scores(df):
    def score(row):
        return row["price"] * row["qty"] + (5.0 if row["cat"] == "a" else 0.0)
    return df.apply(score, axis=1)
"""

ROWWISE_FAST = """
import numpy as np
def total_scores(df):
    return df["price"] * df["qty"] + np.where(df["cat"] == "a", 5.0, 0.0)
"""

ROWWISE_ONE_CELL_WRONG = """
import numpy as np
def total_scores(df):
    out = df["price"] * df["qty"] + np.where(df["cat"] == "a", 5.0, 0.0)
    if len(out) > 5:
        out.iloc[5] += 1.0
    return out
"""


def orders(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "price": rng.random(n) * 100,
            "qty": rng.integers(1, 10, n),
            "cat": rng.choice(["a", "b", "c"], n),
        }
    )


def statuses(res) -> dict[str, str]:
    return {c.code.strip(): c.status for c in res.candidates}


def test_dataframe_example_through_the_api():
    df = orders(600)
    res = workbench.optimize(
        ROWWISE,
        example=((df,), {}),
        strategies=[],
        candidates=[ROWWISE_FAST, ROWWISE_ONE_CELL_WRONG],
        namespace={},
    )
    fast, wrong = res.candidates
    assert fast.status == "passed", fast.reason
    assert wrong.status == "failed"
    assert "result[5]" in wrong.reason  # the one wrong cell, by position
    assert res.inputs["source"] == "example"
    assert res.inputs["rows"] == 600 and res.reference.timing.size == 600
    assert res.inputs["shrunk"] >= 4 and res.inputs["generated"] >= 3
    assert res.inputs["timing"] == "bootstrap"
    assert any(label.startswith("generated") for label in res.inputs["labels"])
    assert res.inputs["labels"][-1] == "example (600 rows)"


def test_dataframe_builder_no_longer_crashes_the_run(optimize_via):
    """The issue's crash: a builder returning a DataFrame stopped the run with 'The truth
    value of a DataFrame is ambiguous'."""
    res = optimize_via(
        ROWWISE, inputs=lambda n: (orders(n, n),), strategies=(), candidates=[ROWWISE_FAST]
    )
    assert res.candidates[0].status == "passed", res.candidates[0].reason
    assert res.inputs["source"] == "inputs"


KTH = """
import numpy as np
def top_k_sum(X, k=2, scale=1.0):
    out = np.empty(X.shape[0])
    for i in range(X.shape[0]):
        out[i] = sorted(X[i])[-k:][0] * 0 + sum(sorted(X[i])[-k:]) * scale
    return out
"""

KTH_FAST = """
import numpy as np
def top_k_sum(X, k=2, scale=1.0):
    return np.sort(X, axis=1)[:, -k:].sum(axis=1) * scale
"""


def test_line_magic_takes_an_example_call_with_keywords(shell):
    shell.run_cell(textwrap.dedent(KTH))
    shell.user_ns["X"] = np.random.default_rng(0).random((300, 6))
    shell.user_ns["cands"] = [KTH_FAST]
    res = shell.run_line_magic(
        "optimize", "top_k_sum(X, k=3, scale=0.5) --strategies none --candidates cands"
    )
    assert res.candidates[0].status == "passed", res.candidates[0].reason
    assert res.inputs["source"] == "example"
    assert res.inputs["call"] == "top_k_sum(X, k=3, scale=0.5)"
    assert res.reference.timing.size == 300


def test_cell_magic_example_option(shell):
    shell.user_ns["X"] = np.random.default_rng(1).random((200, 5))
    shell.user_ns["cands"] = [KTH_FAST]
    res = shell.run_cell_magic(
        "optimize",
        '--example "top_k_sum(X, 2)" --strategies none --candidates cands',
        textwrap.dedent(KTH),
    )
    assert res.candidates[0].status == "passed", res.candidates[0].reason
    assert res.inputs["source"] == "example" and res.inputs["rows"] == 200


def test_last_call_in_the_history_is_the_example(shell):
    shell.run_cell("X = np.random.default_rng(2).random((150, 4))", store_history=True)
    shell.run_cell(textwrap.dedent(KTH), store_history=True)
    shell.run_cell("top_k_sum(X[:150], 2)", store_history=True)
    shell.user_ns["cands"] = [KTH_FAST]
    res = shell.run_cell_magic(
        "optimize", "--strategies none --candidates cands", textwrap.dedent(KTH)
    )
    assert res.inputs["source"] == "history"
    assert res.inputs["history"].startswith("In[")
    assert res.inputs["description"].startswith("history (In[")
    assert "top_k_sum(X[:150], 2)" in res.inputs["description"]
    assert res.candidates[0].status == "passed", res.candidates[0].reason


def test_history_skips_calls_that_would_run_code():
    ns = {"In": ["", "X = 1", "f(load(X))", "f(X)  # plain", "f(load(X))", "now"], "X": [1, 2]}
    args, call, where = _from_history("f", None, ns)
    assert args == ([1, 2],) and call == "f(X)" and where == "In[3]"
    recursive = {"In": ["", "def f(x):\n    return f(x - 1) if x else 0", "now"]}
    assert _from_history("f", None, recursive) is None


def test_no_source_says_what_to_pass():
    with pytest.raises(InputsError, match=r"an example call .*--inputs NAME"):
        workbench.optimize(ROWWISE, strategies=[], namespace={})


def test_example_naming_an_undefined_variable_is_one_clear_line(shell):
    shell.run_cell(textwrap.dedent(KTH))
    with pytest.raises(Exception, match="names 'Y', which is not defined"):
        shell.run_line_magic("optimize", "top_k_sum(Y, 2) --strategies none")


def test_seeded_builder(optimize_via):
    def make(n, seed):
        return (np.random.default_rng(seed).random((n, 4)),)

    res = optimize_via(KTH, inputs=make, strategies=(), candidates=[KTH_FAST], sizes=[2, 9, 40])
    assert res.candidates[0].status == "passed", res.candidates[0].reason
    assert res.inputs["source"] == "inputs"


WORDS = """
def word_counts(text, min_len=1):
    counts = {}
    for word in text.lower().split():
        word = word.strip(".,;:!?")
        if len(word) >= min_len:
            counts[word] = counts.get(word, 0) + 1
    return counts
"""

WORDS_FAST = """
from collections import Counter
def word_counts(text, min_len=1):
    words = (w.strip(".,;:!?") for w in text.lower().split())
    return dict(sorted(Counter(w for w in words if len(w) >= min_len).items()))
"""

WORDS_WRONG = """
from collections import Counter
def word_counts(text, min_len=1):
    return dict(Counter(w.strip(".,;:!?") for w in text.split() if len(w) >= min_len))
"""


def test_string_example_dict_results_in_another_order_pass():
    text = " ".join(["The cat sat.", "A dog; the CAT ran!", "Birds fly, cats sit"] * 300)
    res = workbench.optimize(
        WORDS,
        example=((text,), {"min_len": 2}),
        strategies=[],
        candidates=[WORDS_FAST, WORDS_WRONG],
        namespace={},
    )
    fast, wrong = res.candidates
    assert fast.status == "passed", fast.reason  # sorted keys: same dict
    assert wrong.status == "failed"
    assert res.inputs["timing"] == "words"


def test_reference_that_rejects_resampled_rows_times_the_example_and_says_so():
    strict = """
import numpy as np
def gaps(x):
    if np.any(np.diff(x) < 0):
        raise ValueError("x must be sorted")
    return np.diff(x)
"""
    x = np.sort(np.random.default_rng(3).random(500))
    res = workbench.optimize(strict, example=((x,), {}), strategies=[], namespace={})
    assert res.inputs["timing"] == "fixed"
    assert any("timing reuses the example's own values" in n for n in res.notes)
    assert any("left out because the reference raises" in n for n in res.notes)
    assert res.reference.timing is not None


def test_rows_are_shared_and_resampled_together():
    X, y, w = np.arange(20).reshape(10, 2), np.arange(10), np.ones(2)
    rows, which = _rows((X, y, w, 3))
    assert rows == 10 and which == [0, 1]
    X2, y2, w2, k = _Resample((X, y, w, 3), which, rows, "bootstrap")(7)
    assert np.array_equal(X2[:, 0] // 2, y2)  # the same rows of X and y
    assert w2 is not w and k == 3


def test_task_example_positional_binding_defaults():
    from workbench.optimizer._inputs import _bind

    task = task_from(KTH)
    ns: dict = {}
    exec(task.source, ns)
    assert _bind(ns["top_k_sum"], "top_k_sum", (1,), {"scale": 2.0}) == (1, 2, 2.0)
    with pytest.raises(UsageError, match="does not fit"):
        _bind(ns["top_k_sum"], "top_k_sum", (1,), {"nope": 2})


# -- types across the boundary, through the whole run ----------------------------------------

UNKNOWN = """
class Box:
    def __init__(self, v):
        self.v = v
    def __repr__(self):
        return "Box"
def boxed(x):
    return Box(x.sum())
"""


def test_a_result_that_cannot_be_compared_is_unverified_never_passed():
    wrong = UNKNOWN.replace("Box(x.sum())", "Box(-1)")
    res = workbench.optimize(
        UNKNOWN, inputs=lambda n: (np.arange(n),), strategies=[], candidates=[wrong], namespace={}
    )
    assert res.candidates[0].status == "unverified"
    assert "cannot compare" in res.candidates[0].reason
    assert res.best is None
    assert any("unverified" in n for n in res.notes)


SPARSE = """
def row_sums(m):
    out = []
    for i in range(m.shape[0]):
        out.append(m[i].sum())
    return m.multiply(2.0).tocsr(), out
"""

SPARSE_FAST = """
import numpy as np
def row_sums(m):
    return (m * 2.0).tocsr(), [float(v) for v in np.asarray(m.sum(axis=1)).ravel()]
"""


def test_sparse_matrix_argument_and_result():
    sp = pytest.importorskip("scipy.sparse")
    m = sp.random(80, 30, density=0.2, format="csr", random_state=0)
    wrong = SPARSE_FAST.replace("(m * 2.0)", "(m * 2.5)")
    res = workbench.optimize(
        SPARSE,
        example=((m,), {}),
        strategies=[],
        candidates=[SPARSE_FAST, wrong],
        namespace={},
    )
    fast, bad = res.candidates
    assert fast.status == "passed", fast.reason
    assert bad.status == "failed" and "result[0][" in bad.reason


TORCH = """
import torch
def softplus_rows(t):
    out = torch.empty_like(t)
    for i in range(t.shape[0]):
        out[i] = torch.log1p(torch.exp(t[i]))
    return out
"""

TORCH_FAST = """
import torch
def softplus_rows(t):
    return torch.nn.functional.softplus(t)
"""


@pytest.mark.slow  # end to end, seconds each: CI runs it in its slow step
def test_torch_tensor_argument_and_result():
    torch = pytest.importorskip("torch")
    t = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    res = workbench.optimize(
        TORCH, example=((t,), {}), strategies=[], candidates=[TORCH_FAST], namespace={}
    )
    assert res.candidates[0].status == "passed", res.candidates[0].reason


SUMMARY = """
import numpy as np
import pandas as pd
def summarize(X):
    means = []
    for row in X:
        total = 0.0
        for v in row:
            total += v
        means.append(total / len(row))
    counts = {}
    for v in X[:, 0]:
        key = "high" if v > 0.5 else "low"
        counts[key] = counts.get(key, 0) + 1
    table = pd.DataFrame({"mean": means, "first": X[:, 0]})
    return means, counts, table
"""

SUMMARY_FAST = """
import numpy as np
import pandas as pd
def summarize(X):
    means = X.mean(axis=1)
    high = int((X[:, 0] > 0.5).sum())
    counts = {"low": len(X) - high, "high": high}  # another order: still the same dict
    counts = {k: v for k, v in counts.items() if v}
    return [float(m) for m in means], counts, pd.DataFrame({"mean": means, "first": X[:, 0]})
"""


def test_honest_lists_dicts_and_dataframes_pass_and_one_wrong_cell_fails(optimize_via):
    wrong = SUMMARY_FAST.replace(
        'pd.DataFrame({"mean": means,',
        'pd.DataFrame({"mean": np.where(np.arange(len(X)) == 3, 0.0, means),',
    )
    res = optimize_via(
        SUMMARY,
        inputs=lambda n: (np.random.default_rng(n).random((n, 5)),),
        strategies=(),
        candidates=[SUMMARY_FAST, wrong],
        sizes=[1, 4, 9, 60],
    )
    fast, bad = res.candidates
    assert fast.status == "passed", fast.reason
    assert bad.status == "failed" and "result[2]['mean'][3]" in bad.reason, bad.reason


QSORT = """
def qsort(x):
    x = list(x)
    if len(x) <= 1:
        return x
    p = x[0]
    return qsort([v for v in x[1:] if v < p]) + [p] + qsort([v for v in x[1:] if v >= p])
"""


def test_stress_finds_the_shape_that_slows_the_reference_and_times_candidates_on_it(shell):
    """A first-element-pivot quicksort is quadratic on sorted and repeated values."""
    shell.user_ns["xs"] = [float(v) for v in np.random.default_rng(4).random(500)]
    shell.run_cell(QSORT)
    shell.user_ns["cands"] = ["def qsort(x):\n    return sorted(x)\n"]
    res = shell.run_line_magic(
        "optimize", "qsort(xs) --strategies none --candidates cands --stress"
    )
    stress = res.inputs["stress"]
    assert stress["variant"] in ("sorted", "reverse-sorted", "one repeated row"), stress
    assert stress["slowdown"] > 3  # the reference is much slower there than on shuffled rows
    (cand,) = res.candidates
    assert cand.status == "passed", cand.reason
    on_stress = stress["candidates"][cand.id]
    assert on_stress["wrong"] is None and on_stress["speedup"] > cand.speedup
    assert any(n.startswith("--stress:") for n in res.notes)


def test_stress_fails_a_candidate_wrong_on_the_stress_shape():
    wrong_when_repeated = (
        "def qsort(x):\n"
        "    if len(x) > 50 and len(set(x)) == 1:\n"
        "        return [x[0]]\n"
        "    return sorted(x)\n"
    )
    xs = [float(v) for v in np.random.default_rng(5).random(400)]
    res = workbench.optimize(
        QSORT,
        example=((xs,), {}),
        stress=True,
        strategies=[],
        candidates=[wrong_when_repeated],
        namespace={},
    )
    if res.inputs["stress"]["variant"] != "one repeated row":
        pytest.skip(f"the slowest shape here was {res.inputs['stress']['variant']}")
    assert res.candidates[0].status == "failed"
    assert "stress inputs: one repeated row" in res.candidates[0].reason


class _BuilderModel:
    """A backend whose every reply is one input builder (a Backend subclass, made lazily)."""

    @staticmethod
    def make(reply: str):
        from workbench.llm import Backend, Completion

        class Scripted(Backend):
            kind = "scripted"

            @property
            def model(self) -> str:
                return "scripted"

            def _complete(self, request, *, on_token, cancel):
                self.prompts = [m["content"] for m in request.messages]
                return [Completion(text=reply, completion_tokens=10) for _ in range(request.n)]

        return Scripted()


@pytest.fixture
def model_says(monkeypatch):
    from workbench.llm import _active

    def install(reply: str):
        model = _BuilderModel.make(reply)
        monkeypatch.setattr(_active, "_active", model)
        monkeypatch.setattr(_active, "_off", False)
        return model

    return install


def test_without_any_source_the_model_writes_a_builder_checked_against_the_reference(model_says):
    model = model_says(
        "Here you go:\n```python\nimport numpy as np\n\ndef make_inputs(n):\n"
        "    rng = np.random.default_rng(n)\n    return (rng.random((n, 4)), 2)\n```"
    )
    res = workbench.optimize(KTH, strategies=[], candidates=[KTH_FAST], namespace={})
    assert "def top_k_sum" in model.prompts[-1]  # the model saw the function
    assert res.inputs["source"] == "builder"
    assert "def make_inputs(n)" in res.inputs["code"] and res.inputs["model"] == "scripted"
    assert res.candidates[0].status == "passed", res.candidates[0].reason
    assert any("written by the model" in n for n in res.notes)
    assert "the input builder the model wrote" in res._repr_html_()


def test_a_model_builder_the_reference_rejects_is_one_clear_line(model_says):
    model_says("```python\ndef make_inputs(n):\n    return ('not an array',)\n```")
    with pytest.raises(InputsError, match="raises on every input the model's builder made"):
        workbench.optimize(KTH, strategies=[], namespace={})


EVENTS = """
import pandas as pd
def tag_events(df):
    out = df.copy()
    labels = []
    for _, row in df.iterrows():
        labels.append(f"{row['kind']}@{row['when'].hour:02d}")
    out["label"] = labels
    out["kind"] = out["kind"].cat.add_categories(["none"])
    return out
"""

EVENTS_FAST = """
import pandas as pd
def tag_events(df):
    out = df.copy()
    out["label"] = df["kind"].astype(str) + "@" + df["when"].dt.hour.map("{:02d}".format)
    out["kind"] = out["kind"].cat.add_categories(["none"])
    return out
"""


def test_categoricals_datetimes_and_strings_as_arguments_and_results(optimize_via):
    n = 120
    rng = np.random.default_rng(6)
    df = pd.DataFrame(
        {
            "kind": pd.Categorical(rng.choice(["click", "view", "buy"], n)),
            "when": pd.date_range("2024-03-01", periods=n, freq="37min", tz="Europe/Paris"),
            "who": rng.choice(["ann", "bob", "cy"], n),
        }
    )
    res = optimize_via(
        EVENTS,
        inputs=[(df,), (df.iloc[:7],)],
        strategies=(),
        candidates=[EVENTS_FAST, EVENTS_FAST.replace('"@"', '"#"')],
    )
    fast, wrong = res.candidates
    assert fast.status == "passed", fast.reason
    assert wrong.status == "failed" and "result['label'][0]" in wrong.reason
    # from an example, the generated empty frame finds what the builder's inputs did not: an
    # empty 'label' column is float64 for the reference, str for the vectorised version
    careful = EVENTS_FAST.replace(
        '    out["kind"] =', '    if not len(df):\n        out["label"] = []\n    out["kind"] ='
    )
    api = workbench.optimize(
        EVENTS, example=((df,), {}), strategies=[], candidates=[EVENTS_FAST, careful], namespace={}
    )
    naive, fixed = api.candidates
    assert naive.status == "failed", naive.reason
    assert (
        naive.reason == "result['label'] has dtype str, expected float64 (input generated, empty)"
    )
    assert fixed.status == "passed", fixed.reason
    assert api.inputs["generated"] >= 3  # Hypothesis drew frames with these dtypes


def test_table_explorer_dashboard_and_sessions_show_where_the_inputs_came_from(shell):
    from workbench.store._sessions import SessionStore
    from workbench.views._dashboard import _run_label
    from workbench.views._html import detail_html
    from workbench.views._model import build_model

    shell.user_ns["X"] = np.random.default_rng(8).random((90, 3))
    shell.run_cell(textwrap.dedent(KTH))
    shell.user_ns["cands"] = [KTH_FAST]
    res = shell.run_line_magic("optimize", "top_k_sum(X, 2) --strategies none --candidates cands")
    line = "inputs: example top_k_sum(X, 2): 90 rows; verified on 5 subset(s)"
    assert line in repr(res) and line in res._repr_html_()
    store = SessionStore(res.store_path)
    record = store.run(res.run_id)
    model = build_model(record)  # from the session, as the dashboard reads it
    assert model.inputs == res.inputs["description"]
    assert "inputs</th>" in detail_html(model.nodes()[0], model)
    (run,) = [r for r in store.runs() if r["id"] == res.run_id]
    assert run["inputs"] == "example" and "inputs: example" in _run_label(run)
    sessions = repr(shell.run_line_magic("wb", "sessions"))
    assert "inputs" in sessions.splitlines()[1] and " example " in sessions


def test_a_model_builder_with_a_seed_is_timed_at_one_size_on_fresh_values(model_says):
    model_says(
        "```python\nimport numpy as np\n\ndef make_inputs(n, seed):\n"
        "    rng = np.random.default_rng(seed)\n    return (rng.random((n, 4)), 2)\n```"
    )
    res = workbench.optimize(KTH, strategies=[], candidates=[KTH_FAST], namespace={})
    assert res.inputs["source"] == "builder" and res.inputs["seeded"] is True
    assert "make_inputs(n, seed)" in res.inputs["description"]
    assert res.candidates[0].status == "passed", res.candidates[0].reason


def test_the_model_builder_gets_a_fresh_seed_per_timed_call_at_the_same_size():
    from workbench.optimizer._inputs import TIMING_SEED, _defines_seeded_builder, _ModelBuilder

    seeded = "def make_inputs(n, seed):\n    return (n, seed)\n"
    unseeded = "def make_inputs(n, scale=2):\n    return (n,)\n"
    assert _defines_seeded_builder(seeded) and not _defines_seeded_builder(unseeded)
    make = _ModelBuilder(seeded)
    assert make(40) == (40, 40)  # verification: deterministic in n
    assert [make(40, k) for k in (0, 1)] == [(40, TIMING_SEED), (40, TIMING_SEED + 1)]
    assert _ModelBuilder(unseeded)(40, 3) == (43,)
