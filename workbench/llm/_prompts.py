"""Prompt building blocks: pure functions that return chat message lists.

- :func:`multipath_messages` asks the model to reformulate an optimization task into K
  distinct strategies (VisPath); :func:`parse_paths` reads the reply, however messy, and
  tops it up with :func:`default_paths` so there are always K distinct paths.
- :func:`path_code_messages` asks for the code of one path.
- :func:`refine_messages` carries what happened to a candidate (failing inputs with expected
  vs actual, the traceback, timings, hot lines, an extraction failure) and the user's hint.
- :func:`repair_messages` is the cheap repair turn: a candidate that failed to compile,
  import or verify, its error and the failing input, "fix only that".
- The first-round prompts show the original's hot lines (where a line profile of one call
  says its time goes), when the workbench has them.
- Every prompt states the installed library versions (NumPy 2 removed aliases small models
  still write) and the target (CPU, CuPy or Numba CUDA); each path's prompt carries a short
  worked example of its idea. Plain-Python code (no NumPy) gets its own paths: data
  structures, built-ins, algorithm.
Everything long is trimmed so a prompt stays within a small model's context.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import platform
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
    "functions, and `def {entry}(...)` with the same parameters as the original. Write every "
    "function in full (no `...`, no placeholders). No example calls, no tests, no explanations "
    "after the block."
)

#: what each target means for the code the model writes
TARGETS = ("cpu", "cupy", "numba-cuda")
_TARGET_RULE = {
    "cpu": "No GPU is available: use only the CPU (NumPy, Numba, the standard library).",
    "cupy": "A CUDA GPU is available: do the array work with CuPy (copy the inputs to the "
    "device once with cupy.asarray) and return NumPy arrays or Python numbers "
    "(cupy.asnumpy, float(...)), as the original does.",
    "numba-cuda": "A CUDA GPU is available: write a numba.cuda kernel (@cuda.jit, one thread "
    "per output element, cuda.grid(1) with a bounds check), copy inputs with "
    "cuda.to_device, launch it with enough blocks of 256 threads, and return "
    "copy_to_host() results as the original does.",
}


def target_of(gpu: bool | str) -> str:
    """The target for a prompt: ``True`` (any GPU, the older flag) means CuPy."""
    if gpu is True:
        return "cupy"
    if not gpu:
        return "cpu"
    if gpu not in TARGETS:
        raise ValueError(f"unknown target {gpu!r}")
    return gpu


@functools.lru_cache(maxsize=4)
def environment(target: str = "cpu") -> str:
    """One line on the installed versions and what NumPy 2 removed (small models still use
    ``np.float``); read from package metadata, nothing is imported."""

    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    parts = [f"Python {platform.python_version()}"]
    numpy = version("numpy")
    if numpy:
        parts.append(f"NumPy {numpy}")
    numba = version("numba")
    if numba:
        parts.append(f"Numba {numba}")
    if target == "cupy":
        cupy = next((v for v in map(version, ("cupy-cuda12x", "cupy-cuda11x", "cupy")) if v), None)
        parts.append(f"CuPy {cupy}" if cupy else "CuPy")
    text = "Installed: " + ", ".join(parts) + "."
    if numpy and numpy.split(".")[0].isdigit() and int(numpy.split(".")[0]) >= 2:
        text += (
            " NumPy 2 removed np.float, np.int, np.bool, np.object, np.NaN, np.product and "
            "np.alltrue: use float, int, bool, np.float64, np.nan, np.prod, np.all."
        )
    if numba:
        text += (
            " Numba compiles NumPy arrays, numbers and simple tuples well; it cannot compile "
            "ufunc methods (np.add.outer), most keyword arguments, or Python objects."
        )
    return text


_ARRAYS = re.compile(r"\bimport (?:numpy|pandas)\b|\b(?:np|pd)\.")
_OBJECTS = re.compile(
    r"\{\}|\[\]|\b(?:dict|set|sorted|str)\(|\.(?:append|split|join|items|get|add)\("
)


def is_numeric(source: str) -> bool:
    """Whether the code is array or number code, rather than plain Python on strings, lists
    and dicts (which gets the data-structure paths)."""
    return bool(_ARRAYS.search(source)) or not _OBJECTS.search(source)


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
_PYTHON_PATHS = (
    ReasoningPath(
        "data-structures",
        "Use the right container: dict or set lookups instead of scanning lists, "
        "collections.Counter/defaultdict for counting and grouping, dict.fromkeys to dedupe.",
    ),
    ReasoningPath(
        "better-algorithm",
        "Lower the algorithmic complexity: avoid recomputation, use sorting, prefix sums, "
        "hashing or an incremental update instead of the brute-force approach.",
    ),
    ReasoningPath(
        "builtins",
        "Move the loop into C: comprehensions, str methods, sum/max/sorted, itertools "
        "(accumulate, groupby, zip) and bound local names instead of Python-level steps.",
    ),
)
_GPU_PATH = ReasoningPath(
    "cupy-gpu",
    "Move the array work to the GPU with CuPy (cupy arrays, elementwise/reduction kernels), "
    "copying inputs to the device once and returning results as NumPy arrays.",
)
_CUDA_PATH = ReasoningPath(
    "numba-cuda-kernel",
    "Write a numba.cuda kernel with one thread per output element, copying the inputs to "
    "the device once and the result back once.",
)


def default_paths(gpu: bool | str = False, *, numeric: bool = True) -> list[ReasoningPath]:
    """Well-known strategies, in order of usual payoff: for array code or, with
    ``numeric=False``, for plain-Python code; the GPU's path first for a GPU target."""
    target = target_of(gpu)
    paths = list(_DEFAULT_PATHS if numeric else _PYTHON_PATHS)
    if target == "cupy":
        paths.insert(0 if numeric else 1, _GPU_PATH)
    elif target == "numba-cuda":
        paths.insert(0 if numeric else 1, _CUDA_PATH)
    return paths


