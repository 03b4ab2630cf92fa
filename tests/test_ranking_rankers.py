"""Rankers on small hand-built matrices whose right answer can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench._errors import UsageError
from workbench.generator._passmatrix import PassMatrix
from workbench.generator._ranking import b4, codet, maxpass, mbr_exec, uniform

# codes 0-2 agree (pass tests 0,1); code 3 passes everything; codes 4,5 pass test 2 only
E = np.array(
    [
        [1, 1, 0, 0],
        [1, 1, 0, 0],
        [1, 1, 0, 0],
        [1, 1, 1, 1],
        [0, 0, 1, 0],
        [0, 0, 1, 0],
    ]
)


def test_maxpass_picks_the_code_that_passes_most():
    r = maxpass(E)
    assert r.top == (3,)
    assert r.scores.tolist() == [2, 2, 2, 4, 1, 1]


def test_mbr_exec_picks_the_largest_group_of_identical_rows():
    r = mbr_exec(E)
    assert r.top == (0, 1, 2)
    assert [g.codes for g in r.groups] == [(0, 1, 2), (4, 5), (3,)]
    assert r.groups[0].tests == (0, 1)


def test_codet_scores_tests_times_sqrt_codes_and_the_paper_product():
    r = codet(E)
    # {0,1,2}: 2 * sqrt 3 = 3.46 < {3}: 4 * sqrt 1 = 4
    assert r.top == (3,)
    assert r.scores[0] == pytest.approx(2 * math.sqrt(3))
    # the paper's |codes| * |tests|: 2 * 3 = 6 > 4
    assert codet(E, score="product").top == (0, 1, 2)


def test_codet_counts_duplicates_when_asked():
    m = _matrix(E, code_counts=[1, 1, 1, 1, 9, 9])
    # {4,5} sampled 18 times: 1 * sqrt 18 = 4.24 > 4
    assert codet(m, counts=True).top == (4, 5)
    assert codet(m).top == (3,)


def test_b4_prefers_consensus_and_matches_the_formula():
    r = b4(E, alpha=1.0, beta0=10.0)
    n, m = E.shape

    def betaln(a, b):
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    # hypothesis "codes {0,1,2} and tests {0,1} are right", worked out by hand:
    # others: codes 3,4,5; on tests {0,1}: code 3 passes 2 of 6 cells; on {2,3}: 4 of 6
    expected = (
        betaln(2 + 1, m - 2 + 1)
        + betaln(3 + 1, n - 3 + 1)
        + betaln(2 + 1, 6 - 2 + 1)
        + betaln(4 + 1, 6 - 4 + 10)
    )
    assert r.scores[0] == pytest.approx(expected)
    assert r.log_scores


def test_b4_beta0_penalises_other_codes_passing_the_tests_a_hypothesis_calls_wrong():
    # "codes 0-3 are right" calls test 3 wrong, yet all four other codes pass it; "code 4 is
    # right" calls no test wrong. A weak beta0 lets the big group win, a strong one does not.
    rows = np.array([[1, 1, 1, 0]] * 4 + [[1, 1, 1, 1]] + [[0, 0, 0, 1]] * 3)
    assert b4(rows, beta0=1.0).top == (0, 1, 2, 3)
    assert b4(rows, beta0=1e4).top == (4,)


def test_random_ties_every_candidate_in_play():
    m = _matrix(E, loaded=[True, True, True, True, True, False])
    r = uniform(m)
    assert r.top == (0, 1, 2, 3, 4)
    assert r.pass_at_1(np.array([1, 0, 0, 0, 0, 1])) == pytest.approx(0.2)


def test_codes_that_do_not_run_are_out_of_play():
    m = _matrix(E, loaded=[True, True, True, False, True, True])
    r = maxpass(m)
    assert r.top == (0, 1, 2)
    assert r.scores[3] == -math.inf and r.groups[-1].codes == (3,)


@pytest.mark.parametrize("ranker", [maxpass, mbr_exec, codet, b4])
def test_a_test_labelled_right_must_be_passed(ranker):
    # test 2 is right: only codes 3, 4, 5 pass it
    r = ranker(_matrix(E), {2: True})
    assert set(r.top) <= {3, 4, 5}
    assert all(r.scores[c] == -math.inf for c in (0, 1, 2))


@pytest.mark.parametrize("ranker", [maxpass, mbr_exec, codet, b4])
def test_a_test_labelled_wrong_stops_counting_and_its_passers_drop(ranker):
    # test 3 is wrong: code 3 passes it, so code 3 is wrong; the rest rank as without test 3
    r = ranker(_matrix(E), {E.shape[1] - 1: False})
    assert r.scores[3] == -math.inf
    assert r.top == (0, 1, 2)
    assert all(3 not in g.tests for g in r.groups)


def test_labels_by_test_source_and_when_no_code_passes_a_right_test():
    m = _matrix(E)
    assert codet(m, {"assert f(2) == 2": True}).top == codet(m, {2: True}).top
    # nobody passes right test 1; code 0 also passes wrong test 0: codes 1, 2 agree with more
    r = mbr_exec(np.array([[1, 0], [0, 0], [0, 0]]), {1: True, 0: False})
    assert r.top == (1, 2)


def test_bad_inputs_are_usage_errors():
    with pytest.raises(UsageError):
        codet(E, score="cube")
    with pytest.raises(UsageError):
        maxpass(E, {17: True})
    with pytest.raises(UsageError):
        maxpass(np.zeros(3))


def _matrix(passed, *, loaded=None, code_counts=None) -> PassMatrix:
    passed = np.asarray(passed, dtype=bool)
    n, m = passed.shape
    return PassMatrix(
        codes=[f"def f(x):\n    return {i}\n" for i in range(n)],
        tests=[f"assert f({j}) == {j}" for j in range(m)],
        passed=passed,
        outcomes=np.where(passed, "passed", "failed"),
        loaded=np.ones(n, bool) if loaded is None else np.array(loaded),
        returned=np.full((n, m), None, dtype=object),
        test_inputs=[f"f({j})" for j in range(m)],
        code_counts=np.ones(n, int) if code_counts is None else np.array(code_counts),
        test_counts=np.ones(m, int),
        entry="f",
    )


def test_b4_labels_rule_out_hypotheses_and_leave_the_others_scores_alone():
    plain, labelled = b4(E), b4(E, {2: True, 3: False})
    # "test 2 right, test 3 wrong" rules out codes 0-2 (fail 2) and 3 (passes 3)
    assert labelled.top == (4, 5)
    assert labelled.scores[4] == pytest.approx(plain.scores[4])
    assert all(labelled.scores[c] == -math.inf for c in (0, 1, 2, 3))
