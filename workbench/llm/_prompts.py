"""Prompt building blocks: pure functions that return chat message lists.

- :func:`multipath_messages` asks the model to reformulate an optimization task into K
  distinct strategies (VisPath); :func:`parse_paths` reads the reply, however messy, and
  tops it up with :func:`default_paths` so there are always K distinct paths.
- :func:`path_code_messages` asks for the code of one path.
- :func:`refine_messages` carries what happened to a candidate (failing inputs with expected
  vs actual, the traceback, timings, hot lines, an extraction failure) and the user's hint.
- The first-round prompts show the original's hot lines (where a line profile of one call
  says its time goes), when the workbench has them.
Everything long is trimmed so a prompt stays within a small model's context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the optimizer's data type; the prompts only read its fields
    from ..optimizer import HotLine


SYSTEM_OPTIMIZER = (
    "You are an expert in fast numerical Python: NumPy, Numba and CuPy. You rewrite Python "
    "functions so they run faster while returning exactly the same results (same values, "
    "dtypes and shapes, same handling of edge cases, inputs left unchanged)."
)

_CODE_RULES = (
    "Reply with ONE ```python block holding the complete code: the imports, any helper "
    "functions, and `def {entry}(...)` with the same parameters as the original. No example "
    "calls, no tests, no explanations after the block."
)


@dataclass(frozen=True)
class ReasoningPath:
    """One strategy for the task: a short name and what to do."""

    name: str
    approach: str

    def label(self) -> str:
        return f"{self.name}: {self.approach}"


_DEFAULT_PATHS = (
    ReasoningPath(
        "numpy-vectorise",
        "Replace Python loops with whole-array NumPy operations (broadcasting, ufuncs, "
        "cumulative and reduction functions), avoiding Python-level iteration.",
    ),
    ReasoningPath(
        "numba-parallel",
        "Compile the loops with Numba @njit(parallel=True), using prange for "
        "independent iterations and typed NumPy arrays instead of Python lists.",
    ),
    ReasoningPath(
        "better-algorithm",
        "Lower the algorithmic complexity: avoid recomputation, use sorting, prefix sums, "
        "hashing or an incremental update instead of the brute-force approach.",
    ),
    ReasoningPath(
        "numba-serial",
        "Compile a straightforward loop with Numba @njit, "
        "preallocating the output and keeping memory access contiguous.",
    ),
    ReasoningPath(
        "memory-layout",
        "Cut allocations and copies: work in place on preallocated buffers, use contiguous "
        "arrays and suitable dtypes, and hoist invariant work out of loops.",
    ),
)
_GPU_PATH = ReasoningPath(
    "cupy-gpu",
    "Move the array work to the GPU with CuPy (cupy arrays, elementwise/reduction kernels), "
    "copying inputs to the device once and returning results as NumPy arrays.",
)


def default_paths(gpu: bool = False) -> list[ReasoningPath]:
    """Well-known strategies, in order of usual payoff; CuPy only when a GPU is there."""
    paths = list(_DEFAULT_PATHS)
    if gpu:
        paths.insert(3, _GPU_PATH)
    return paths


def multipath_messages(
    source: str,
    entry: str,
    k: int,
    *,
    gpu: bool = False,
    context: str | None = None,
    hint: str | None = None,
    hot_lines: Sequence[HotLine] = (),
) -> list[dict[str, str]]:
    """Ask for K distinct strategies to make ``entry`` faster (no code yet); ``hot_lines``
    are the original's, from a line profile."""
    options = [
        "vectorise with NumPy",
        "compile loops with Numba, with parallel loops (prange) where iterations are independent",
        "a better algorithm (lower complexity)",
    ]
    if gpu:
        options.append("move the work to the GPU with CuPy (a CUDA GPU is available)")
    else:
        options.append("no GPU is available, so do not use CuPy or CUDA")
    user = [
        f"Here is a slow Python function `{entry}`:",
        _fenced(source),
    ]
    if context:
        user += ["What the inputs look like:", _trim(context, 1500)]
    hot = _hot_lines_text(hot_lines, "Where the original spends its time (line profile):")
    if hot:
        user.append(hot)
    user += [
        f"Propose {k} DISTINCT strategies to make `{entry}` faster without changing its "
        "results. Ideas to consider: " + "; ".join(options) + ".",
        f"Answer with exactly {k} numbered lines and nothing else, each as\n"
        "N. short-name: one or two sentences on what to do",
    ]
    if hint:
        user.append(f"The user adds: {_trim(hint, 800)}")
    return [
        {"role": "system", "content": SYSTEM_OPTIMIZER},
        {"role": "user", "content": "\n\n".join(user)},
    ]


_ITEM = re.compile(
    r"^\s*(?:#+\s*)?(?:[-*•+]\s*)?(?:\*\*)?\s*"
    r"(?:(?:path|strategy|approach|option|idea)\s*)?(\d{1,2})\s*[.):\-]\s*(.*)$",
    re.I,
)
_BULLET = re.compile(r"^\s*[-*•+]\s+(.*)$")
_NAME_SPLIT = re.compile(r"^\**\s*(.{2,60}?)\s*\**\s*(?::|\s[-–—]\s)\s*\**\s*(.+)$")


