"""Tree search (``search="tree"``): parent choice by verified speedup and diversity, the
budgets that end it, Stop keeping every finished candidate, and the lineage, live and saved.
A scripted model stands in for the LLM: it answers the plan, the paths and every refinement
with a new right version (the repair turn with a fix)."""

from __future__ import annotations

import itertools
import re
import threading

import numpy as np
import pytest

import workbench
from workbench._errors import UsageError
from workbench.llm import Backend, Completion
from workbench.optimizer._results import CandidateResult
from workbench.optimizer._search import (
    MAX_EXPANSIONS,
    SearchState,
    choose_parent,
    inspiration,
)
from workbench.optimizer.strategies._llm import LLMStrategy

CELL = (
    "import numpy as np\n"
    "def double(x):\n"
    "    out = np.empty_like(x)\n"
    "    for i in range(x.shape[0]):\n"
    "        out[i] = 2.0 * x[i]\n"
    "    return out\n"
)
PLAN = "1. vector: use NumPy arithmetic.\n2. shift: add x to itself.\n"
PATHS = {
    "vector": "def double(x):\n    return x * 2.0\n",
    "shift": "def double(x):\n    return x + x + 1.0\n",  # wrong: the repair turn fixes it
}


def make(n):
    return (np.random.default_rng(n).standard_normal(n),)


class TreeModel(Backend):
    """Plan, code per path, and a new right version for every refinement or repair."""

    kind = "scripted"

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[str] = []
        self.count = itertools.count(1)

    @property
    def model(self) -> str:
        return "scripted-tree"

    def _complete(self, request, *, on_token, cancel):
        prompt = request.messages[-1]["content"]
        self.prompts.append(prompt)
        if "DISTINCT strategies" in prompt:
            text = PLAN
        elif "What happened:" in prompt or "does not work yet" in prompt:
            k = next(self.count)
            text = (
                f"Variant {k}: add a zero term so the result stays the same.\n"
                f"```python\ndef double(x):\n    return x * 2.0 + 0.0 * {k}\n```"
            )
        else:
            name = re.search(r"Strategy to follow: ([\w-]+):", prompt).group(1)
            text = f"```python\n{PATHS[name]}```"
        return [Completion(text, "stop", 10, 5) for _ in range(request.n)]


def tree_run(**options):
    model = TreeModel()
    strategy = LLMStrategy(model, paths=2)
    options.setdefault("sizes", [2, 40])
    res = workbench.optimize(
        CELL, inputs=make, strategies=[strategy], search="tree", namespace={}, **options
    )
    return res, model


def candidate(id, speedup_low=None, status="passed", path="p", parent=None, order=0, round=0):
    return CandidateResult(
        id=id,
        code=f"# {id}\n",
        strategy="llm",
        status=status,
        speedup=None if speedup_low is None else speedup_low * 1.1,
        speedup_low=speedup_low,
        speedup_high=None if speedup_low is None else speedup_low * 1.2,
        path=path,
        parent=parent,
        order=order,
        round=round,
    )


# -- parent choice --------------------------------------------------------------------------


def test_the_parent_is_the_best_verified_lower_bound_not_the_best_median():
    # b's median (1.1 * 3.0) beats nothing: a's lower bound is the higher one
    a = candidate("a", 4.0, order=0)
    b = candidate("b", 3.0, order=1)
    b.speedup = 50.0  # a lucky median with a wide interval does not win
    slow = candidate("slow", 0.5, order=2)
    assert choose_parent([slow, b, a], SearchState()).id == "a"


def test_children_and_a_taken_path_make_room_for_other_branches():
    a = candidate("a", 4.0, path="p", order=0)
    b = candidate("b", 3.0, path="q", order=1)
    state = SearchState()
    assert choose_parent([a, b], state).id == "a"
    state.expanded(a)  # path p is taken now: b's path gets the bonus (2.0 vs 1.58 + 0.5)
    child = candidate("a1", 1.0, path="p", parent="a", order=2, round=1)
    assert choose_parent([a, b, child], state).id == "b"


def test_a_parent_is_expanded_at_most_a_few_times_and_not_past_the_levels():
    a = candidate("a", 8.0)
    state = SearchState()
    for _ in range(MAX_EXPANSIONS):
        assert choose_parent([a], state) is a
        state.expanded(a)
    assert choose_parent([a], state) is None
    deep = candidate("deep", 8.0, round=2)
    assert choose_parent([deep], SearchState(), levels=2) is None
    assert choose_parent([deep], SearchState(), levels=3) is deep


def test_a_failed_candidate_gets_one_repair_turn_and_nothing_else_is_a_parent():
    failed = candidate("f", status="failed")
    timeout = candidate("t", status="timeout")
    state = SearchState()
    assert choose_parent([failed, timeout], state) is failed
    state.expanded(failed)
    assert choose_parent([failed, timeout], state) is None
    # a verified 1.5x candidate beats the repair of a failed one
    assert choose_parent([failed, candidate("ok", 1.5)], SearchState()).id == "ok"


