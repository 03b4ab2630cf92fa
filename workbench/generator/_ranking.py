"""Rankers over a pass matrix: which candidate is most likely right, given plausible tests.

Every ranker takes a ``PassMatrix`` (or a plain 0/1 array, codes x tests) and optional user
labels of tests (``{test: True/False}``, a test given by its column or its source), and returns
a ``Ranking``. Labels work the same in all of them:

- a test labelled right must be passed, and a test labelled wrong must be failed (a right
  program fails a wrong test): only the candidates that agree with the most labels (all of
  them, when any candidate does) stay in play; the others rank last;
- a test labelled wrong no longer counts in the scores (its column is dropped); B4 instead
  conditions its posterior on the labels (see ``b4``), which is what keeps labels from hurting.

Candidates whose code does not even run (``PassMatrix.loaded`` false) are out of play too, as
in B4's protocol, where only executable candidates enter the matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._errors import UsageError
from ._passmatrix import PassMatrix

Labels = Mapping["int | str", bool]


@dataclass(frozen=True)
class Group:
    """Candidates ranked together: they share a score (and, for most rankers, a pass row)."""

    codes: tuple[int, ...]
    score: float
    tests: tuple[int, ...]  # the tests every code of the group passes (columns of the matrix)


@dataclass
class Ranking:
    """Scores per candidate and the groups they form, best first."""

    method: str
    scores: np.ndarray  # per code; -inf for codes out of play
    groups: list[Group]  # best first; codes out of play form the last group (score -inf)
    log_scores: bool = False  # True when scores are log-probabilities (B4)

    @property
    def top(self) -> tuple[int, ...]:
        """The codes with the best score (ties included: pick any of them)."""
        if not self.groups:
            return ()
        best = self.groups[0].score
        return tuple(sorted(c for g in self.groups if g.score == best for c in g.codes))

    @property
    def best(self) -> int | None:
        """One code of the top group (the first in matrix order), or None if there are none."""
        top = self.top
        return top[0] if top else None

    def in_play(self) -> list[Group]:
        return [g for g in self.groups if g.score != -math.inf]

    def pass_at_1(self, correct: np.ndarray) -> float:
        """Chance that a uniform pick among the top codes is correct (ties averaged)."""
        top = self.top
        return float(np.mean(np.asarray(correct, dtype=bool)[list(top)])) if top else 0.0

    def __repr__(self) -> str:
        lines = [f"Ranking({self.method}, {len(self.in_play())} groups in play)"]
        for g in self.groups[:5]:
            lines.append(f"  {g.score:10.4g}  codes {list(g.codes)[:8]}  passes {len(g.tests)}")
        return "\n".join(lines)


def _prepare(
    matrix: PassMatrix | np.ndarray, labels: Labels | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pass matrix as 0/1 ints, rows in play, columns that count)."""
    if isinstance(matrix, PassMatrix):
        passed = matrix.passed.astype(np.int64)
        rows = matrix.loaded.copy()
    else:
        passed = np.asarray(matrix)
        if passed.ndim != 2:
            raise UsageError("a pass matrix must be 2-D: one row per code, one column per test")
        passed = (passed != 0).astype(np.int64)
        rows = np.ones(passed.shape[0], dtype=bool)
    cols = np.ones(passed.shape[1], dtype=bool)
    labelled: list[int] = []
    expected: list[int] = []
    for test, correct in (labels or {}).items():
        if isinstance(matrix, PassMatrix):
            j = matrix.test_index(test)
        elif isinstance(test, (int, np.integer)) and 0 <= int(test) < passed.shape[1]:
            j = int(test)
        else:
            raise UsageError(f"label key {test!r} is not a test column of this matrix")
        labelled.append(j)
        expected.append(1 if correct else 0)
        if not correct:
            cols[j] = False
    if labelled and rows.any():
        agree = (passed[:, labelled] == np.array(expected)).sum(axis=1)
        rows &= agree == agree[rows].max()
    return passed, rows, cols