def parse_paths(reply: str, k: int, *, gpu: bool = False) -> list[ReasoningPath]:
    """K distinct paths from a strategy reply; missing ones come from :func:`default_paths`."""
    found = _paths_from_json(reply) or _paths_from_lines(reply)
    paths: list[ReasoningPath] = []
    seen: set[str] = set()
    for path in found:
        if not gpu and re.search(r"\b(cupy|cuda|gpu)\b", path.label(), re.I):
            continue  # not runnable here
        key = _slug(path.name)
        if key and key not in seen and len(paths) < k:
            seen.add(key)
            paths.append(path)
    for path in default_paths(gpu):
        if len(paths) >= k:
            break
        if path.name not in seen and not _covered(path, paths):
            seen.add(path.name)
            paths.append(path)
    return paths[:k]


def _paths_from_json(reply: str) -> list[ReasoningPath]:
    match = re.search(r"\[.*\]", reply, re.S)
    if not match:
        return []
    try:
        items = json.loads(match.group(0))
    except ValueError:
        return []
    paths = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            paths.append(_split_name(item))
        elif isinstance(item, dict):
            name = str(item.get("name") or item.get("title") or item.get("strategy") or "")
            text = str(
                item.get("approach") or item.get("description") or item.get("details") or name
            )
            if name or text:
                paths.append(ReasoningPath(_clean_name(name or text), _clean(text)))
    return paths


def _paths_from_lines(reply: str) -> list[ReasoningPath]:
    items: list[list[str]] = []
    for line in reply.splitlines():
        numbered = _ITEM.match(line)
        if numbered and numbered.group(2).strip():
            items.append([numbered.group(2)])
        elif items and line.strip() and (line.startswith((" ", "\t")) or _BULLET.match(line)):
            items[-1].append(line.strip())  # continuation of the current item
        elif not items and _BULLET.match(line):
            items.append([_BULLET.match(line).group(1)])  # type: ignore[union-attr]
        elif items and not line.strip():
            continue
    return [_split_name(" ".join(parts)) for parts in items]


def _split_name(text: str) -> ReasoningPath:
    text = _clean(text)
    match = _NAME_SPLIT.match(text)
    if match:
        return ReasoningPath(_clean_name(match.group(1)), _clean(match.group(2)))
    words = text.split()
    return ReasoningPath(_clean_name(" ".join(words[:4])), text)


def _clean(text: str) -> str:
    text = re.sub(r"\*\*(\S(?:.*?\S)?)\*\*", r"\1", text)  # **bold** -> bold, keeps x**2
    return " ".join(text.split()).strip(" -:*")


def _clean_name(text: str) -> str:
    return _slug(_clean(text))[:40] or "path"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _covered(path: ReasoningPath, paths: list[ReasoningPath]) -> bool:
    """Whether a parsed path already is this default (same main tool)."""
    keyword = {
        "numpy-vectorise": r"vectori|numpy|broadcast",
        "numba-parallel": r"prange|parallel",
        "cupy-gpu": r"cupy|gpu|cuda",
        "better-algorithm": r"algorithm|complexity",
    }.get(path.name)
    return bool(keyword) and any(re.search(keyword, p.label(), re.I) for p in paths)


def path_code_messages(
    source: str,
    entry: str,
    path: ReasoningPath,
    *,
    gpu: bool = False,
    context: str | None = None,
    hint: str | None = None,
    hot_lines: Sequence[HotLine] = (),
) -> list[dict[str, str]]:
    """Ask for the code of ``entry`` rewritten along one path (``hot_lines``: the original's)."""
    user = [f"Make this Python function `{entry}` faster:", _fenced(source)]
    if context:
        user += ["What the inputs look like:", _trim(context, 1500)]
    hot = _hot_lines_text(hot_lines, "Where the original spends its time (line profile):")
    if hot:
        user.append(hot)
    user.append(f"Strategy to follow: {path.label()}")
    if not gpu:
        user.append("No GPU is available: use only the CPU (NumPy, Numba, the standard library).")
    if hint:
        user.append(f"The user adds: {_trim(hint, 800)}")
    user.append(_CODE_RULES.format(entry=entry))
    return [
        {"role": "system", "content": SYSTEM_OPTIMIZER},
        {"role": "user", "content": "\n\n".join(user)},
    ]


@dataclass(frozen=True)
class FailingCase:
    """One input on which a candidate disagreed with the reference (reprs, not values)."""

    arguments: str
    expected: str | None = None
    actual: str | None = None
    error: str | None = None  # the exception line when the candidate raised


