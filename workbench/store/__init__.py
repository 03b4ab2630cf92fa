"""Sessions: every run, candidate, label and model exchange in one SQLite database."""

from ._sessions import SessionStore

__all__ = ["SessionStore"]
