"""Hot lines: a line profile of one call after timing, stored, and shown to the model."""

from __future__ import annotations

import numpy as np
import pytest

import workbench
from workbench import _settings
from workbench.llm import Backend, Completion, refine_messages
from workbench.optimizer._engine import load_result
from workbench.optimizer._lineprofile import PROFILE_OPTIONS, hot_lines
from workbench.optimizer._results import CandidateResult, HotLine, Timing
from workbench.optimizer.strategies._llm import LLMStrategy, feedback_from

SLOW = """
def spin(x):
    n = x.shape[0]
    acc = 0.0
    for i in range(n):
        acc += sum([(x[i] * j) % 7.0 for j in range(40)])
    return acc
"""
HOT = "acc += sum([(x[i] * j) % 7.0 for j in range(40)])"  # 40 multiplications a hit

NUMBA = """
import numba

@numba.njit(cache=False)
def spin(x):
    acc = 0.0
    for i in range(x.shape[0]):
        for j in range(40):
            acc += (x[i] * j) % 7.0
    return acc
"""

WITH_HELPERS = """
import numba

@numba.njit
def _fast_row(v):
    acc = 0.0
    for j in range(40):
        acc += (v * j) % 7.0
    return acc

def _slow_row(v):
    return sum((v * j) % 7.0 for j in range(40))

def spin(x):
    total = 0.0
    for v in x[:1]:
        total += _slow_row(v)
    for v in x[1:]:
        total += _fast_row(v)
    return total
"""


def make(n):
    return (np.random.default_rng(n).random(n),)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One optimize run shared by the tests that only read it (workers are slow to start)."""
    home = tmp_path_factory.mktemp("wb")
    mp = pytest.MonkeyPatch()
    mp.setenv("WORKBENCH_HOME", str(home))
    mp.setattr(_settings, "_current", None)
    workbench.configure(time_budget=0.2, timing_target=0.02, timeout=60)
    try:
        yield (
            workbench.optimize(
                SLOW,
                inputs=make,
                strategies=(),
                candidates=[NUMBA, WITH_HELPERS],
                sizes=[1, 3, 200],
                namespace={},
            ),
            str(home),
        )
    finally:
        mp.undo()


def test_the_references_hot_line_comes_first_with_most_of_the_time(run):
    res, _ = run
    ref = res.reference
    assert ref.profile_note == ""
    top = ref.hot_lines[0]
    assert top.text == HOT and SLOW.strip("\n").splitlines()[top.lineno - 1].strip() == HOT
    assert top.share > 0.5 and top.function == "spin"
    assert top.share > 0.8 and top.hits >= 10 and top.seconds > 0
    # hottest first; the once-run lines at the bottom
    assert [h.seconds for h in ref.hot_lines] == sorted(
        (h.seconds for h in ref.hot_lines), reverse=True
    )
    once = [h for h in ref.hot_lines if h.text in ("n = x.shape[0]", "return acc")]
    assert [h.hits for h in once] == [1, 1] and all(h.share < 0.05 for h in once)


def test_a_numba_candidate_says_it_has_no_line_profile(run):
    res, _ = run
    numba_cand = res.candidates[0]
    assert numba_cand.status == "passed"
    assert numba_cand.hot_lines == []
    assert numba_cand.profile_note == "compiled with Numba: no line profile"


def test_python_helpers_are_profiled_and_numba_helpers_named(run):
    res, _ = run
    cand = res.candidates[1]
    assert cand.status == "passed", cand.reason
    functions = {h.function for h in cand.hot_lines}
    assert {"spin", "_slow_row"} <= functions and "_fast_row" not in functions
    lines = WITH_HELPERS.splitlines()  # the code as given: line 1 is empty
    for h in cand.hot_lines:
        assert lines[h.lineno - 1].strip() == h.text
    assert cand.profile_note == "compiled with Numba, not line-profiled: _fast_row"


def test_hot_lines_survive_the_session_and_older_sessions_still_load(run):
    res, home = run
    again = load_result(res.run_id, home)
    assert again.reference.hot_lines == res.reference.hot_lines
    assert [c.hot_lines for c in again.candidates] == [c.hot_lines for c in res.candidates]
    assert again.candidates[0].profile_note == "compiled with Numba: no line profile"
    # a candidate and a reference stored before hot lines existed
    old = res.candidates[1].to_dict()
    del old["hot_lines"], old["profile_note"]
    assert CandidateResult.from_dict(old).hot_lines == []
    store = workbench.SessionStore(home)
    ref = {"timing": None, "sizes": ["n=1"], "skipped": [], "tests": {}}
    store.update_run(res.run_id, reference=ref)
    assert load_result(res.run_id, home).reference.hot_lines == []


TRACED = """
import sys

def _traced():
    if sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(i) for i in range(6))

def spin(x):
    print("traced" if _traced() else "plain", flush=True)
    n = x.shape[0]
    acc = 0.0
    for i in range(n):
        acc += sum([(x[i] * j) % 7.0 for j in range(40)])
    return acc
