"""The speedup and how sure we are of it.

The reference and the candidate are timed in alternating blocks of calls on the same inputs,
so a block of one and the block of the other next to it ran under the same conditions (clock
speed, what else the machine was doing). The speedup is the median, over those pairs of
blocks, of the ratio of their median call times: whatever slows the machine for a while
slows both blocks of a pair and cancels. Calls shorter than a millisecond are timed in three
processes a side, and the speedup is then the median of the processes' speedups.

The interval is a percentile bootstrap, the method pyperf and most benchmark tools use when the
distribution of times is unknown, drawn at the level where the measurements are independent:
processes, then pairs of blocks within them (calls within a block are not independent: one
slow moment slows all of them). A candidate is called faster (or slower) only when the whole
interval clears 1 by the noise floor: 5 %, 10 % for calls under 100 µs, whose timings move
more with everything else the machine does.
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
    blocks: Sequence[int] | None = None,
    runs: Sequence[int] | None = None,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(speedup, low, high).

    ``blocks``: how many calls each block had (the same for both sides, block i of one side
    beside block i of the other); ``runs``: how many calls each process made. Without
    ``blocks`` (times from anywhere else) the calls are taken as independent: the ratio of
    the medians, each side's calls resampled on their own."""
    ref, cand = np.asarray(reference, float), np.asarray(candidate, float)
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    if blocks is None or len(ref) != len(cand) or sum(blocks) != len(ref):
        ratio = float(np.median(ref) / np.median(cand)) if np.median(cand) > 0 else float("inf")
        if len(ref) < 2 or len(cand) < 2:
            return ratio, 0.0, float("inf")
        ref_medians = np.median(rng.choice(ref, (resamples, len(ref))), axis=1)
        cand_medians = np.median(rng.choice(cand, (resamples, len(cand))), axis=1)
        with np.errstate(divide="ignore"):
            low, high = np.quantile(ref_medians / cand_medians, [alpha, 1 - alpha])
        return ratio, float(low), float(high)

    ends = np.cumsum(blocks)[:-1]
    with np.errstate(divide="ignore"):
        pair_ratios = np.array(
            [np.median(r) / np.median(c) for r, c in zip(np.split(ref, ends), np.split(cand, ends))]
        )
    # the pairs of each process
    per_run = np.cumsum([0, *blocks])
    starts = np.searchsorted(per_run, np.cumsum([0, *(runs or [len(ref)])])[:-1])
    processes = [p for p in np.split(pair_ratios, starts[1:]) if len(p)]
    ratio = float(np.median([np.median(p) for p in processes]))
    if sum(len(p) for p in processes) < 2:
        return ratio, 0.0, float("inf")
    # (processes, resamples): each process's pairs drawn again; then the processes drawn again
    per_process = np.stack(
        [np.median(rng.choice(p, (resamples, len(p))), axis=1) for p in processes]
    )
    drawn = rng.integers(0, len(processes), (resamples, len(processes)))
    ratios = np.median(per_process[drawn, np.arange(resamples)[:, None]], axis=1)
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return ratio, float(min(low, ratio)), float(max(high, ratio))


def noise_floor(median_seconds: float) -> float:
    return NOISE_FLOOR_FAST if median_seconds < FAST_CALL else NOISE_FLOOR
