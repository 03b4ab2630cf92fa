"""The speedup and how sure we are of it.

The speedup is the ratio of the reference's median call time to the candidate's, both timed in
the same job on the same inputs. Its interval is a percentile bootstrap of that ratio (each
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
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(speedup, low, high): median ratio and its bootstrap interval."""
    ref, cand = np.asarray(reference, float), np.asarray(candidate, float)
    ratio = float(np.median(ref) / np.median(cand)) if np.median(cand) > 0 else float("inf")
    if len(ref) < 2 or len(cand) < 2:
        return ratio, 0.0, float("inf")
    rng = np.random.default_rng(seed)
    ref_medians = np.median(rng.choice(ref, (resamples, len(ref))), axis=1)
    cand_medians = np.median(rng.choice(cand, (resamples, len(cand))), axis=1)
    with np.errstate(divide="ignore"):
        ratios = ref_medians / cand_medians
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return ratio, float(low), float(high)


def noise_floor(median_seconds: float) -> float:
    return NOISE_FLOOR_FAST if median_seconds < FAST_CALL else NOISE_FLOOR