#: a short worked example per idea: (keywords in the path, before, after)
_EXAMPLES = (
    (
        r"cuda-kernel|numba\.cuda|cuda\.jit|kernel",
        "def scale(x):\n    out = np.empty_like(x)\n    for i in range(x.size):\n"
        "        out[i] = 2.0 * x[i] + 1.0\n    return out",
        "from numba import cuda\n\n@cuda.jit\ndef _scale(x, out):\n    i = cuda.grid(1)\n"
        "    if i < x.size:\n        out[i] = 2.0 * x[i] + 1.0\n\ndef scale(x):\n"
        "    d_x = cuda.to_device(x)\n    d_out = cuda.device_array_like(d_x)\n"
        "    _scale[(x.size + 255) // 256, 256](d_x, d_out)\n    return d_out.copy_to_host()",
    ),
    (
        r"cupy|gpu",
        "def norms(X):\n    return np.array([np.sqrt((row ** 2).sum()) for row in X])",
        "import cupy as cp\n\ndef norms(X):\n    d = cp.asarray(X)\n"
        "    return cp.asnumpy(cp.sqrt((d * d).sum(axis=1)))",
    ),
    (
        r"prange|parallel",
        "def row_max(X):\n    out = np.empty(X.shape[0])\n    for i in range(X.shape[0]):\n"
        "        out[i] = X[i].max()\n    return out",
        "import numba\n\n@numba.njit(parallel=True)\ndef row_max(X):\n"
        "    out = np.empty(X.shape[0])\n    for i in numba.prange(X.shape[0]):  # rows are independent\n"
        "        m = X[i, 0]\n        for j in range(1, X.shape[1]):\n"
        "            m = max(m, X[i, j])\n        out[i] = m\n    return out",
    ),
    (
        r"numba|njit|compile",
        "def close_pairs(a, b, eps):\n    return int((np.abs(a[:, None] - b[None, :]) < eps).sum())",
        "import numba\n\n@numba.njit\ndef _count(a, b, eps):\n    n = 0\n"
        "    for i in range(a.shape[0]):\n        for j in range(b.shape[0]):\n"
        "            if abs(a[i] - b[j]) < eps:\n                n += 1\n    return n\n\n"
        "def close_pairs(a, b, eps):\n    return int(_count(a, b, eps))  # no n*m temporary",
    ),
    (
        r"vectori|numpy|broadcast|ufunc",
        "def clipped_sum(x, hi):\n    total = 0.0\n    for v in x:\n"
        "        total += v if v < hi else hi\n    return total",
        "def clipped_sum(x, hi):\n    return float(np.minimum(x, hi).sum())",
    ),
    (
        r"data-struct|dict|set|counter|hash|container",
        "def dedupe(xs):\n    out = []\n    for x in xs:\n        if x not in out:\n"
        "            out.append(x)\n    return out",
        "def dedupe(xs):\n    return list(dict.fromkeys(xs))  # O(n), keeps first-seen order",
    ),
    (
        r"algorithm|complexity|sort|prefix",
        "def pairs_with_sum(xs, t):\n    n = 0\n    for i in range(len(xs)):\n"
        "        for j in range(i + 1, len(xs)):\n            n += xs[i] + xs[j] == t\n"
        "    return n",
        "def pairs_with_sum(xs, t):\n    seen, n = {}, 0\n    for x in xs:\n"
        "        n += seen.get(t - x, 0)\n        seen[x] = seen.get(x, 0) + 1\n    return n",
    ),
    (
        r"builtin|comprehension|itertools|str",
        "def running_max(xs):\n    out = []\n    for i in range(len(xs)):\n"
        "        out.append(max(xs[: i + 1]))\n    return out",
        "from itertools import accumulate\n\ndef running_max(xs):\n"
        "    return list(accumulate(xs, max))",
    ),
    (
        r"memory|alloc|in.place|layout|copy",
        "def normalise(X):\n    return (X - X.mean(axis=0)) / X.std(axis=0)",
        "def normalise(X):\n    out = X - X.mean(axis=0)  # one new array\n"
        "    out /= X.std(axis=0)  # in place, no second temporary\n    return out",
    ),
)


