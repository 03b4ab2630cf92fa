"""``generate``: implementations and tests from a spec, the pass matrix, consistency rankers
(MaxPass, MBR-exec, CodeT, B4) and the labeller that asks the most informative test."""

from ._engine import GenerateResult, generate, load_generate_result
from ._passmatrix import PassMatrix, build_pass_matrix
from ._ranking import RANKERS, Ranking

__all__ = [
    "RANKERS",
    "GenerateResult",
    "PassMatrix",
    "Ranking",
    "build_pass_matrix",
    "generate",
    "load_generate_result",
]
