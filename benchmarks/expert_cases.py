"""Functions with an expert's hand-written fast version, for ``benchmarks/expert_suite.py``.

Two kinds: ``numpy`` (already-vectorized NumPy kernels; the experts rewrite them as serial Numba
loops that make no temporary arrays: on a 2-core machine shared with other work, threads lose) and ``python`` (everyday plain-Python code: strings into
dicts, list-building searches, grouping, a DataFrame row-wise apply; the experts use the
right data structure or algorithm). Each expert version was written by hand, independently
of the workbench, and returns exactly what the original returns (same types, same dtypes).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "numpy" | "python"
    source: str
    expert: str
    inputs: Callable[[int], tuple[Any, ...]]


CASES: dict[str, Case] = {}


def case(kind: str, inputs: Callable[[int], tuple[Any, ...]], source: str, expert: str) -> None:
    source, expert = textwrap.dedent(source).strip() + "\n", textwrap.dedent(expert).strip() + "\n"
    name = source.split("def ", 1)[1].split("(", 1)[0]
    CASES[name] = Case(name, kind, source, expert, inputs)


def _rng(n: int) -> np.random.Generator:
    return np.random.default_rng(1000 + n)


_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "cats",
    "sleep",
    "in",
    "warm",
    "sun",
]


def _text(n: int) -> str:
    rng = _rng(n)
    return " ".join(_WORDS[k] for k in rng.integers(0, len(_WORDS), max(n, 0)))


# -- vectorized NumPy kernels --------------------------------------------------------------

case(
    "numpy",
    lambda n: (_rng(n).standard_normal((max(n, 1), 3)),),
    """
    import numpy as np
    def pairwise_dist_vec(X):
        d = X[:, None, :] - X[None, :, :]
        return np.sqrt((d ** 2).sum(axis=-1))
    """,
    """
    import numba
    import numpy as np
    @numba.njit(fastmath=True)
    def pairwise_dist_vec(X):
        n, m = X.shape
        out = np.empty((n, n))
        for i in range(n):
            for j in range(n):
                s = 0.0
                for k in range(m):
                    t = X[i, k] - X[j, k]
                    s += t * t
                out[i, j] = np.sqrt(s)
        return out
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).random(n), _rng(n + 1).random(n), 0.3),
    """
    import numpy as np
    def gauss_kernel(a, b, s):
        return np.exp(-np.subtract.outer(a, b) ** 2 / (2 * s * s))
    """,
    """
    import math
    import numba
    import numpy as np
    @numba.njit
    def gauss_kernel(a, b, s):
        out = np.empty((a.shape[0], b.shape[0]))
        c = 1.0 / (2 * s * s)
        for i in range(a.shape[0]):
            for j in range(b.shape[0]):
                t = a[i] - b[j]
                out[i, j] = math.exp(-t * t * c)
        return out
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).standard_normal((max(n, 1), 64)),),
    """
    import numpy as np
    def logsumexp_rows(x):
        m = x.max(axis=1, keepdims=True)
        return m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
    """,
    """
    import math
    import numba
    import numpy as np
    @numba.njit
    def logsumexp_rows(x):
        out = np.empty(x.shape[0])
        for i in range(x.shape[0]):
            m = x[i, 0]
            for j in range(1, x.shape[1]):
                if x[i, j] > m:
                    m = x[i, j]
            s = 0.0
            for j in range(x.shape[1]):
                s += math.exp(x[i, j] - m)
            out[i] = m + math.log(s)
        return out
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).standard_normal(n),),
    """
    import numpy as np
    def poly3(x):
        return 3.0 * x ** 3 - 2.0 * x ** 2 + 0.5 * x - 5.0
    """,
    """
    import numpy as np
    def poly3(x):
        return ((3.0 * x - 2.0) * x + 0.5) * x - 5.0
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).standard_normal((max(n, 1), 32)),),
    """
    import numpy as np
    def standardize_rows(X):
        mu = X.mean(axis=1, keepdims=True)
        sd = X.std(axis=1, keepdims=True)
        return (X - mu) / sd
    """,
    """
    import math
    import numba
    import numpy as np
    @numba.njit
    def standardize_rows(X):
        n, m = X.shape
        out = np.empty_like(X)
        for i in range(n):
            mu = 0.0
            for j in range(m):
                mu += X[i, j]
            mu /= m
            var = 0.0
            for j in range(m):
                t = X[i, j] - mu
                var += t * t
            sd = math.sqrt(var / m)
            for j in range(m):
                out[i, j] = (X[i, j] - mu) / sd
        return out
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).random(n), _rng(n + 7).random(n), 0.01),
    """
    import numpy as np
    def count_close_pairs(a, b, eps):
        return int((np.abs(a[:, None] - b[None, :]) < eps).sum())
    """,
    """
    import numba
    @numba.njit
    def _count(a, b, eps):
        total = 0
        for i in range(a.shape[0]):
            for j in range(b.shape[0]):
                if abs(a[i] - b[j]) < eps:
                    total += 1
        return total
    def count_close_pairs(a, b, eps):
        return int(_count(a, b, eps))
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).standard_normal((max(n, 1), 4)), _rng(3).standard_normal((16, 4))),
    """
    import numpy as np
    def nearest_centroid(X, C):
        d = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=-1)
        return d.argmin(axis=1)
    """,
    """
    import numba
    import numpy as np
    @numba.njit
    def nearest_centroid(X, C):
        out = np.empty(X.shape[0], dtype=np.int64)
        for i in range(X.shape[0]):
            best, arg = np.inf, 0
            for c in range(C.shape[0]):
                s = 0.0
                for k in range(X.shape[1]):
                    t = X[i, k] - C[c, k]
                    s += t * t
                if s < best:
                    best, arg = s, c
            out[i] = arg
        return out
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).standard_normal(n), -0.5, 0.8, 2.0),
    """
    import numpy as np
    def clip_scale(x, lo, hi, k):
        y = np.clip(x, lo, hi)
        return np.where(y > 0, y * k, y / k) + 1.0
    """,
    """
    import numba
    import numpy as np
    @numba.njit
    def clip_scale(x, lo, hi, k):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            y = min(max(x[i], lo), hi)
            out[i] = (y * k if y > 0 else y / k) + 1.0
        return out
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).random(n), _rng(n + 2).random(n)),
    """
    import numpy as np
    def outer_min_sum(a, b):
        return np.minimum.outer(a, b).sum(axis=1)
    """,
    """
    import numba
    import numpy as np
    @numba.njit
    def outer_min_sum(a, b):
        out = np.empty(a.shape[0])
        for i in range(a.shape[0]):
            s = 0.0
            for j in range(b.shape[0]):
                s += min(a[i], b[j])
            out[i] = s
        return out
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).standard_normal(n), -0.5, 1.5),
    """
    import numpy as np
    def masked_mean(x, lo, hi):
        sel = x[(x > lo) & (x < hi)]
        return float(sel.mean()) if sel.size else 0.0
    """,
    """
    import numba
    @numba.njit
    def _masked(x, lo, hi):
        s, k = 0.0, 0
        for v in x:
            if lo < v < hi:
                s += v
                k += 1
        return s, k
    def masked_mean(x, lo, hi):
        s, k = _masked(x, lo, hi)
        return float(s / k) if k else 0.0
    """,
)

