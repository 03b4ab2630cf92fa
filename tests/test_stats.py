"""The speedup's statistics: the interval of a speedup measured in several processes a side
holds how much a time moves between processes, and short calls are spread over processes."""

from __future__ import annotations

import numpy as np

from workbench.optimizer._jobs import PROCESS_PAIRS, Program, TimingJob, TimingPlan
from workbench.optimizer._stats import speedup_interval
from workbench.sandbox import Limits
from workbench.sandbox._channel import dumps_by_value


def _calls(median: float, n: int, rng) -> list[float]:
    return list(median * (1 + 0.01 * rng.standard_normal(n)))


def test_one_process_a_side_gives_the_ratio_of_medians_and_a_tight_interval():
    rng = np.random.default_rng(0)
    ratio, low, high = speedup_interval(
        _calls(2.0, 100, rng), _calls(1.0, 100, rng), blocks=[10] * 10, runs=[100]
    )
    assert abs(ratio - 2.0) < 0.02 and low < ratio < high and high - low < 0.05


def test_processes_that_disagree_widen_the_interval_and_the_median_ratio_is_reported():
    rng = np.random.default_rng(1)
    # the same function in three processes a side: 0.9x, 1.0x and 1.12x of itself
    ref = _calls(1.0, 100, rng) + _calls(1.0, 100, rng) + _calls(1.0, 100, rng)
    cand = _calls(1 / 0.9, 100, rng) + _calls(1.0, 100, rng) + _calls(1 / 1.12, 100, rng)
    pooled = speedup_interval(ref, cand)
    ratio, low, high = speedup_interval(ref, cand, blocks=[10] * 30, runs=[100] * 3)
    assert abs(ratio - 1.0) < 0.01
    assert low <= 0.91 and high >= 1.1, (low, high)  # every process's ratio is possible
    assert pooled[2] - pooled[1] < high - low  # pooling the calls would have hidden it


def test_a_slow_moment_slows_a_whole_block_and_the_interval_counts_blocks_not_calls():
    rng = np.random.default_rng(2)
    # the same function; each of the candidate's 10 blocks ran a few % slower or faster than
    # the reference's block beside it (a moment of another clock speed or another process)
    moments = np.repeat(1 + 0.05 * rng.standard_normal(10), 20)
    ref = _calls(1.0, 200, rng)
    cand = list(np.asarray(_calls(1.0, 200, rng)) * moments)
    ratio, low, high = speedup_interval(ref, cand, blocks=[20] * 10, runs=[200])
    assert low < 1.0 < high
    # taken as 200 independent calls, the interval would be far too sure of itself
    independent = speedup_interval(ref, cand)
    assert 2 * (independent[2] - independent[1]) < high - low


def _job(body: str, budget: float) -> TimingJob:
    code = f"def f(x):\n{body}\n"
    program = Program("reference", code, "f", dumps_by_value({}))
    candidate = Program("candidate", code, "f", dumps_by_value({}))

    def make(n, call=None):
        return (list(range(n + (call or 0) % 3)),)

    plan = TimingPlan(size=50, budget=budget, max_repeats=40)
    return TimingJob(program, candidate, dumps_by_value(make), plan, Limits(timeout=60))


def test_short_calls_are_timed_in_several_processes_when_the_budget_allows():
    report = _job("    return sum(x)", budget=1.0).run()
    assert report.failure is None and report.fault is None, report
    assert len(report.reference.runs) == PROCESS_PAIRS == len(report.candidate.runs)
    assert sum(report.reference.runs) == len(report.reference.times)
    assert report.reference.blocks == report.candidate.blocks
    assert sum(report.reference.blocks) == len(report.reference.times)
    # a small budget: one process a side
    report = _job("    return sum(x)", budget=0.2).run()
    assert report.reference.runs == [len(report.reference.times)]


def test_long_calls_stay_in_one_process():
    report = _job("    import time\n    time.sleep(0.004)\n    return sum(x)", budget=1.0).run()
    assert report.failure is None and report.fault is None, report
    assert len(report.reference.runs) == 1


def test_a_seeded_builder_times_every_call_at_one_size_on_fresh_values():
    from workbench.optimizer._inputs import _MakeArgs

    def inputs(n, seed):
        return (np.random.default_rng(seed).integers(0, 100, n).tolist(),)

    # the reference insists on the size, and on never seeing the same values twice
    code = (
        "_seen, _warm = set(), []\n"
        "def f(x):\n"
        "    if len(x) == 49 and not _warm:  # the warm-up call, on a size never timed\n"
        "        _warm.append(1)\n"
        "    else:\n"
        "        assert len(x) == 50, len(x)\n"
        "    assert tuple(x) not in _seen, 'the same values twice'\n"
        "    _seen.add(tuple(x))\n"
        "    return sum(x)\n"
    )
    program = Program("reference", code, "f", dumps_by_value({}))
    plan = TimingPlan(size=50, budget=1.0, max_repeats=40)
    job = TimingJob(program, program, dumps_by_value(_MakeArgs(inputs)), plan, Limits(timeout=60))
    report = job.run()
    assert report.fault is None and report.failure is None, (report.fault, report.failure)
    assert len(report.reference.times) >= 5
