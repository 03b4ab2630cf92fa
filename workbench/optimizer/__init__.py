"""``optimize``: a function in, verified and timed candidates out (engine, task, strategies,
verification, timing statistics, line profile, results)."""

from ._engine import load_result, optimize
from ._options import Refinement, RunControl, Verification
from ._results import CandidateResult, HotLine, Mismatch, OptimizeResult, Reference, Timing
from .strategies import CandidateSpec, LLMStrategy, NumbaStrategy, Strategy

__all__ = [
    "CandidateResult",
    "CandidateSpec",
    "HotLine",
    "LLMStrategy",
    "Mismatch",
    "NumbaStrategy",
    "OptimizeResult",
    "Reference",
    "Refinement",
    "RunControl",
    "Strategy",
    "Timing",
    "Verification",
    "load_result",
    "optimize",
]