def _rank(
    method: str,
    passed: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    groups: list[tuple[list[int], float]],
    *,
    log_scores: bool = False,
    absolute: bool = False,
) -> Ranking:
    """Assemble a Ranking from groups given as (row indices into the in-play rows, score);
    with ``absolute`` the indices are codes of the matrix."""
    in_play = np.arange(passed.shape[0]) if absolute else np.flatnonzero(rows)
    col_ids = np.flatnonzero(cols)
    scores = np.full(passed.shape[0], -math.inf)
    out: list[Group] = []
    for members, score in groups:
        codes = tuple(int(in_play[k]) for k in members)
        scores[list(codes)] = score
        row = passed[codes[0], col_ids] if len(col_ids) else np.zeros(0)
        out.append(Group(codes, float(score), tuple(int(c) for c in col_ids[row.astype(bool)])))
    # stable sort: equal scores keep first-seen order (as Python's sorted does in B4's code)
    out.sort(key=lambda g: -g.score)
    rest = tuple(int(i) for i in np.flatnonzero(~rows))
    if rest:
        out.append(Group(rest, -math.inf, ()))
    return Ranking(method, scores, out, log_scores)


def _patterns(sub: np.ndarray) -> list[list[int]]:
    """Rows grouped by identical pass pattern, groups in order of first occurrence."""
    by_row: dict[bytes, list[int]] = {}
    for k, row in enumerate(sub):
        by_row.setdefault(row.tobytes(), []).append(k)
    return list(by_row.values())


def uniform(matrix: PassMatrix | np.ndarray, labels: Labels | None = None) -> Ranking:
    """Baseline: every candidate in play ties (B4's "Random"; pass@1 = share of correct ones)."""
    passed, rows, cols = _prepare(matrix, labels)
    n = int(rows.sum())
    return _rank("random", passed, rows, cols, [(list(range(n)), 1.0)] if n else [])


def maxpass(matrix: PassMatrix | np.ndarray, labels: Labels | None = None) -> Ranking:
    """Rank by the number of tests passed (the MaxPass baseline of CodeT and B4)."""
    passed, rows, cols = _prepare(matrix, labels)
    counts = passed[rows][:, cols].sum(axis=1)
    groups = [(list(np.flatnonzero(counts == c)), float(c)) for c in dict.fromkeys(counts.tolist())]
    return _rank("maxpass", passed, rows, cols, groups)


def mbr_exec(matrix: PassMatrix | np.ndarray, labels: Labels | None = None) -> Ranking:
    """MBR-exec (Shi et al., "Natural Language to Code Translation with Execution", EMNLP 2022).

    Candidates with identical pass rows form a group; a group scores its size (minimum Bayes
    risk with the 0/1 loss "do two candidates behave the same on the tests").
    """
    passed, rows, cols = _prepare(matrix, labels)
    groups = _patterns(passed[rows][:, cols])
    return _rank("mbr_exec", passed, rows, cols, [(g, float(len(g))) for g in groups])


def codet(
    matrix: PassMatrix | np.ndarray,
    labels: Labels | None = None,
    *,
    score: str = "sqrt",
    counts: bool = False,
) -> Ranking:
    """CodeT dual execution agreement (Chen et al., "CodeT: Code Generation with Generated
    Tests", ICLR 2023).

    Consensus sets are the codes that pass exactly the same tests; a set scores
    ``|tests| * sqrt(|codes|)`` as in CodeT's released code (``score="sqrt"``), or the paper's
    ``|tests| * |codes|`` (``score="product"``). With ``counts=True`` duplicates count as
    often as they were sampled (``PassMatrix.code_counts`` / ``test_counts``), as the released
    code does; the default counts each distinct code and test once, as B4's re-implementation.
    """
    if score not in ("sqrt", "product"):
        raise UsageError("codet score must be 'sqrt' (released code) or 'product' (paper)")
    passed, rows, cols = _prepare(matrix, labels)
    if counts and isinstance(matrix, PassMatrix):
        code_w, test_w = matrix.code_counts, matrix.test_counts
    else:
        code_w, test_w = np.ones(passed.shape[0]), np.ones(passed.shape[1])
    sub = passed[rows][:, cols]
    code_w, test_w = code_w[rows], test_w[cols]
    groups = []
    for members in _patterns(sub):
        n_tests = float(sub[members[0]] @ test_w)
        n_codes = float(code_w[members].sum())
        size = math.sqrt(n_codes) if score == "sqrt" else n_codes
        groups.append((members, n_tests * size))
    return _rank("codet", passed, rows, cols, groups)


