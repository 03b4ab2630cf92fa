"""Every red-team case holds: faults contained, no cheat passes with an inflated speedup."""

from __future__ import annotations

import pytest

from benchmarks.redteam_cases import CASES, run_case

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_holds(case):
    row = run_case(case, base_settings={"time_budget": 0.3, "timing_target": 0.05, "timeout": 60})
    assert row.held, f"{case.name}: {row.why} ({row.reason})"


def test_catalogue_covers_the_issue():
    names = {c.name for c in CASES}
    for needed in (
        "infinite_loop",
        "deep_recursion",
        "segfault",
        "memory_blowup",
        "sys_exit",
        "os_exit",
        "raise_systemexit",
        "keyboard_interrupt",
        "spawn_children",
        "runaway_thread",
        "close_stdout",
        "print_megabytes",
        "huge_file",
        "cache_by_identity",
        "cache_by_shape",
        "cache_by_values",
        "patch_perf_counter",
        "patch_gc",
        "patch_harness",
        "mutate_inputs",
        "return_generator",
        "return_input_view",
        "nan_everywhere",
        "right_only_small",
        "hardcode_shown_sizes",
        "read_secrets",
        "reach_user_namespace",
    ):
        assert needed in names


def test_suspicious_code_is_flagged():
    by_name = {c.name: c for c in CASES}
    from workbench.sandbox._scan import scan

    for name in (
        "segfault",
        "patch_perf_counter",
        "patch_gc",
        "rewrite_call_times",
        "cache_by_identity",
        "spawn_children",
        "runaway_thread",
    ):
        assert scan(by_name[name].code), f"{name} should raise a warning"