case(
    "numpy",
    lambda n: (_rng(n).random((max(n, 3), max(n, 3))),),
    """
    import numpy as np
    def jacobi_vec(u):
        out = u.copy()
        out[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
        return out
    """,
    """
    import numba
    @numba.njit
    def jacobi_vec(u):
        n, m = u.shape
        out = u.copy()
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        return out
    """,
)

# -- plain-Python code ----------------------------------------------------------------------

case(
    "python",
    lambda n: (_text(n),),
    """
    def word_count(text):
        counts = {}
        for word in text.split():
            if word in counts:
                counts[word] += 1
            else:
                counts[word] = 1
        return counts
    """,
    """
    from collections import Counter
    def word_count(text):
        return dict(Counter(text.split()))
    """,
)

case(
    "python",
    lambda n: (_text(n),),
    """
    def bigram_counts(text):
        words = text.split()
        counts = {}
        for i in range(len(words) - 1):
            key = words[i] + " " + words[i + 1]
            counts[key] = counts.get(key, 0) + 1
        return counts
    """,
    """
    from collections import Counter
    def bigram_counts(text):
        words = text.split()
        return dict(Counter(map(" ".join, zip(words, words[1:]))))
    """,
)

case(
    "python",
    lambda n: (max(n, 2),),
    """
    def primes_below(n):
        primes = []
        for k in range(2, n):
            is_prime = True
            for p in primes:
                if p * p > k:
                    break
                if k % p == 0:
                    is_prime = False
                    break
            if is_prime:
                primes.append(k)
        return primes
    """,
    """
    import numpy as np
    def primes_below(n):
        if n < 3:
            return []
        sieve = np.ones(n, dtype=bool)
        sieve[:2] = False
        for p in range(2, int(n ** 0.5) + 1):
            if sieve[p]:
                sieve[p * p :: p] = False
        return np.flatnonzero(sieve).tolist()
    """,
)

