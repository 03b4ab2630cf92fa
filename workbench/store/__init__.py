"""Sessions: every run, candidate, label and model exchange in one SQLite database, and the
run handle through which a result is accepted and refined."""

from ._runs import Refiner, RunHandle, offer_next_cell
from ._sessions import SessionStore

__all__ = ["Refiner", "RunHandle", "SessionStore", "offer_next_cell"]
