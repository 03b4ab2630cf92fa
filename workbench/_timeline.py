"""Named phases: an NVTX range for Nsight Systems and an entry in an in-memory timeline.

``with phase("verify", candidate=3): ...`` pushes an NVTX range in the ``workbench`` domain
when the ``nvtx`` package is installed (a no-op otherwise; with no profiler attached NVTX
itself costs next to nothing) and appends ``(name, start, end, attributes)`` to a
``Timeline`` that the session can store for the UI. Times are wall-clock seconds since the
epoch so entries from worker processes line up with the parent's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

DOMAIN = "workbench"

# Nsight colours per phase of a round; other names get the default.
_COLORS = {
    "generate": "purple",
    "compile": "orange",
    "verify": "green",
    "time": "blue",
    "transfer": "yellow",
    "profile": "cyan",
}


class TimelineEntry(NamedTuple):
    name: str
    start: float
    end: float
    attributes: dict[str, Any]

    @property
    def duration(self) -> float:
        return self.end - self.start


class Timeline:
    """A thread-safe list of finished phases, oldest first."""

    def __init__(self) -> None:
        self._entries: list[TimelineEntry] = []
        self._lock = threading.Lock()

    def add(self, entry: TimelineEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[TimelineEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def records(self) -> list[dict[str, Any]]:
        """Plain dicts, for storing in a session or sending to a view."""
        return [entry._asdict() for entry in self.entries]

    def __len__(self) -> int:
        return len(self._entries)


#: the process-wide timeline used when no other is given
TIMELINE = Timeline()

_domain: Any = None
_nvtx_checked = False


def nvtx_available() -> bool:
    """The ``nvtx`` package is installed (ranges reach Nsight when it is attached)."""
    return _get_domain() is not None


def _get_domain() -> Any:
    global _domain, _nvtx_checked
    if not _nvtx_checked:
        _nvtx_checked = True
        try:
            import nvtx
        except ImportError:
            _domain = None
        else:
            _domain = nvtx.get_domain(DOMAIN)
    return _domain


@contextmanager
def phase(
    name: str, *, timeline: Timeline | None = None, record: bool = True, **attributes: Any
) -> Iterator[dict[str, Any]]:
    """Time a named phase; the yielded dict can take attributes learnt inside the block.

    ``record=False`` keeps the NVTX range but leaves the timeline alone (for ranges around
    every timed trial, which would flood the UI).
    """
    domain = _get_domain()
    attrs = dict(attributes)
    if domain is not None:
        color = _COLORS.get(name.split(":", 1)[0], "white")
        domain.push_range(message=name, color=color)
    start = time.time()
    try:
        yield attrs
    except BaseException as exc:
        attrs.setdefault("error", type(exc).__name__)
        raise
    finally:
        end = time.time()
        if domain is not None:
            domain.pop_range()
        if record:
            (TIMELINE if timeline is None else timeline).add(TimelineEntry(name, start, end, attrs))
