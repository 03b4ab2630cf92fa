"""The repair turn, replayed from a recorded exchange: a first-round candidate that uses a
NumPy alias NumPy 2 removed fails; the next round sends it back with the error and the
failing input, and the embedded model's recorded fix (``tests/data/record_repair.py``)
passes verification as the candidate's child."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import workbench
from workbench.llm import ReplayBackend, load_exchanges

DATA = Path(__file__).parent / "data"
RECORDING = DATA / "repair.json"
_spec = importlib.util.spec_from_file_location("record_repair", DATA / "record_repair.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)
SOURCE, make_inputs = recorder.SOURCE, recorder.make_inputs


def test_a_failed_candidate_is_repaired_from_a_replayed_exchange():
    if not RECORDING.exists():
        pytest.fail(f"{RECORDING} is missing: run python tests/data/record_repair.py")
    backend = ReplayBackend(load_exchanges(RECORDING), cycle=False)
    strategy = workbench.LLMStrategy(backend, paths=1, seed=7, max_tokens=recorder.MAX_TOKENS)
    res = workbench.optimize(
        SOURCE,
        inputs=make_inputs,
        strategies=[strategy],
        sizes=[1, 5, 50],
        rounds=2,
        patience=2,
    )
    (first,) = [c for c in res.candidates if c.round == 0]
    assert first.status == "error" and "float" in first.reason, first.reason
    (repaired,) = [c for c in res.candidates if c.round == 1]
    assert repaired.parent == first.id and repaired.note.startswith(f"repairs {first.id}")
    assert repaired.status == "passed", repaired.reason
    assert "np.float)" not in repaired.code

    request = strategy.exchanges[-1].request
    assert (request.n, request.temperature) == (1, 0.2)  # one cheap, near-greedy reply
    prompt = request.messages[-1]["content"]
    assert "does not work yet" in prompt and "astype(np.float)" in prompt
    assert "The error:" in prompt and "has no attribute 'float'" in prompt
    assert "On the input:" in prompt
    assert "NumPy 2 removed np.float" in request.messages[0]["content"]