def test_inspiration_is_the_siblings_first_then_the_best_elsewhere():
    a = candidate("a", 4.0)
    kids = [candidate(f"a{i}", 1.0 + i, parent="a", order=i) for i in range(2)]
    far = candidate("far", 9.0, path="q")
    shown = inspiration(a, [a, *kids, far])
    assert [c.id for c in shown] == ["a1", "a0", "far"]


# -- the search in a run ----------------------------------------------------------------


def test_tree_search_records_lineage_shows_siblings_and_ends_on_the_candidate_budget():
    # one level: the fast path gets its 3 steps, then the wrong one its repair turn
    res, model = tree_run(candidate_budget=6, rounds=2)
    assert len(res.candidates) == 6
    by_id = {c.id: c for c in res.candidates}
    roots = [c for c in res.candidates if c.round == 0]
    assert {c.path for c in roots} == {"vector", "shift"}
    children = [c for c in res.candidates if c.round > 0]
    assert children and all(c.parent in by_id for c in children)
    assert all(c.round == by_id[c.parent].round + 1 == 1 for c in children)
    # the wrong path was repaired once: a child of it that passes
    wrong = next(c for c in roots if c.path == "shift")
    assert wrong.status == "failed"
    assert any(c.parent == wrong.id and c.status == "passed" for c in children)
    assert any("does not work yet" in p for p in model.prompts)  # the repair turn
    assert any("Other versions that were tried" in p for p in model.prompts)  # inspiration
    assert "search ended: the budget of 6 candidates was used" in res.notes[-1]
    # what the model said it changed is the child's idea (the search view's hover)
    assert all(": Variant " in c.note for c in children), [c.note for c in children]


def test_the_time_and_token_budgets_end_the_search_with_a_note():
    res, _ = tree_run(time_limit=0.001)
    assert all(c.round == 0 for c in res.candidates)
    assert "search ended: the time budget of 0.001 s was used" in res.notes[-1]
    # round 0 used 3 requests of 15 tokens: one more step reaches 60
    res, model = tree_run(token_budget=60)
    assert len(model.prompts) == 4 and len(res.candidates) == 3
    assert "search ended: the token budget of 60 tokens was used (60)" in res.notes[-1]


def test_stop_mid_search_keeps_every_finished_candidate_and_saves_them():
    stop = threading.Event()

    def press_stop_on_the_first_child(event):
        if isinstance(event, dict) and event.get("kind") == "done" and event["candidate"].round:
            stop.set()

    res, _ = tree_run(candidate_budget=12, stop=stop, progress=press_stop_on_the_first_child)
    assert len(res.candidates) == 3  # both paths and the first child: kept
    assert any("search ended: stopped by the user" in n for n in res.notes)
    assert any(n.startswith("stopped by the user") for n in res.notes)
    loaded = workbench.load_result(res.run_id)
    assert [(c.id, c.parent, c.round) for c in loaded.candidates] == [
        (c.id, c.parent, c.round) for c in res.candidates
    ]


def test_saved_runs_keep_the_tree_and_old_ones_without_parents_still_load():
    res, _ = tree_run(candidate_budget=5)
    loaded = workbench.load_result(res.run_id)
    assert [c.parent for c in loaded.candidates] == [c.parent for c in res.candidates]
    assert any(c.parent for c in loaded.candidates)
    old = res.candidates[0].to_dict()
    del old["parent"], old["order"]
    assert CandidateResult.from_dict(old).parent is None


def test_search_options_are_checked():
    with pytest.raises(UsageError, match="'rounds' or 'tree'"):
        workbench.optimize(CELL, inputs=make, strategies=[], search="forest", namespace={})
    with pytest.raises(UsageError, match="candidate_budget"):
        workbench.optimize(CELL, inputs=make, strategies=[], search="tree", candidate_budget=0)


def test_the_search_view_is_plain_data_and_a_click_selects_in_the_explorer():
    pytest.importorskip("anywidget")
    from workbench.views import Explorer, search_nodes

    res, _ = tree_run(candidate_budget=5)
    nodes = search_nodes(res)
    assert [n["id"] for n in nodes] == [c.id for c in res.candidates]
    assert {n["kind"] for n in nodes} >= {"best", "failed"}
    assert all(n["parent"] is None for n in nodes if n["round"] == 0)
    assert sum(1 for n in nodes if n["parent"]) == 3
    explorer = Explorer(res, namespace={})
    assert explorer.search.nodes == nodes and explorer.search.selected == res.best.id
    explorer.search.selected = res.candidates[1].id  # what a click in the browser does
    assert explorer.selected.id == res.candidates[1].id
    explorer.select(res.candidates[0].id)  # and a click in the list marks it in the view
    assert explorer.search.selected == res.candidates[0].id


def test_the_magic_takes_search_tree_and_a_budget(shell):
    shell.user_ns["make"] = make
    res = shell.run_cell_magic(
        "optimize", "--inputs make --sizes 2,40 --strategies none --search tree --budget 3", CELL
    )
    run = workbench.SessionStore(workbench.get_settings().home).run(res.run_id)
    assert run["options"]["search"] == "tree" and run["options"]["candidate_budget"] == 3
    assert "tree search needs a strategy that can refine" in res.notes[-1]
