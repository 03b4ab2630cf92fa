"""Hot lines: the worker's line profile of one call, mapped onto the program's source text.

The worker (``_worker._line_profile``) runs the program once more after its timed calls under
``line_profiler`` and reports per-line hits and seconds by line number; the text of each line
comes from the code the kernel sent, never from the worker (whose messages are untrusted).
"""

from __future__ import annotations

import math
from typing import Any

from ._results import HotLine

#: the timing command's ``profile`` options: aim one profiled call at ``target`` seconds
#: (unprofiled; a line profiler slows pure-Python loops several times) and skip it when even
#: the smaller call takes over ``max_seconds``
PROFILE_OPTIONS = {"target": 0.05, "max_seconds": 0.5}
MAX_HOT_LINES = 40  # kept per program (a prompt shows a few)


def hot_lines(profile: dict[str, Any] | None, code: str) -> tuple[list[HotLine], str]:
    """Hot lines (most time first) and a note on what could not be profiled."""
    if not isinstance(profile, dict):
        return [], ""
    note = _text(profile.get("note"))
    compiled = [_text(n) for n in _list(profile.get("compiled"))][:10]
    source = code.splitlines()
    entry = _list(profile.get("entry"))
    rows: list[tuple[int, int, float, str]] = []
    entry_total = 0.0
    for function in _list(profile.get("functions"))[:100]:
        if not isinstance(function, dict):
            continue
        name = _text(function.get("name"))[:80]
        is_entry = len(entry) == 2 and [name, function.get("first")] == list(entry)
        for line in _list(function.get("lines"))[:10_000]:
            try:
                lineno, hits, seconds = int(line[0]), int(line[1]), float(line[2])
            except (TypeError, ValueError, IndexError):
                continue
            if not (1 <= lineno <= len(source)) or not math.isfinite(seconds) or seconds < 0:
                continue
            if is_entry:
                entry_total += seconds
            if hits > 0:
                rows.append((lineno, hits, seconds, name))
    total = entry_total or sum(r[2] for r in rows)
    rows.sort(key=lambda r: (-r[2], r[0]))
    lines = [
        HotLine(
            lineno=lineno,
            share=min(1.0, seconds / total) if total > 0 else 0.0,
            text=source[lineno - 1].strip(),
            hits=hits,
            seconds=seconds,
            function=name,
        )
        for lineno, hits, seconds, name in rows[:MAX_HOT_LINES]
    ]
    if compiled and not note:
        note = f"compiled with Numba, not line-profiled: {', '.join(compiled)}"
    return lines, note


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value[:300] if isinstance(value, str) else ""
