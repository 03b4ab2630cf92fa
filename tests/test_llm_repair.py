"""The repair turn, replayed from a recorded exchange: a first-round candidate that uses a
NumPy alias NumPy 2 removed fails; the next round sends it back with the error and the
failing input, and the embedded 0.5B model's recorded reply (``tests/data/record_repair.py``)
is verified as the candidate's child. That reply drops the alias but clips with
``x if x < hi else hi``, right for one element and wrong for an array: the replay shows the
verifier catching it on the next input (a scripted fix that passes is in
``test_llm_strategy.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import workbench
from workbench.llm import ReplayBackend, load_exchanges
from workbench.optimizer._task import task_from

DATA = Path(__file__).parent / "data"
RECORDING = DATA / "repair.json"
_spec = importlib.util.spec_from_file_location("record_repair", DATA / "record_repair.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)
SOURCE, make_inputs = recorder.SOURCE, recorder.make_inputs


def test_the_repair_turn_replays_with_the_error_and_the_failing_input():
    if not RECORDING.exists():
        pytest.fail(f"{RECORDING} is missing: run python tests/data/record_repair.py")
    first = recorder.broken_result()
    (broken,) = first.candidates
    assert broken.status == "error" and "no attribute 'float'" in broken.reason, broken.reason

    strategy = workbench.LLMStrategy(
        ReplayBackend(load_exchanges(RECORDING), cycle=False),
        paths=1,
        seed=7,
        max_tokens=recorder.MAX_TOKENS,
    )
    (spec,) = strategy.refine(task_from(SOURCE), first.candidates, round=1)
    assert spec.parent == broken.id and spec.round == 1
    assert spec.note.startswith(f"repairs {broken.id}")

    request = strategy.exchanges[-1].request
    assert (request.n, request.temperature) == (1, 0.2)  # one cheap, near-greedy reply
    prompt = request.messages[-1]["content"]
    assert "does not work yet" in prompt and "astype(np.float)" in prompt
    assert "The error: AttributeError: module 'numpy' has no attribute 'float'" in prompt
    assert "On the input: n=1:" in prompt
    assert "Where the original spends its time" not in prompt  # cheap: no profile, no plan
    assert "NumPy 2 removed np.float" in request.messages[0]["content"]

    (repaired,) = workbench.optimize(
        SOURCE, inputs=make_inputs, strategies=[], candidates=[spec.code], sizes=recorder.SIZES
    ).candidates
    assert "np.float)" not in repaired.code  # the alias is gone: n=1 passes now ...
    assert repaired.status == "error" and "truth value of an array" in repaired.reason
    assert "(on input n=5)" in repaired.reason  # ... and the verifier catches the array case