@dataclass
class Feedback:
    """What happened to a candidate, for the next round's prompt."""

    status: str  # "correct" | "wrong" | "error" | "timeout" | "oom" | "no_code" | ...
    failures: list[FailingCase] = field(default_factory=list)
    traceback: str | None = None
    reference_s: float | None = None  # seconds per call of the original
    candidate_s: float | None = None  # seconds per call of this candidate
    hot_lines: list[HotLine] = field(default_factory=list)
    profile_note: str | None = None  # why there are no hot lines (e.g. compiled with Numba)
    extraction_error: str | None = None  # why no code could be taken from the last reply
    message: str | None = None  # anything else worth saying (e.g. the watchdog's reason)


def refine_messages(
    source: str,
    entry: str,
    candidate: str | None,
    feedback: Feedback,
    *,
    path: ReasoningPath | None = None,
    gpu: bool = False,
    hint: str | None = None,
    max_failures: int = 3,
) -> list[dict[str, str]]:
    """Ask for an improved candidate, showing the model what happened to the last one."""
    user = [f"The original Python function `{entry}`:", _fenced(source)]
    if candidate:
        title = "Your previous version"
        if path is not None:
            title += f" (strategy: {path.label()})"
        user += [title + ":", _fenced(_trim(candidate, 6000))]
    user.append(f"What happened: {_describe_status(feedback.status)}")
    if feedback.extraction_error:
        user.append(f"No usable code could be taken from your reply: {feedback.extraction_error}")
    if feedback.message:
        user.append(_trim(feedback.message, 500))
    if feedback.failures:
        lines = []
        for case in feedback.failures[:max_failures]:
            lines.append(f"- input: {_trim(case.arguments, 300)}")
            if case.error:
                lines.append(f"  raised: {_trim(case.error, 300)}")
            else:
                lines.append(f"  expected: {_trim(case.expected or '?', 300)}")
                lines.append(f"  got:      {_trim(case.actual or '?', 300)}")
        more = len(feedback.failures) - max_failures
        if more > 0:
            lines.append(f"- ... and {more} more failing input(s)")
        user.append("Inputs where the result differs from the original:\n" + "\n".join(lines))
    if feedback.traceback:
        user.append("Traceback (trimmed):\n" + _trim_traceback(feedback.traceback))
    timing = _describe_timing(feedback.reference_s, feedback.candidate_s)
    if timing:
        user.append(timing)
    hot = _hot_lines_text(feedback.hot_lines, "Where your version spends its time (line profile):")
    if hot:
        user.append(hot)
    elif feedback.profile_note:
        user.append(f"Line profile: {_trim(feedback.profile_note, 200)}")
    if hint:
        user.append(f"The user's hint for this round: {_trim(hint, 800)}")
    goal = (
        "Fix the problem above"
        if feedback.status != "correct"
        else "Make it faster still, keeping it correct"
    )
    user.append(f"{goal}. " + _CODE_RULES.format(entry=entry))
    if not gpu:
        user.append("No GPU is available: use only the CPU.")
    return [
        {"role": "system", "content": SYSTEM_OPTIMIZER},
        {"role": "user", "content": "\n\n".join(user)},
    ]


def _hot_lines_text(hot_lines: Sequence[HotLine], title: str, limit: int = 3) -> str | None:
    """The few hottest lines (at least 5 % of the time each): a small model needs no more."""
    hot = [h for h in sorted(hot_lines, key=lambda h: -h.share) if h.share >= 0.05][:limit]
    if not hot:
        return None
    listed = "\n".join(f"  line {h.lineno} ({h.share:.0%}): {_trim(h.text, 120)}" for h in hot)
    return f"{title}\n{listed}"


def _describe_status(status: str) -> str:
    return {
        "correct": "it is correct.",
        "wrong": "it returns different results from the original on some inputs.",
        "error": "it raised an exception.",
        "timeout": "it ran out of time (it is too slow or never finishes).",
        "oom": "it ran out of memory.",
        "no_code": "your reply held no usable code.",
    }.get(status, status)


def _describe_timing(reference: float | None, candidate: float | None) -> str | None:
    if reference is None or candidate is None or candidate <= 0:
        return None
    ratio = reference / candidate
    verdict = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x SLOWER"
    return (
        f"Timing: the original takes {_seconds(reference)} per call, your version "
        f"{_seconds(candidate)} ({verdict})."
    )


def _seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _fenced(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


def _trim(text: str, limit: int) -> str:
    """Keep the head and the tail of a long text, saying how much was cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 20)
    head, tail = text[: keep * 2 // 3], text[-(keep // 3) :]
    return f"{head} …[{len(text) - len(head) - len(tail)} characters cut]… {tail}"


def _trim_traceback(text: str, limit: int = 1500, last_lines: int = 12) -> str:
    """The last frames and the error line matter; the first frames are the harness."""
    lines = text.strip().splitlines()
    if len(lines) > last_lines:
        lines = lines[:1] + [f"  ... {len(lines) - last_lines} lines cut ..."] + lines[-last_lines:]
    return _trim("\n".join(lines), limit)
