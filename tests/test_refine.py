"""OptimizeResult.refine: one more LLM round on a chosen candidate, in the same session run."""

from __future__ import annotations

import numpy as np
import pytest

import workbench
from workbench import CandidateSpec
from workbench._errors import UsageError
from workbench.llm import Backend, Completion
from workbench.optimizer.strategies._llm import LLMStrategy

CELL = "def double(x):\n    out = x.copy()\n    for i in range(x.shape[0]):\n        out[i] = 2.0 * x[i]\n    return out\n"
WRONG = "def double(x):\n    return x * 3.0\n"
RIGHT = "def double(x):\n    return x + x\n"


def make(n):
    return (np.random.default_rng(n).standard_normal(n),)


class Scripted:
    """A refiner without a model: round 0 is wrong, a refinement is right."""

    name = "scripted"

    def __init__(self):
        self.exchanges, self.seen = [], []

    def propose(self, task):
        return [CandidateSpec(WRONG, "scripted", path="vectorise")]

    def refine(self, task, results, *, round, hint=None):
        self.seen.append(([c.id for c in results], round, hint))
        self.exchanges.append({"request": {"messages": [{"role": "user", "content": hint}]}})
        parent = results[0]
        code = RIGHT + f"# {hint}\n"
        return [CandidateSpec(code, "scripted", path=parent.path, parent=parent.id, round=round)]


def test_refine_adds_a_child_of_the_chosen_candidate_to_the_same_run():
    strategy = Scripted()
    res = workbench.optimize(CELL, inputs=make, strategies=[strategy], sizes=[2, 40], namespace={})
    (wrong,) = res.candidates
    assert wrong.status == "failed"
    same = res.refine("use x + x", candidate=wrong.id)
    assert same is res and len(res.candidates) == 2
    child = res.candidates[1]
    assert child.status == "passed" and child.parent == wrong.id and child.round == 1
    assert child.path == "vectorise" and strategy.seen == [([wrong.id], 1, "use x + x")]
    store = workbench.SessionStore(workbench.get_settings().home)
    saved = store.run(res.run_id)
    assert [c["id"] for c in saved["candidates"]] == [wrong.id, child.id]
    assert saved["status"] == "finished" and len(store.runs()) == 1
    hints = [e["data"] for e in store.events(res.run_id) if e["kind"] == "llm_exchange"]
    assert hints[-1]["request"]["messages"][0]["content"] == "use x + x"
    # a second refinement counts rounds on
    res.refine("again", candidate=child.id)
    assert res.candidates[-1].round == 2 and res.candidates[-1].parent == child.id


def test_refine_without_an_llm_says_how_to_configure_one():
    res = workbench.optimize(CELL, inputs=make, strategies=[], candidates=[RIGHT], sizes=[2, 40])
    with pytest.raises(UsageError, match="%wb llm local"):
        res.refine("faster")
    with pytest.raises(UsageError, match="no candidate"):
        res.refine("faster", candidate="nope")


def test_a_loaded_result_cannot_refine_without_its_inputs():
    res = workbench.optimize(CELL, inputs=make, strategies=[], candidates=[RIGHT], sizes=[2, 40])
    loaded = workbench.load_result(res.run_id)
    with pytest.raises(UsageError, match="run %%optimize again"):
        loaded.refine("faster")


class Model(Backend):
    kind = "scripted"

    @property
    def model(self) -> str:
        return "scripted-1"

    def _complete(self, request, *, on_token, cancel):
        prompt = request.messages[-1]["content"]
        if "DISTINCT strategies" in prompt:
            text = "1. triple: multiply by three.\n"
        elif "What happened:" in prompt or "does not work yet" in prompt:  # refine or repair
            text = f"```python\n{RIGHT}```" if "please add" in prompt else "no idea"
        else:
            text = f"```python\n{WRONG}```"
        return [Completion(text, "stop", 10, 5) for _ in range(request.n)]


def test_refine_with_the_llm_strategy_sends_the_hint_and_refines_a_refined_candidate_again():
    strategy = LLMStrategy(Model(), paths=1)
    res = workbench.optimize(
        CELL, inputs=make, strategies=[strategy], rounds=2, sizes=[2, 40], namespace={}
    )
    wrong = res.candidates[0]
    assert wrong.status == "failed" and len(res.candidates) == 2  # round 1: "no idea"
    res.refine("please add x to itself", candidate=wrong.id)
    child = res.candidates[-1]
    assert child.status == "passed" and child.parent == wrong.id and child.round == 2
    prompt = strategy.exchanges[-1].request.messages[-1]["content"]
    assert "please add x to itself" in prompt and "expected" in prompt


def test_a_stopped_run_still_refines_and_a_refine_can_be_stopped():
    import threading

    stop = threading.Event()

    def press_stop_after_the_first(event):
        if isinstance(event, dict) and event.get("kind") == "done":
            stop.set()

    res = workbench.optimize(
        CELL,
        inputs=make,
        strategies=[Scripted()],
        candidates=[RIGHT + "# user 1\n", RIGHT + "# user 2\n"],
        sizes=[2, 40],
        namespace={},
        progress=press_stop_after_the_first,
        stop=stop,
    )
    assert len(res.candidates) == 1 and "stopped by the user" in " ".join(res.notes)
    # a refine afterwards is a new request: the first run's Stop does not skip it
    res.refine("use x + x", candidate=res.candidates[0].id)
    assert len(res.candidates) == 2 and res.candidates[-1].status == "passed"
    # its own Stop does
    res.refine("again", candidate=res.candidates[-1].id, stop=stop)
    assert len(res.candidates) == 2
    assert res.notes[-1].startswith("stopped by the user")
