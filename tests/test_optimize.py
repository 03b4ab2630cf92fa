"""%%optimize end to end: verified faster candidates, and verification that catches bugs."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import workbench

PAIRWISE = """
import numpy as np
def pairwise_dist(X):
    n = X.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = np.sqrt(((X[i] - X[j]) ** 2).sum())
    return out
"""


def make_points(n):
    rng = np.random.default_rng(n)
    return (rng.standard_normal((n, 3)),)


SCALE = """
import numpy as np
def scale(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i] + 1.0
    return out
"""


def make_vector(n):
    return (np.random.default_rng(n).standard_normal(n),)


def test_numba_variants_are_verified_and_timed(optimize_via):
    res = optimize_via(PAIRWISE, inputs=make_points, sizes=[1, 2, 5, 40])
    assert isinstance(res, workbench.OptimizeResult)
    strategies = {c.strategy for c in res.candidates}
    assert {"numba.njit", "numba.fastmath", "numba.parallel"} <= strategies
    assert all(c.status == "passed" for c in res.candidates), [c.reason for c in res.candidates]
    best = res.best
    assert best is not None and best.speedup > 0
    assert best.timing.repeats >= 5 and best.timing.size == 40
    assert best.compile_time > 0  # the first call compiles
    assert res.reference.timing.median > 0
    # the user's namespace is untouched until accept()
    assert "pairwise_dist" not in res.namespace or not hasattr(
        res.namespace["pairwise_dist"], "py_func"
    )


def test_prange_race_is_not_proposed_and_caught_by_verification(optimize_via):
    prefix = """
    import numpy as np
    def running_sum(x):
        out = np.empty_like(x)
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i]
            out[i] = s
        return out
    """
    # the racy prange version, as a model or a user might write it
    racy = textwrap.dedent(prefix).replace("range(", "numba.prange(")
    racy = "import numba\n" + racy.replace(
        "def running_sum", "@numba.njit(parallel=True)\ndef running_sum"
    )
    res = optimize_via(prefix, inputs=make_vector, sizes=[3, 50, 200], candidates=[racy])
    by = {c.strategy: c for c in res.candidates}
    assert by["numba.njit"].status == "passed"
    assert "numba.parallel" not in by  # the static check saw the carried s
    assert any("carries s from one iteration to the next" in note for note in res.notes), res.notes
    assert by["user"].status == "failed"
    assert "expected" in by["user"].reason


@pytest.mark.parametrize(
    ("candidate", "words"),
    [
        (  # off by one: the last element is never written
            "import numpy as np\ndef scale(x):\n    out = np.zeros_like(x)\n"
            "    for i in range(x.shape[0] - 1):\n        out[i] = 2.0 * x[i] + 1.0\n    return out\n",
            ["result[", "expected"],
        ),
        (  # wrong dtype: integers instead of floats
            "import numpy as np\ndef scale(x):\n    return (2.0 * x + 1.0).astype(np.int64)\n",
            ["dtype int64", "expected float64"],
        ),
        (  # mutates its input
            "import numpy as np\ndef scale(x):\n    x *= 2.0\n    x += 1.0\n    return x.copy()\n",
            ["changes its argument 1"],
        ),
        (  # NaN where the reference has numbers
            "import numpy as np\ndef scale(x):\n    out = 2.0 * x + 1.0\n    out[0] = np.nan\n    return out\n",
            ["NaN"],
        ),
        (  # returns a view of its input
            "import numpy as np\ndef scale(x):\n    x[:] = 2.0 * x + 1.0\n    return x\n",
            ["argument 1"],
        ),
    ],
    ids=["off-by-one", "wrong-dtype", "mutates-input", "nan", "returns-view"],
)
def test_verification_catches(optimize_via, candidate, words):
    res = optimize_via(
        SCALE, inputs=make_vector, candidates=[candidate], strategies=[], sizes=[1, 4, 30]
    )
    (cand,) = res.candidates
    assert cand.status == "failed", cand.reason
    for word in words:
        assert word in cand.reason
    assert res.best is None


def test_correct_user_candidate_passes_and_accept_binds_it(optimize_via, shell):
    fast = "import numpy as np\ndef scale(x):\n    return 2.0 * x + 1.0\n"
    res = optimize_via(
        SCALE, inputs=make_vector, candidates=[fast], strategies=[], sizes=[1, 4, 300]
    )
    (cand,) = res.candidates
    assert cand.status == "passed", cand.reason
    assert cand.strategy == "user"
    before = shell.user_ns.get("scale")
    chosen = res.accept()
    assert chosen is cand
    assert shell.user_ns["scale"] is not before
    x = np.arange(4.0)
    np.testing.assert_allclose(shell.user_ns["scale"](x), 2 * x + 1)
    assert workbench.load_result(res.run_id).accepted == cand.id


def test_user_tests_run_against_every_candidate(optimize_via):
    def test_zero_maps_to_one(scale):
        assert scale(np.zeros(3))[0] == 1.0

    def test_global_name():  # calls the candidate by its name, like a notebook test
        assert scale(np.ones(2))[1] == 3.0  # noqa: F821

    wrong_only_at_zero = (
        "import numpy as np\ndef scale(x):\n    out = 2.0 * x + 1.0\n"
        "    return np.where(x == 0, 0.0, out)\n"
    )
    res = optimize_via(
        SCALE,
        inputs=make_vector,
        tests=[test_zero_maps_to_one, test_global_name],
        candidates=[wrong_only_at_zero, "def scale(x):\n    return 2.0 * x + 1.0\n"],
        strategies=[],
        sizes=[1, 5],
    )
    bad, good = res.candidates
    assert bad.status == "failed" and "test_zero_maps_to_one" in bad.reason
    assert good.status == "passed", good.reason
    assert res.reference.tests == {"test_zero_maps_to_one": None, "test_global_name": None}


def test_unsupported_code_gives_numba_error_shortened(optimize_via):
    cell = """
    def count_words(text):
        counts = {}
        for word in text.split():
            counts[word] = counts.get(word, 0) + 1
        return sorted(counts.items())
    """
    res = optimize_via(cell, inputs=[("a b a c",), ("x y x x",)], strategies=["numba"])
    assert res.candidates and all(c.status == "error" for c in res.candidates)
    reason = res.candidates[0].reason
    assert reason.startswith("TypingError") and len(reason) <= 300 and "\n" not in reason


def test_list_of_argument_tuples_as_inputs():
    cell = "def add(a, b):\n    return a + b\n"
    res = workbench.optimize(
        cell,
        inputs=[(1, 2), (3.5, 4.0)],
        strategies=[],
        candidates=["def add(a, b):\n    return b + a\n"],
    )
    assert res.candidates[0].status == "passed"
    assert res.reference.sizes == ["inputs[0]", "inputs[1]"]


def test_result_renders_as_html_and_text():
    res = workbench.optimize(
        SCALE,
        inputs=make_vector,
        strategies=[],
        sizes=[2, 50],
        candidates=["def scale(x):\n    return 2.0 * x + 1.0\n"],
    )
    html = res._repr_html_()
    assert "<table" in html and "passed" in html and "scale" in html
    text = repr(res)
    assert "reference" in text and res.candidates[0].id in text


def test_target_cupy_produces_a_cupy_candidate_or_says_why(optimize_via):
    cell = """
    import numpy as np
    def softplus_sum(x):
        return np.log1p(np.exp(x)).sum(axis=1)
    """
    res = optimize_via(
        cell,
        inputs=lambda n: (np.random.default_rng(n).standard_normal((n, 4)),),
        strategies=None,
        target="cupy",
        sizes=[1, 3, 40],
    )
    (cand,) = res.candidates
    assert cand.strategy == "cupy" and "cp." in cand.code and "asnumpy" in cand.code
    from workbench.gpu._device import detect_device

    if "cupy" in detect_device().targets and detect_device().has_device:
        assert cand.status == "passed", cand.reason
    else:  # no device here: listed, not run, and the notes say why
        assert cand.status == "error" and cand.reason.startswith(
            "not run here: --target cupy needs a CUDA device"
        )
        assert any("needs a CUDA device" in n for n in res.notes)


def test_peak_memory_counts_what_a_call_allocates_even_when_memory_is_reused():
    """A candidate that builds an 8 MB temporary shows about 8 MB more, although after the
    first calls the allocator hands it memory it already holds."""
    source = "def total(xs):\n    return float(xs.sum())\n"
    wasteful = (
        "import numpy as np\ndef total(xs):\n"
        "    scratch = np.ones(1_000_000)  # 8 MB it did not need\n"
        "    return float(xs.sum() + scratch.sum() - 1_000_000)\n"
    )
    result = workbench.optimize(
        source,
        inputs=lambda n: (np.arange(n, dtype=float),),
        strategies=[],
        candidates=[wasteful],
        sizes=[3, 100],
        time_budget=0.1,
        namespace={},
    )
    (candidate,) = result.candidates
    assert candidate.status == "passed", candidate.reason
    assert candidate.peak_memory >= 7.5e6
    assert result.reference.timing.peak_memory < 1e6
