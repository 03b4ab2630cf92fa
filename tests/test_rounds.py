"""Refinement rounds: strategies that can refine see the results so far; everything is stored."""

from __future__ import annotations

import threading

import numpy as np

import workbench
from workbench import CandidateSpec

CELL = "import numpy as np\ndef double(x):\n    out = np.empty_like(x)\n    for i in range(x.shape[0]):\n        out[i] = 2.0 * x[i]\n    return out\n"


def make(n):
    return (np.random.default_rng(n).standard_normal(n),)


class ScriptedStrategy:
    """Round 0: a wrong candidate; each refinement fixes what the feedback says."""

    name = "scripted"

    def __init__(self):
        self.exchanges = []
        self.seen = []

    def propose(self, task):
        self.exchanges.append(
            {"messages": [{"role": "user", "content": "write double"}], "reply": "x * 3"}
        )
        return [CandidateSpec("def double(x):\n    return x * 3.0\n", "scripted", path="vectorise")]

    def refine(self, task, results, *, round, hint=None):
        failed = [c for c in results if c.status == "failed"]
        self.seen.append((round, [c.reason for c in failed], hint))
        prompt = f"fix: {failed[0].reason if failed else 'faster'}; hint: {hint}"
        self.exchanges.append({"messages": [{"role": "user", "content": prompt}], "reply": "x + x"})
        parent = results[-1]
        return [
            CandidateSpec(
                f"def double(x):\n    return x + x  # round {round}\n",
                "scripted",
                path=parent.path,
                parent=parent.id,
                round=round,
            )
        ]


def test_refinement_uses_feedback_and_records_lineage_and_prompts():
    strategy = ScriptedStrategy()
    res = workbench.optimize(
        CELL, inputs=make, strategies=[strategy], rounds=3, hint="use x + x", sizes=[2, 40]
    )
    first, second = res.candidates[:2]
    assert first.status == "failed" and second.status == "passed"
    assert second.parent == first.id and second.round == 1 and second.path == "vectorise"
    round1, reasons, hint = strategy.seen[0]
    assert round1 == 1 and "expected" in reasons[0] and hint == "use x + x"
    store = workbench.SessionStore(workbench.get_settings().home)
    events = store.events(res.run_id)
    prompts = [e["data"]["messages"][0]["content"] for e in events if e["kind"] == "llm_exchange"]
    assert (
        prompts[0] == "write double" and "fix: result" in prompts[1] and "use x + x" in prompts[1]
    )
    (timeline,) = [e["data"]["phases"] for e in events if e["kind"] == "timeline"]
    names = {p["name"] for p in timeline}
    assert {"reference", "generate", "compile", "verify", "time"} <= names


def test_refinement_stops_after_patience_rounds_without_improvement():
    class Stubborn(ScriptedStrategy):
        def refine(self, task, results, *, round, hint=None):
            self.seen.append(round)
            return [
                CandidateSpec(
                    f"def double(x):\n    return x * 3.0 + {round} * 0\n", "scripted", round=round
                )
            ]

    strategy = Stubborn()
    workbench.optimize(
        CELL, inputs=make, strategies=[strategy], rounds=10, patience=2, sizes=[2, 40]
    )
    assert strategy.seen == [1, 2]


def test_stop_skips_what_is_left():
    stop = threading.Event()
    seen = []

    def progress(event):
        if event["kind"] == "done":
            seen.append(event["candidate"].id)
            stop.set()

    res = workbench.optimize(
        CELL,
        inputs=make,
        strategies=[],
        sizes=[2, 40],
        stop=stop,
        progress=progress,
        candidates=["def double(x):\n    return x + x\n", "def double(x):\n    return 2 * x\n"],
    )
    assert len(res.candidates) == 1 and any("stopped by the user" in n for n in res.notes)


class _Exchange:
    def __init__(self, tokens):
        self.prompt_tokens, self.completion_tokens = tokens, 0

    def to_json(self):
        return {"tokens": self.prompt_tokens}


def test_refinement_stops_at_the_token_budget():
    class Costly(ScriptedStrategy):
        def propose(self, task):
            self.exchanges.append(_Exchange(600))
            return [CandidateSpec("def double(x):\n    return x * 3.0\n", "scripted")]

        def refine(self, task, results, *, round, hint=None):
            self.exchanges.append(_Exchange(600))
            self.seen.append(round)
            return [
                CandidateSpec(
                    f"def double(x):\n    return x * 3.0 + {round} * 0\n", "scripted", round=round
                )
            ]

    strategy = Costly()
    res = workbench.optimize(
        CELL,
        inputs=make,
        strategies=[strategy],
        rounds=10,
        patience=10,
        token_budget=1000,
        sizes=[2, 40],
    )
    assert strategy.seen == [1]
    assert any("1,200 tokens used, budget 1,000" in n for n in res.notes)
    events = workbench.SessionStore(workbench.get_settings().home).events(res.run_id)
    assert [e["data"] for e in events if e["kind"] == "llm_exchange"] == [
        {"tokens": 600},
        {"tokens": 600},
    ]