def _betaln(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    lgamma = np.vectorize(math.lgamma, otypes=[float])
    return lgamma(a) + lgamma(b) - lgamma(np.asarray(a) + np.asarray(b))


def b4(
    matrix: PassMatrix | np.ndarray,
    labels: Labels | None = None,
    *,
    alpha: float = 1e3,
    beta0: float = 1e4,
) -> Ranking:
    """B4 (Chen et al., "B4: Towards Optimal Assessment of Plausible Code Solutions with
    Plausible Tests", ASE 2024): the Bayesian approximation over distinct pass patterns.

    Each distinct pass row ``y`` proposes "the codes ``x`` with that row are right and the tests
    ``y`` are right". Its log-posterior adds four Beta-Bernoulli terms, as in B4's code:
    ``betaln(|y|+alpha, m-|y|+1) + betaln(|x|+alpha, n-|x|+1)`` (priors on how many codes and
    tests are right), ``betaln(s1+1, |E1|-s1+1)`` (wrong codes on right tests) and
    ``betaln(s0+1, |E0|-s0+beta0)`` (wrong codes rarely pass wrong tests), where ``E1``/``E0``
    are the other codes' cells on the tests in / not in ``y``. Scores are log-probabilities.

    Labels condition the posterior: a hypothesis whose ``y`` contradicts a label is ruled out,
    and the others keep their scores, computed on all executable codes and all tests (a test
    labelled wrong stays evidence: the codes that pass it are the wrong ones).
    """
    passed, rows, _ = _prepare(matrix, labels)
    data_rows = matrix.loaded if isinstance(matrix, PassMatrix) else np.ones(len(passed), bool)
    data_ids = np.flatnonzero(data_rows)
    cols = np.ones(passed.shape[1], dtype=bool)
    sub = passed[data_ids]
    n, m = sub.shape
    if n == 0 or not rows.any():
        return _rank("b4", passed, rows, cols, [], log_scores=True)
    groups = [g for g in _patterns(sub) if rows[data_ids[g[0]]]]
    col_sum = sub.sum(axis=0)
    total = float(col_sum.sum())
    size_x = np.array([len(g) for g in groups], dtype=float)
    ys = np.array([sub[g[0]] for g in groups], dtype=float).reshape(len(groups), m)
    size_y = ys.sum(axis=1)
    s1 = ys @ col_sum - size_x * size_y  # passes of the other codes on the tests in y
    s0 = total - ys @ col_sum  # codes in x pass no test outside y: all from the others
    cells1 = (n - size_x) * size_y
    cells0 = (n - size_x) * (m - size_y)
    score = (
        _betaln(size_y + alpha, m - size_y + 1)
        + _betaln(size_x + alpha, n - size_x + 1)
        + _betaln(s1 + 1, cells1 - s1 + 1)
        + _betaln(s0 + 1, cells0 - s0 + beta0)
    )
    absolute = [[int(data_ids[k]) for k in g] for g in groups]
    return _rank(
        "b4",
        passed,
        rows,
        cols,
        list(zip(absolute, score.tolist())),
        log_scores=True,
        absolute=True,
    )


RANKERS = {
    "random": uniform,
    "maxpass": maxpass,
    "mbr_exec": mbr_exec,
    "codet": codet,
    "b4": b4,
}
