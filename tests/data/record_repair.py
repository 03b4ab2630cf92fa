"""Record the exchange ``tests/test_llm_repair.py`` replays: a first round whose code uses a
NumPy alias NumPy 2 removed (scripted: the plan and the path's reply), then the repair turn
answered by the real embedded model.

    python tests/data/record_repair.py   # needs workbench[local]; writes repair.json beside it
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import workbench
from workbench.llm import Backend, Completion, LocalModel, RecordingBackend

HERE = Path(__file__).resolve().parent
SOURCE = """
def clipped_mean(x, hi):
    total = 0.0
    for v in x:
        total += v if v < hi else hi
    return total / len(x)
"""
MAX_TOKENS = 256  # the fix is a few lines; a small machine writes about 3 tokens/s under load
PLAN = "1. numpy-vectorise: clip with np.minimum and take the mean of the whole array."
BROKEN = (
    "```python\nimport numpy as np\n\ndef clipped_mean(x, hi):\n"
    "    return float(np.minimum(x, hi).astype(np.float).mean())\n```"
)


def make_inputs(n: int) -> tuple:
    return (np.random.default_rng(n).random(max(n, 1)), 0.5)


class FirstRoundScripted(Backend):
    """The plan and the path's code are scripted; everything else goes to ``model``."""

    kind = "scripted"

    def __init__(self, model: Backend) -> None:
        super().__init__()
        self.inner = model

    @property
    def model(self) -> str:
        return self.inner.model

    def _complete(self, request, *, on_token, cancel):
        prompt = request.messages[-1]["content"]
        if "DISTINCT strategies" in prompt:
            return [Completion(PLAN, "stop", 10, 10)]
        if "Strategy to follow:" in prompt:
            return [Completion(BROKEN, "stop", 10, 40)]
        return self.inner._complete(request, on_token=on_token, cancel=cancel)


def main() -> None:
    local = LocalModel(slots=1, ctx_per_slot=2048)
    print("starting the embedded model", flush=True)
    recorder = RecordingBackend(FirstRoundScripted(local.start()))
    try:
        strategy = workbench.LLMStrategy(recorder, paths=1, seed=7, max_tokens=MAX_TOKENS)
        strategy.watch(
            lambda event: print(event, flush=True) if event.get("kind") != "tokens" else None
        )
        res = workbench.optimize(
            SOURCE,
            inputs=make_inputs,
            strategies=[strategy],
            sizes=[1, 5, 50],
            rounds=2,
            patience=2,
        )
        for c in res.candidates:
            print(c.round, c.status, c.note, "|", c.reason[:120])
        recorder.save(HERE / "repair.json")
    finally:
        local.close()
    sys.exit(0 if any(c.round == 1 and c.status == "passed" for c in res.candidates) else 1)


if __name__ == "__main__":
    main()
