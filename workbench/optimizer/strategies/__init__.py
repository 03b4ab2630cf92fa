"""Strategies turn a task into candidate programs."""

from ._base import CandidateSpec, Strategy, resolve_strategies
from ._llm import LLMStrategy
from ._numba import NumbaStrategy

__all__ = ["CandidateSpec", "LLMStrategy", "NumbaStrategy", "Strategy", "resolve_strategies"]