"""


def test_timed_calls_run_without_the_profiler_and_one_call_after_them_with_it():
    res = workbench.optimize(
        SLOW, inputs=make, strategies=(), candidates=[TRACED], sizes=[1, 200], namespace={}
    )
    (cand,) = res.candidates
    assert cand.status == "passed", cand.reason
    calls = cand.output.split()
    assert calls.count("traced") == 1 and calls[-1] == "traced"
    assert calls.count("plain") >= cand.timing.repeats  # every timed call ran untraced
    assert cand.hot_lines[0].text == HOT


def test_a_call_too_slow_to_profile_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setitem(PROFILE_OPTIONS, "target", 0.0)
    monkeypatch.setitem(PROFILE_OPTIONS, "max_seconds", 0.0)
    res = workbench.optimize(SLOW, inputs=make, strategies=(), sizes=[1, 50], namespace={})
    assert res.reference.hot_lines == []
    assert "allowed for a line profile: no line profile" in res.reference.profile_note


def test_a_malformed_profile_from_the_worker_is_dropped_not_trusted():
    code = "def f(x):\n    return x\n"
    profile = {
        "note": 7,
        "entry": ["f", 1],
        "functions": [
            {"name": "f", "first": 1, "lines": [[2, 3, 0.5], [99, 1, 1.0], ["x", 1, 1], [2]]},
            "junk",
            {"name": "f", "first": 1, "lines": [[1, 1, float("nan")], [1, 1, -1.0]]},
        ],
        "compiled": None,
    }
    lines, note = hot_lines(profile, code)
    assert lines == [HotLine(2, 1.0, "return x", hits=3, seconds=0.5, function="f")]
    assert note == ""
    assert hot_lines(None, code) == ([], "")
    assert hot_lines({"functions": "nope"}, code) == ([], "")


def _refine_text(result: CandidateResult) -> str:
    messages = refine_messages(
        "def f(x):\n    pass\n", "f", "def f(x):\n    pass\n", feedback_from(result)
    )
    return messages[-1]["content"]


def test_the_refine_prompt_shows_the_few_hottest_lines():
    result = CandidateResult(
        id="a",
        code="",
        strategy="llm",
        status="passed",
        speedup=2.0,
        timing=Timing(median=0.1, q1=0.1, q3=0.1, repeats=5),
        hot_lines=[
            HotLine(7, 0.62, HOT, hits=8000, seconds=0.031),
            HotLine(6, 0.2, "for j in range(40):", hits=8200, seconds=0.01),
            HotLine(5, 0.1, "for i in range(n):", hits=200, seconds=0.005),
            HotLine(4, 0.06, "acc = 0.0", hits=1, seconds=0.003),
            HotLine(8, 0.02, "return acc", hits=1, seconds=0.001),
        ],
    )
    text = _refine_text(result)
    assert f"line 7 (62%): {HOT}" in text
    assert text.index("line 7 (62%)") < text.index("line 6 (20%)") < text.index("line 5 (10%)")
    assert "acc = 0.0" not in text and "return acc" not in text  # a few lines only
    numba = CandidateResult(
        id="b",
        code="",
        strategy="llm",
        status="passed",
        profile_note="compiled with Numba: no line profile",
    )
    assert "Line profile: compiled with Numba: no line profile" in _refine_text(numba)


class Scripted(Backend):
    """A plan with one path, then the same vectorised code for every request."""

    kind = "scripted"

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[str] = []

    @property
    def model(self) -> str:
        return "scripted-1"

    def _complete(self, request, *, on_token, cancel):
        prompt = request.messages[-1]["content"]
        self.prompts.append(prompt)
        if "DISTINCT strategies" in prompt:
            text = "1. numpy-mod: vectorise with an outer product."
        else:
            text = (
                "```python\nimport numpy as np\n\ndef spin(x):\n"
                "    return float((np.outer(x, np.arange(40.0)) % 7.0).sum())\n```"
            )
        return [Completion(text, "stop", 10, 5) for _ in range(request.n)]


def test_first_round_prompts_show_the_references_hot_lines_and_refinement_the_candidates():
    model = Scripted()
    strategy = LLMStrategy(model, paths=1)
    res = workbench.optimize(
        SLOW, inputs=make, strategies=[strategy], rounds=2, sizes=[1, 3, 200], namespace={}
    )
    plan, code = model.prompts[:2]
    top = res.reference.hot_lines[0]
    for prompt in (plan, code):
        assert "Where the original spends its time (line profile):" in prompt
        assert f"line {top.lineno} ({top.share:.0%}): {HOT}" in prompt
    (cand,) = [c for c in res.candidates if c.round == 0]
    assert cand.status == "passed" and cand.hot_lines, cand.reason
    refine = model.prompts[2]
    assert "Where your version spends its time (line profile):" in refine
    assert "% 7.0).sum())" in refine.split("Where your version spends its time")[1]
