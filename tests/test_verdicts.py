"""Verdicts both ways: known-wrong candidates fail, honest ones pass and are not accused, and a
speedup is only claimed when it is measured like for like and clears the noise floor."""

from __future__ import annotations

import numpy as np
import pytest

import workbench
from workbench import UsageError

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = pytest.mark.slow


def _one(reference: str, candidate: str, inputs, **options):
    res = workbench.optimize(
        reference,
        inputs=inputs,
        strategies=[],
        candidates=[candidate],
        namespace={"np": np},
        **options,
    )
    return res, res.candidates[0]


SIEVE = """
def primes(n):
    n = 40 * n + 10
    flags = [True] * n
    out = []
    for i in range(2, n):
        if flags[i]:
            out.append(i)
            for j in range(i * i, n, i):
                flags[j] = False
    return out
"""
FAST_SIEVE = """
import numpy as np

def primes(n):
    n = 40 * n + 10
    flags = np.ones(n, bool)
    flags[:2] = False
    for i in range(2, int(n ** 0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = False
    return np.flatnonzero(flags).tolist()
"""


def test_an_honest_candidate_returning_a_long_list_passes_and_is_not_accused():
    """Thousands of Python ints per call: encoding them is not mistaken for a patched timer."""
    res, cand = _one(SIEVE, FAST_SIEVE, lambda n: (n,), sizes=[1, 2, 3, 500])
    assert cand.status == "passed", cand.reason
    assert "do not add up" not in cand.reason and "tampering" not in cand.reason
    assert cand.speedup > 1


REFERENCE = """
def total(xs):
    s = 0.0
    for x in xs:
        s += x
    return np.array([s] * len(xs))
"""


def test_a_candidate_wrong_in_one_element_at_the_timing_size_fails():
    """Right on every small verification input, wrong in one element of a large output."""
    wrong = (
        "import numpy as np\ndef total(xs):\n    out = np.full(len(xs), np.sum(xs))\n"
        "    if len(xs) > 500:\n        out[-1] += 1e-3\n    return out\n"
    )
    _, cand = _one(
        REFERENCE,
        wrong,
        lambda n: (np.random.default_rng(n).random(n),),
        sizes=[2, 9, 31],
        timing_size=3000,
    )
    assert cand.status == "failed"
    assert "timed call" in cand.reason


RAISES = """
def mean(xs):
    if len(xs) == 0:
        raise ValueError("mean of nothing")
    return sum(xs) / len(xs)
"""


def _lists(n):
    return (list(range(n - 1)),)  # n=1 gives the empty list


@pytest.mark.parametrize(
    "body, status",
    [
        (
            "    if not xs:\n        raise ValueError('empty')\n    return sum(xs) / len(xs)\n",
            "passed",
        ),
        ("    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n", "failed"),
        ("    return sum(xs) / len(xs)\n", "failed"),  # ZeroDivisionError, not ValueError
    ],
)
def test_where_the_reference_raises_the_candidate_must_raise_the_same(body, status):
    res, cand = _one(RAISES, "def mean(xs):\n" + body, _lists, sizes=[1, 3, 8, 200])
    assert cand.status == status, cand.reason
    if status == "failed":
        assert "where your function raises ValueError" in cand.reason
        assert cand.mismatch is not None and cand.mismatch.expected.startswith("raises")
    assert any("candidates must raise the same exception" in n for n in res.notes)


def test_no_faster_candidate_means_no_best_and_accept_binds_nothing():
    cell = "def double(x):\n    return x * 2.0\n"
    res, cand = _one(cell, "def double(x):\n    return 2.0 * x\n", lambda n: (np.arange(float(n)),))
    assert cand.status == "passed"
    assert not cand.faster and res.best is None
    with pytest.raises(UsageError, match="significantly faster"):
        res.accept(namespace={})
    ns: dict = {}
    res.accept(cand.id, namespace=ns, new_cell=False)  # by id: any passed one
    assert callable(ns["double"])


def test_reference_and_candidate_are_timed_on_the_same_calls():
    slow = "def f(x):\n    return [v * 2 for v in x]\n"
    res, cand = _one(
        slow, "def f(x):\n    return list(map((2).__mul__, x))\n", lambda n: (list(range(n)),)
    )
    assert cand.status == "passed", cand.reason
    # the interval is a bootstrap of the paired medians: it holds the point estimate
    assert cand.speedup_low <= cand.speedup <= cand.speedup_high


NARROW = "import numpy as np\ndef total(xs):\n    return np.full(len(xs), np.sum(xs), dtype=np.float32)\n"


def test_a_narrower_float_result_fails_unless_allowed_and_is_then_flagged():
    inputs = lambda n: (np.random.default_rng(n).random(n),)  # noqa: E731
    _, cand = _one(REFERENCE, NARROW, inputs, sizes=[2, 9, 31])
    assert cand.status == "failed" and "lower precision" in cand.reason
    _, allowed = _one(REFERENCE, NARROW, inputs, sizes=[2, 9, 31], precision="any")
    assert allowed.status == "passed", allowed.reason
    assert allowed.lower_precision and "LOWER PRECISION" in allowed.reason


NOISY = "import numpy as np\ndef jitter(x):\n    return x + np.random.random(len(x))\n"


def test_a_non_deterministic_reference_is_seeded_alike_and_said_so():
    inputs = lambda n: (np.arange(float(n)),)  # noqa: E731
    same = "import numpy as np\ndef jitter(x):\n    return np.random.random(len(x)) + x\n"
    res, cand = _one(NOISY, same, inputs, sizes=[2, 9, 31])
    assert cand.status == "passed", cand.reason
    assert any("seeded alike" in n for n in res.notes)
    _, wrong = _one(NOISY, "def jitter(x):\n    return x + 0.5\n", inputs, sizes=[2, 9, 31])
    assert wrong.status == "failed"


def test_a_reference_random_beyond_seeding_gets_one_clear_line():
    urandom = "import os\ndef r(x):\n    return os.urandom(4)\n"
    with pytest.raises(UsageError, match="different results on the same input"):
        _one(urandom, urandom, lambda n: (n,), sizes=[1, 2])
