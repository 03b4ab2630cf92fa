"""Strategies turn a task into candidate programs."""

from ._base import CandidateSpec, Strategy, resolve_strategies

__all__ = ["CandidateSpec", "Strategy", "resolve_strategies"]