case(
    "python",
    lambda n: (
        [(int(k), float(v)) for k, v in zip(_rng(n).integers(0, 50, n), _rng(n).random(n))],
    ),
    """
    def group_sums(pairs):
        groups = {}
        for key, value in pairs:
            if key not in groups:
                groups[key] = []
            groups[key].append(value)
        return {key: sum(values) for key, values in groups.items()}
    """,
    """
    def group_sums(pairs):
        sums = {}
        get = sums.get
        for key, value in pairs:
            sums[key] = get(key, 0) + value
        return sums
    """,
)

case(
    "python",
    lambda n: (_rng(n).integers(0, 4 * max(n, 1), n).tolist(), 2 * max(n, 1)),
    """
    def count_pairs_with_sum(xs, target):
        count = 0
        for i in range(len(xs)):
            for j in range(i + 1, len(xs)):
                if xs[i] + xs[j] == target:
                    count += 1
        return count
    """,
    """
    def count_pairs_with_sum(xs, target):
        seen = {}
        count = 0
        for x in xs:
            count += seen.get(target - x, 0)
            seen[x] = seen.get(x, 0) + 1
        return count
    """,
)

case(
    "python",
    lambda n: (_text(n)[: max(n, 1)], _text(n + 1)[: max(n, 1)]),
    """
    def edit_distance(a, b):
        d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(len(a) + 1):
            d[i][0] = i
        for j in range(len(b) + 1):
            d[0][j] = j
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                cost = 0 if a[i - 1] == b[j - 1] else 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
        return d[len(a)][len(b)]
    """,
    """
    import numba
    import numpy as np
    @numba.njit
    def _dist(a, b):
        prev = np.arange(b.shape[0] + 1)
        cur = np.empty_like(prev)
        for i in range(1, a.shape[0] + 1):
            cur[0] = i
            for j in range(1, b.shape[0] + 1):
                cost = 0 if a[i - 1] == b[j - 1] else 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            prev, cur = cur, prev
        return prev[b.shape[0]]
    def edit_distance(a, b):
        codes = lambda s: np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32)
        return int(_dist(codes(a), codes(b)))
    """,
)

case(
    "python",
    lambda n: (min(max(n, 0), 25),),
    """
    def fib(n):
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)
    """,
    """
    def fib(n):
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a
    """,
)

case(
    "python",
    lambda n: (_rng(n).integers(0, max(n // 2, 1), n).tolist(),),
    """
    def dedupe(xs):
        out = []
        for x in xs:
            if x not in out:
                out.append(x)
        return out
    """,
    """
    def dedupe(xs):
        return list(dict.fromkeys(xs))
    """,
)

case(
    "python",
    lambda n: ({"a": _rng(n).random(n), "b": _rng(n + 1).random(n), "c": _rng(n + 2).random(n)},),
    """
    import pandas as pd
    def row_score(cols):
        df = pd.DataFrame(cols)
        return df.apply(lambda r: r["a"] * r["b"] + r["c"] if r["a"] > 0.5 else r["c"], axis=1).to_numpy()
    """,
    """
    import numpy as np
    def row_score(cols):
        a, b, c = (np.asarray(cols[k], dtype=float) for k in ("a", "b", "c"))
        return np.where(a > 0.5, a * b + c, c)
    """,
)

case(
    "python",
    lambda n: (_rng(n).standard_normal(n).tolist(),),
    """
    def running_max(xs):
        out = []
        for i in range(len(xs)):
            out.append(max(xs[: i + 1]))
        return out
    """,
    """
    from itertools import accumulate
    def running_max(xs):
        return list(accumulate(xs, max))
    """,
)

case(
    "python",
    lambda n: (max(n, 1),),
    """
    def collatz_longest(n):
        best, arg = 0, 1
        for start in range(1, n + 1):
            k, steps = start, 0
            while k != 1:
                k = k // 2 if k % 2 == 0 else 3 * k + 1
                steps += 1
            if steps > best:
                best, arg = steps, start
        return arg
    """,
    """
    import numba
    @numba.njit
    def _longest(n):
        best, arg = 0, 1
        for start in range(1, n + 1):
            k, steps = start, 0
            while k != 1:
                k = k // 2 if k % 2 == 0 else 3 * k + 1
                steps += 1
            if steps > best:
                best, arg = steps, start
        return arg
    def collatz_longest(n):
        return int(_longest(n))
    """,
)

case(
    "python",
    lambda n: ([w for w in _text(n).split()],),
    """
    def anagram_groups(words):
        groups = {}
        for w in words:
            key = "".join(sorted(w))
            found = False
            for k in groups:
                if k == key:
                    groups[k].append(w)
                    found = True
                    break
            if not found:
                groups[key] = [w]
        return groups
    """,
    """
    def anagram_groups(words):
        groups = {}
        for w in words:
            key = "".join(sorted(w))
            if key in groups:
                groups[key].append(w)
            else:
                groups[key] = [w]
        return groups
    """,
)
