"""Interactive test labelling (ConAIR-style): ask the user about the test that tells most.

The leading candidate groups of a ranking disagree on some tests. Each group is weighted by how
often its codes were sampled; if a group is right, a test is right exactly when that group
passes it. The answer to "is this test right?" is then a coin whose bias is the weight of the
groups that pass it, and the test with the most uncertain answer (highest entropy, in bits)
is the one whose label tells most about which group is right. After each label the matrix is
re-ranked with all labels so far; the labeller stops when one group holds most of the weight,
when no test separates the leading groups any more, or when the budget is spent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._errors import UsageError
from ._passmatrix import PassMatrix
from ._ranking import Ranking, b4


@dataclass(frozen=True)
class GroupAnswer:
    """What one leading group does with the test being asked about."""

    rank: int  # 1 = the leader
    codes: tuple[int, ...]
    weight: float  # share of the leading groups' weight
    passes: float  # share of the group's codes that pass the test (0 or 1 for pattern groups)
    returned: str | None  # what the group's first code returned for the test's call


@dataclass(frozen=True)
class Question:
    """A test to label, with why it was chosen and what each leading group makes of it."""

    test: int
    source: str
    call: str | None  # the call expression of the test, e.g. "f([1, 2])"
    information: float  # expected information of the answer, in bits
    answers: tuple[GroupAnswer, ...]
    asked: int  # how many labels this labeller asked for before this one
    budget: int

    def render_text(self) -> str:
        """The question as plain text, for any notebook or terminal."""
        lines = [
            f"Is this test right? (question {self.asked + 1} of at most {self.budget}; "
            f"the answer is worth {self.information:.2f} bits)",
            "",
            *("    " + line for line in self.source.splitlines()),
            "",
            f"What the leading candidate groups do{f' with {self.call}' if self.call else ''}:",
        ]
        for a in self.answers:
            verdict = (
                "passes" if a.passes == 1 else "fails" if a.passes == 0 else f"{a.passes:.0%} pass"
            )
            got = f"returns {a.returned}, " if a.returned is not None else ""
            lines.append(
                f"  #{a.rank} ({len(a.codes)} code{'s' * (len(a.codes) != 1)}, "
                f"weight {a.weight:.0%}): {got}{verdict}"
            )
        lines += [
            "",
            f"Answer with .label({self.test}, True) if right, .label({self.test}, False) if not.",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render_text()


def _entropy(p: float) -> float:
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


@dataclass
class Labeller:
    """Chooses tests for the user to label and re-ranks after each label.

    ``ranker`` is any ranker of ``workbench.generator._ranking`` (B4 by default); ``leading`` is how many
    top groups compete; ``budget`` caps the questions; the leader is clear once it holds
    ``confidence`` of the leading groups' weight.
    """

    matrix: PassMatrix
    ranker: Callable[..., Ranking] = b4
    leading: int = 4
    budget: int = 3
    confidence: float = 0.9
    labels: dict[int, bool] = field(default_factory=dict)
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        if self.leading < 2:
            raise UsageError("leading must be at least 2: labels separate competing groups")
        self.labels = {self.matrix.test_index(t): bool(v) for t, v in self.labels.items()}
        self._asked = 0
        self.ranking = self.ranker(self.matrix, self.labels)

    @property
    def done(self) -> bool:
        return self.next_test_to_label() is None

    def leading_groups(self) -> list[tuple[tuple[int, ...], float]]:
        """The top groups in play and their weights (sampling frequency, normalised)."""
        groups = self.ranking.in_play()[: self.leading]
        sizes = [float(self.matrix.code_counts[list(g.codes)].sum()) for g in groups]
        total = sum(sizes) or 1.0
        return [(g.codes, s / total) for g, s in zip(groups, sizes)]

    def next_test_to_label(self) -> Question | None:
        """The most informative unlabelled test, or None when labelling should stop."""
        groups = self.leading_groups()
        if self._asked >= self.budget:
            self.stop_reason = "budget spent"
            return None
        if len(groups) < 2:
            self.stop_reason = "one candidate group left"
            return None
        if groups[0][1] >= self.confidence:
            self.stop_reason = f"the leader holds {groups[0][1]:.0%} of the weight"
            return None
        passed = self.matrix.passed
        weights = np.array([w for _, w in groups])
        # share of each group's codes that pass each test: (groups, tests)
        pass_share = np.array([passed[list(codes)].mean(axis=0) for codes, _ in groups])
        p_right = weights @ pass_share
        best, best_key = None, None
        for j in range(passed.shape[1]):
            if j in self.labels:
                continue
            info = _entropy(float(p_right[j]))
            if info <= 1e-12:
                continue
            # ties: a test the leader passes (a "yes" confirms it), then the most proposed test
            key = (round(info, 9), pass_share[0, j], int(self.matrix.test_counts[j]), -j)
            if best_key is None or key > best_key:
                best, best_key = j, key
        if best is None:
            self.stop_reason = "no unlabelled test separates the leading groups"
            return None
        self.stop_reason = None
        answers = tuple(
            GroupAnswer(
                rank=k + 1,
                codes=codes,
                weight=w,
                passes=float(pass_share[k, best]),
                returned=self.matrix.returned[codes[0], best],
            )
            for k, (codes, w) in enumerate(groups)
        )
        return Question(
            test=best,
            source=self.matrix.tests[best],
            call=self.matrix.test_inputs[best],
            information=float(best_key[0]),
            answers=answers,
            asked=self._asked,
            budget=self.budget,
        )

    def label(self, test: int | str, correct: bool) -> Ranking:
        """Record the user's label of ``test`` (column or source) and re-rank."""
        j = self.matrix.test_index(test)
        if j not in self.labels:
            self._asked += 1
        self.labels[j] = bool(correct)
        self.ranking = self.ranker(self.matrix, self.labels)
        return self.ranking
