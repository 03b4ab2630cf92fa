"""Record the exchange ``tests/test_llm_repair.py`` replays: a candidate whose code uses a
NumPy alias NumPy 2 removed fails verification, and the LLM strategy's repair turn for it is
answered by the real embedded model.

    python tests/data/record_repair.py   # needs workbench[local]; writes repair.json beside it
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import workbench
from workbench.llm import LocalModel, RecordingBackend
from workbench.optimizer._task import task_from

HERE = Path(__file__).resolve().parent
SOURCE = """
def clipped_mean(x, hi):
    total = 0.0
    for v in x:
        total += v if v < hi else hi
    return total / len(x)
"""
MAX_TOKENS = 256  # the fix is a few lines; a small machine writes about 3 tokens/s under load
BROKEN = (
    "import numpy as np\n\ndef clipped_mean(x, hi):\n"
    "    return float(np.minimum(x, hi).astype(np.float).mean())\n"
)
SIZES = [1, 5, 50]


def make_inputs(n: int) -> tuple:
    return (np.random.default_rng(n).random(max(n, 1)), 0.5)


def broken_result(**options):
    """The first round: the broken candidate, verified (it fails on the first input)."""
    return workbench.optimize(
        SOURCE, inputs=make_inputs, strategies=[], candidates=[BROKEN], sizes=SIZES, **options
    )


def main() -> None:
    first = broken_result()
    local = LocalModel(slots=1, ctx_per_slot=2048)
    recorder = RecordingBackend(local)
    try:
        strategy = workbench.LLMStrategy(recorder, paths=1, seed=7, max_tokens=MAX_TOKENS)
        (spec,) = strategy.refine(task_from(SOURCE), first.candidates, round=1)
        recorder.save(HERE / "repair.json")
    finally:
        local.close()
    repaired = workbench.optimize(
        SOURCE, inputs=make_inputs, strategies=[], candidates=[spec.code], sizes=SIZES
    ).candidates[0]
    print(spec.note, "->", repaired.status, repaired.reason, sep="\n")


if __name__ == "__main__":
    main()