def worked_example(path: ReasoningPath) -> str | None:
    """A short before/after example of the path's idea (on another function), or None."""
    label = path.label().lower()
    for pattern, before, after in _EXAMPLES:
        if re.search(pattern, label):
            return (
                "A short example of this idea on another function:\nbefore:\n"
                + _fenced(before)
                + "\nafter:\n"
                + _fenced(after)
            )
    return None


def multipath_messages(
    source: str,
    entry: str,
    k: int,
    *,
    gpu: bool | str = False,
    context: str | None = None,
    hint: str | None = None,
    hot_lines: Sequence[HotLine] = (),
) -> list[dict[str, str]]:
    """Ask for K distinct strategies to make ``entry`` faster (no code yet); ``hot_lines``
    are the original's, from a line profile; ``gpu`` is the target (``"cupy"``,
    ``"numba-cuda"``; ``True`` means CuPy)."""
    target = target_of(gpu)
    if is_numeric(source):
        options = [
            "vectorise with NumPy",
            "compile loops with Numba, with parallel loops (prange) where iterations are "
            "independent",
            "a better algorithm (lower complexity)",
        ]
    else:
        options = [
            "the right data structure (dict, set, collections.Counter/defaultdict)",
            "a better algorithm (lower complexity)",
            "built-ins, comprehensions, str methods and itertools instead of Python loops",
        ]
    if target == "cupy":
        options.insert(0, "move the work to the GPU with CuPy (a CUDA GPU is available)")
    elif target == "numba-cuda":
        options.insert(0, "a numba.cuda kernel, one thread per output (a CUDA GPU is available)")
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
        {"role": "system", "content": _system(target)},
        {"role": "user", "content": "\n\n".join(user)},
    ]


def _system(target: str) -> str:
    return SYSTEM_OPTIMIZER + " " + environment(target)


_ITEM = re.compile(
    r"^\s*(?:#+\s*)?(?:[-*•+]\s*)?(?:\*\*)?\s*"
    r"(?:(?:path|strategy|approach|option|idea)\s*)?(\d{1,2})\s*[.):\-]\s*(.*)$",
    re.I,
)
_BULLET = re.compile(r"^\s*[-*•+]\s+(.*)$")
_NAME_SPLIT = re.compile(r"^\**\s*(.{2,60}?)\s*\**\s*(?::|\s[-–—]\s)\s*\**\s*(.+)$")


def parse_paths(
    reply: str, k: int, *, gpu: bool | str = False, numeric: bool = True
) -> list[ReasoningPath]:
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
    for path in default_paths(gpu, numeric=numeric):
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
        "numba-cuda-kernel": r"cuda",
        "better-algorithm": r"algorithm|complexity",
        "data-structures": r"dict|set\b|counter|defaultdict|hash",
        "builtins": r"comprehension|itertools|built-?in",
    }.get(path.name)
    return bool(keyword) and any(re.search(keyword, p.label(), re.I) for p in paths)


