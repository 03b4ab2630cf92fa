"""ConAIR-style labelling: which test is asked, what is shown, and convergence."""

from __future__ import annotations

import numpy as np
import pytest

from workbench._errors import UsageError
from workbench.generator._labelling import Labeller
from workbench.generator._passmatrix import PassMatrix
from workbench.generator._ranking import codet, mbr_exec


def _matrix(passed, code_counts, returned=None) -> PassMatrix:
    passed = np.asarray(passed, dtype=bool)
    n, m = passed.shape
    return PassMatrix(
        codes=[f"def f(x):\n    return {i}\n" for i in range(n)],
        tests=[f"assert f({j}) == {j}" for j in range(m)],
        passed=passed,
        outcomes=np.where(passed, "passed", "failed"),
        loaded=np.ones(n, bool),
        returned=np.full((n, m), None, dtype=object) if returned is None else returned,
        test_inputs=[f"f({j})" for j in range(m)],
        code_counts=np.asarray(code_counts),
        test_counts=np.ones(m, int),
        entry="f",
    )


# three behaviours: A (codes 0,1) B (code 2) C (code 3); test 0 is passed by all (useless),
# test 1 splits A from B+C, test 2 splits C from A+B, test 3 splits B from A+C
ROWS = [
    [1, 1, 0, 0],
    [1, 1, 0, 0],
    [1, 0, 0, 1],
    [1, 0, 1, 0],
]


def test_asks_the_test_that_splits_the_leading_groups_most_evenly():
    # weights: A 4 samples, B 2, C 2: test 1 splits 50/50, tests 2 and 3 split 25/75
    returned = np.array([["1", f"{i}", "x", "y"] for i in range(4)], dtype=object)
    m = _matrix(ROWS, [2, 2, 2, 2], returned)
    labeller = Labeller(m, ranker=mbr_exec, leading=3, budget=3)
    question = labeller.next_test_to_label()
    assert question.test == 1
    assert question.information == pytest.approx(1.0)
    assert question.call == "f(1)"
    # what each leading group returns, and whether it passes
    by_codes = {a.codes: (a.returned, a.passes) for a in question.answers}
    assert by_codes[(0, 1)] == ("0", 1.0)
    assert by_codes[(2,)] == ("2", 0.0)
    text = question.render_text()
    assert "assert f(1) == 1" in text and "returns 2, fails" in text and ".label(1, True)" in text


@pytest.mark.parametrize("truth", [(0, 1), (2,), (3,)])
def test_converges_on_the_hidden_truth(truth):
    m = _matrix(ROWS, [2, 2, 2, 2])
    right_tests = m.passed[truth[0]]
    labeller = Labeller(m, ranker=codet, leading=4, budget=5)
    while (question := labeller.next_test_to_label()) is not None:
        labeller.label(question.test, bool(right_tests[question.test]))
    assert labeller.ranking.top == truth
    assert len(labeller.labels) <= 2  # two well-chosen labels separate three groups
    assert labeller.stop_reason


def test_stops_when_the_leader_is_clear_or_the_budget_is_spent():
    clear = _matrix(ROWS, [50, 50, 1, 1])
    labeller = Labeller(clear, ranker=mbr_exec)
    assert labeller.next_test_to_label() is None and "leader" in labeller.stop_reason
    m = _matrix(ROWS, [2, 2, 2, 2])
    labeller = Labeller(m, ranker=mbr_exec, budget=1)
    labeller.label(labeller.next_test_to_label().test, False)
    assert labeller.done and labeller.stop_reason == "budget spent"


def test_existing_labels_are_applied_and_bad_tests_rejected():
    m = _matrix(ROWS, [2, 2, 2, 2])
    labeller = Labeller(m, ranker=mbr_exec, labels={"assert f(1) == 1": True})
    assert labeller.ranking.top == (0, 1)
    with pytest.raises(UsageError):
        labeller.label("assert nothing", True)
    with pytest.raises(UsageError):
        Labeller(m, leading=1)
