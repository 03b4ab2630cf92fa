"""The speedup and how sure we are of it.

The speedup is the ratio of the reference's median call time to the candidate's, both timed in
the same job on the same inputs (calls shorter than a millisecond: in three processes a side,
and the median of the three ratios). Its interval is a percentile bootstrap of that ratio (each
side's calls resampled independently), the method pyperf and most benchmark tools use when
the distribution of call times is unknown. A candidate is called faster (or slower) only when
the whole interval clears 1 by the noise floor: 5 %, 10 % for calls under 100 µs, whose
timings move more with everything else the machine does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NOISE_FLOOR = 0.05
NOISE_FLOOR_FAST = 0.10  # calls under FAST_CALL seconds
FAST_CALL = 1e-4


def speedup_interval(
    reference: Sequence[float],
    candidate: Sequence[float],
    *,
    runs: tuple[Sequence[int], Sequence[int]] | None = None,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(speedup, low, high): median ratio and its bootstrap interval.

    ``runs`` (calls per process, reference and candidate) says the calls came from several
    processes a side: the speedup is then the median of the processes' ratios, and the
    bootstrap resamples processes before calls, so that the interval holds how much a time
    moves from one process to the next (two levels, as for any clustered sample)."""
    ref, cand = np.asarray(reference, float), np.asarray(candidate, float)
    if runs is not None and len(runs[0]) > 1 and len(runs[0]) == len(runs[1]):
        return _clustered(ref, cand, runs, confidence, resamples, seed)
    ratio = float(np.median(ref) / np.median(cand)) if np.median(cand) > 0 else float("inf")
    if len(ref) < 2 or len(cand) < 2:
        return ratio, 0.0, float("inf")
    ratios = _bootstrap_ratios(ref, cand, resamples, np.random.default_rng(seed))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return ratio, float(low), float(high)


def _bootstrap_ratios(ref, cand, resamples: int, rng) -> np.ndarray:
    ref_medians = np.median(rng.choice(ref, (resamples, len(ref))), axis=1)
    cand_medians = np.median(rng.choice(cand, (resamples, len(cand))), axis=1)
    with np.errstate(divide="ignore"):
        return ref_medians / cand_medians


def _clustered(ref, cand, runs, confidence, resamples, seed) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    ref_parts = np.split(ref, np.cumsum(runs[0])[:-1])
    cand_parts = np.split(cand, np.cumsum(runs[1])[:-1])
    with np.errstate(divide="ignore"):
        ratio = float(
            np.median([np.median(r) / np.median(c) for r, c in zip(ref_parts, cand_parts)])
        )
    # (processes, resamples): each process's bootstrap ratios; then processes drawn again
    per_process = np.stack(
        [_bootstrap_ratios(r, c, resamples, rng) for r, c in zip(ref_parts, cand_parts)]
    )
    drawn = rng.integers(0, len(ref_parts), (resamples, len(ref_parts)))
    ratios = np.median(per_process[drawn, np.arange(resamples)[:, None]], axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return ratio, float(min(low, ratio)), float(max(high, ratio))


def noise_floor(median_seconds: float) -> float:
    return NOISE_FLOOR_FAST if median_seconds < FAST_CALL else NOISE_FLOOR