def path_code_messages(
    source: str,
    entry: str,
    path: ReasoningPath,
    *,
    gpu: bool | str = False,
    context: str | None = None,
    hint: str | None = None,
    hot_lines: Sequence[HotLine] = (),
) -> list[dict[str, str]]:
    """Ask for the code of ``entry`` rewritten along one path (``hot_lines``: the original's),
    with a short worked example of the path's idea."""
    target = target_of(gpu)
    user = [f"Make this Python function `{entry}` faster:", _fenced(source)]
    if context:
        user += ["What the inputs look like:", _trim(context, 1500)]
    hot = _hot_lines_text(hot_lines, "Where the original spends its time (line profile):")
    if hot:
        user.append(hot)
    user.append(f"Strategy to follow: {path.label()}")
    example = worked_example(path)
    if example:
        user.append(example)
    user.append(_TARGET_RULE[target])
    if hint:
        user.append(f"The user adds: {_trim(hint, 800)}")
    user.append(_CODE_RULES.format(entry=entry))
    return [
        {"role": "system", "content": _system(target)},
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


@dataclass(frozen=True)
class Inspiration:
    """Another candidate's code shown in a refinement prompt, and what became of it."""

    code: str
    what: str  # e.g. "sibling 1a2b3c4d: passed, 3.1x faster"


def refine_messages(
    source: str,
    entry: str,
    candidate: str | None,
    feedback: Feedback,
    *,
    path: ReasoningPath | None = None,
    gpu: bool | str = False,
    hint: str | None = None,
    max_failures: int = 3,
    inspiration: Sequence[Inspiration] = (),
) -> list[dict[str, str]]:
    """Ask for an improved candidate, showing the model what happened to the last one, and
    (tree search) ``inspiration``: other verified versions, its siblings and the best."""
    target = target_of(gpu)
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
    if inspiration:
        shown = [
            f"- {_trim(item.what, 160)}:\n{_fenced(_trim(item.code, 2000))}"
            for item in inspiration[:3]
        ]
        user.append(
            "Other versions that were tried, for ideas (combine or go beyond them; do not"
            " copy one as it is):\n" + "\n".join(shown)
        )
    if hint:
        user.append(f"The user's hint for this round: {_trim(hint, 800)}")
    goal = (
        "Fix the problem above"
        if feedback.status != "correct"
        else "Make it faster still, keeping it correct"
    )
    user.append(f"{goal}. " + _CODE_RULES.format(entry=entry))
    user.append(_TARGET_RULE[target])
    return [
        {"role": "system", "content": _system(target)},
        {"role": "user", "content": "\n\n".join(user)},
    ]


def repair_messages(
    source: str,
    entry: str,
    candidate: str,
    error: str,
    *,
    failure: FailingCase | None = None,
    gpu: bool | str = False,
    hint: str | None = None,
) -> list[dict[str, str]]:
    """The cheap repair turn: a candidate that failed to compile, import or verify, with its
    error and the failing input; asks to fix only that, keeping the approach. Short: no
    plan, no timings, no profile."""
    target = target_of(gpu)
    user = [
        f"This faster version of `{entry}` does not work yet:",
        _fenced(_trim(candidate, 5000)),
        f"The error: {_trim(error, 600)}",
    ]
    if failure is not None:
        lines = [f"On the input: {_trim(failure.arguments, 400)}"]
        if failure.error:  # said once when it is the error above
            if failure.error.strip(" .") not in error:
                lines.append(f"it raised: {_trim(failure.error, 300)}")
        else:
            lines.append(f"expected: {_trim(failure.expected or '?', 300)}")
            lines.append(f"got:      {_trim(failure.actual or '?', 300)}")
        user.append("\n".join(lines))
    user += ["The original, which defines what it must return:", _fenced(source)]
    if hint:
        user.append(f"The user's hint for this round: {_trim(hint, 800)}")
    user += [
        "Fix only this problem: change as little as possible and keep your approach. "
        + _CODE_RULES.format(entry=entry),
        _TARGET_RULE[target],
    ]
    return [
        {"role": "system", "content": _system(target)},
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
