"""Where the arguments come from: a builder, an example call, the notebook's history.

``prepare_inputs`` is the one entry point the engine calls. Sources, in order:

1. ``inputs``: a function ``n -> tuple`` (or ``(n, seed) -> tuple``), or a list of tuples;
2. ``example``: one real call (``"f(X, k=3)"`` or ``((X, 3), {})``), its arguments taken from
   the user's namespace;
3. the last call of the function in the notebook's history (IPython's ``In``).

From an example the verification inputs are derived: subsets of its rows at several sizes
(the leading axis of arrays, lists, strings, DataFrames and Series, shrunk together where
arguments share it), and edge cases Hypothesis generates to match its types (same dtype and
number of dimensions, the value ranges and string alphabet seen, empty and one-row cases).
Each derived input is run through the reference in a worker first and kept only where the
reference returns. Timing calls get fresh arguments of the real size by resampling the rows
(with replacement, else a permutation) where the reference accepts them; where it does not,
the example's own values are reused and the run says so.
"""

from __future__ import annotations

import ast
import copy
import inspect
import random
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import InputsError, UsageError
from ..sandbox._channel import dumps_by_value
from ..sandbox._process import Limits
from ._jobs import MAX_CALLS, Program, TimingJob, TimingPlan, run_cases
from ._task import Task
from ._verify import Tolerance, compare

DEFAULT_SIZES = (1, 2, 3, 8, 31)
SHRINK_SIZES = (1, 2, 3, 8, 31, 100)
GENERATED = 10  # edge cases Hypothesis draws per example
PROBE_ROWS = 64  # rows of the resampling probes the reference must accept
TIMING_SEED = 1_000_003  # timed call k of a seeded builder: inputs(n, TIMING_SEED + k)

SOURCES = ("inputs", "example", "history", "builder")


@dataclass
class Inputs:
    """What the engine verifies and times on, and where it came from."""

    cases: list[tuple]  # argument tuples for verification
    labels: list[str]  # one per case
    make: Callable[[int, int | None], tuple]  # (n, timed call) -> fresh arguments (in the worker)
    timing_size: int | None  # None: calibrate
    source: str  # inputs | example | history | builder
    description: str  # one line for the table, views and session
    notes: list[str] = field(default_factory=list)  # what the reader should know
    details: dict[str, Any] = field(default_factory=dict)  # sizes, counts, the call

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "description": self.description,
            "labels": list(self.labels),
            "timing_size": self.timing_size,
            "notes": list(self.notes),
            **self.details,
        }


def prepare_inputs(
    inputs: Any,
    *,
    example: Any = None,
    sizes: Sequence[int] | None = None,
    timing_size: int | None = None,
    task: Task,
    namespace: Mapping[str, Any] | None = None,
    limits: Limits | None = None,
    hardened: bool = False,
) -> Inputs:
    """The verification cases and timing arguments, from the first source that is given."""
    if inputs is not None:
        return _from_builder(inputs, sizes, timing_size)
    fn = _reference_function(task, namespace)
    if example is not None:
        args, call = _example_args(example, fn, task.entry, namespace)
        return _from_example(args, call, "example", sizes, task, limits, hardened)
    found = _from_history(task.entry, fn, namespace)
    if found is not None:
        args, call, where = found
        out = _from_example(args, call, "history", sizes, task, limits, hardened, where)
        out.details["history"] = where
        return out
    from ..llm import llm_available

    if llm_available():
        return _from_model(task, fn, sizes, limits, hardened)
    raise InputsError(
        f"say what to run {task.entry} on: an example call (%optimize {task.entry}(X, 3), "
        f'%%optimize --example "{task.entry}(X, 3)", or example=((X, 3), {{}})), a builder '
        f"(--inputs NAME, NAME(n) -> tuple of arguments), or call {task.entry} once in the "
        "notebook first"
    )


# -- 1. a builder or a list of argument tuples ---------------------------------------------


class _MakeArgs:
    """size -> a fresh argument tuple (runs in the worker: picklable, no kernel state)."""

    def __init__(self, inputs: Callable[..., tuple] | None, fixed: tuple | None = None) -> None:
        self.inputs, self.fixed = inputs, fixed
        self.seeded = inputs is not None and _takes_seed(inputs)

    def __call__(self, n: int, call: int | None = None) -> tuple:
        """Timed call ``call`` gets ``inputs(n, TIMING_SEED + call)``: the same size, fresh
        values. A builder without a seed can only vary its values through its size:
        ``inputs(n + call % MAX_CALLS)``, new values for every call a process makes (a cache
        dies with its process)."""
        if self.inputs is None:
            return copy.deepcopy(self.fixed)
        if self.seeded:
            return tuple(self.inputs(n, n if call is None else TIMING_SEED + call))
        return tuple(self.inputs(n if call is None else n + call % MAX_CALLS))


def _takes_seed(fn: Callable) -> bool:
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2 and params[1].default is inspect.Parameter.empty


def _call_inputs(inputs: Callable, n: int) -> tuple:
    name = getattr(inputs, "__name__", "inputs").replace("<lambda>", "inputs")
    seeded = _takes_seed(inputs)
    call = f"{name}({n}, {n})" if seeded else f"{name}({n})"
    try:
        args = inputs(n, n) if seeded else inputs(n)
    except Exception as exc:
        raise InputsError(
            f"{call} raised {type(exc).__name__}: {exc}; fix it so it builds arguments for size {n}"
        ) from None
    if not isinstance(args, tuple):
        raise InputsError(
            f"{call} returned {type(args).__name__}; it must return a tuple of arguments, e.g. return (X,)"
        )
    return args


def _from_builder(inputs: Any, sizes: Sequence[int] | None, timing_size: int | None) -> Inputs:
    if callable(inputs):
        chosen = list(sizes) if sizes else [*DEFAULT_SIZES, random.randrange(40, 90)]
        cases = [_call_inputs(inputs, n) for n in chosen]
        again = _call_inputs(inputs, chosen[-1])
        if _differs(cases[-1], again):
            name = getattr(inputs, "__name__", "inputs")
            raise InputsError(
                f"{name}(n) returns different values on each call: seed its random "
                "generator from n, e.g. rng = np.random.default_rng(n)"
                + (" (or from its seed argument)" if _takes_seed(inputs) else "")
            )
        if timing_size is None and sizes:
            timing_size = max(sizes)
        name = getattr(inputs, "__name__", "inputs")
        return Inputs(
            cases,
            [f"n={n}" for n in chosen],
            _MakeArgs(inputs),
            timing_size,
            "inputs",
            f"built by {name}(n) at n = {', '.join(map(str, chosen))}; timed at "
            + (f"n = {timing_size}" if timing_size else "a calibrated n"),
            details={"builder": name, "sizes": chosen},
        )
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(a, tuple) for a in inputs):
        largest = max(inputs, key=_nbytes)
        return Inputs(
            list(inputs),
            [f"inputs[{i}]" for i in range(len(inputs))],
            _MakeArgs(None, largest),
            0,
            "inputs",
            f"{len(inputs)} argument tuple(s) given; timed on the largest",
            notes=[
                "timing reuses the largest given input: pass a builder n -> args for fresh values"
            ],
        )
    raise InputsError(
        "inputs must be a function n -> tuple of arguments, or a non-empty list of argument tuples"
    )


def _differs(a: Any, b: Any) -> bool:
    try:
        return compare(a, b, Tolerance(0.0, 0.0)) is not None
    except Exception:  # a type compare cannot read: trust the builder
        return False


def _nbytes(args: tuple) -> int:
    return sum(getattr(a, "nbytes", sys.getsizeof(a)) for a in args)


# -- 2. an example call ----------------------------------------------------------------------


def _reference_function(task: Task, namespace: Mapping[str, Any] | None) -> Callable | None:
    """The user's function in the kernel, to bind keyword arguments (never called here)."""
    fn = (namespace or {}).get(task.entry)
    if callable(fn):
        return fn
    scope = dict(task.context)
    try:
        exec(compile(task.source, f"<{task.entry}>", "exec"), scope)  # noqa: S102 - the user's own code
    except Exception:
        return None
    return scope.get(task.entry)


def _example_args(
    example: Any, fn: Callable | None, entry: str, namespace: Mapping[str, Any] | None
) -> tuple[tuple, str]:
    """The positional argument tuple of an example call, and the call as text."""
    if isinstance(example, str):
        example = example.strip()
        if len(example) > 1 and example[0] == example[-1] and example[0] in "'\"":
            example = example[1:-1]  # --example "f(X, 3)" keeps its quotes
        call = _parse_call(example, entry)
        args, kwargs = _evaluate_call(call, namespace or {}, safe=False, text=example)
        text = example.strip()
    elif (
        isinstance(example, tuple)
        and len(example) == 2
        and isinstance(example[0], (tuple, list))
        and isinstance(example[1], dict)
    ):
        args, kwargs = tuple(example[0]), dict(example[1])
        text = _call_text(entry, args, kwargs)
    elif isinstance(example, (tuple, list)):
        args, kwargs = tuple(example), {}
        text = _call_text(entry, args, kwargs)
    else:
        raise UsageError(
            f'example must be a call such as "{entry}(X, 3)" or ((X, 3), {{"k": 3}}), '
            f"not {type(example).__name__}"
        )
    return _bind(fn, entry, args, kwargs), text


def _parse_call(text: str, entry: str) -> ast.Call:
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise UsageError(f"the example {text!r} is not a call: {exc.msg}") from None
    if not isinstance(node, ast.Call):
        raise UsageError(f'the example must be a call such as "{entry}(X, 3)", not {text!r}')
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name != entry:
        raise UsageError(
            f"the example calls {ast.unparse(node.func)}, not {entry}: write {entry}(...)"
        )
    return node


_SAFE = (
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.Set,
    ast.UnaryOp,
    ast.BinOp,
    ast.unaryop,
    ast.operator,
    ast.keyword,
    ast.Starred,
    ast.Expression,
)


def _evaluate_call(
    call: ast.Call, namespace: Mapping[str, Any], *, safe: bool, text: str
) -> tuple[tuple, dict]:
    """Evaluate a call's arguments in the user's namespace. ``safe``: expressions that call
    nothing (names, attributes, subscripts, literals), for calls found in the history."""
    parts = [*call.args, *(k.value for k in call.keywords)]
    if safe and any(not isinstance(n, _SAFE) for p in parts for n in ast.walk(p)):
        raise _Unsafe()
    holder = ast.Expression(
        ast.Tuple(
            [
                ast.Tuple(list(call.args), ast.Load()),
                ast.Dict(
                    [ast.Constant(k.arg) for k in call.keywords], [k.value for k in call.keywords]
                ),
            ],
            ast.Load(),
        )
    )
    if any(k.arg is None for k in call.keywords):
        raise UsageError(f"the example {text!r} uses **kwargs: write its keyword arguments out")
    ast.fix_missing_locations(holder)
    try:
        args, kwargs = eval(compile(holder, "<example>", "eval"), dict(namespace))  # noqa: S307 - the user's own expression
    except NameError as exc:
        raise UsageError(
            f"the example {text!r} names {exc.name!r}, which is not defined in the notebook: "
            "define it in a cell above first"
        ) from None
    except Exception as exc:
        raise UsageError(
            f"evaluating the example {text!r} raised {type(exc).__name__}: {exc}"
        ) from None
    return tuple(args), dict(kwargs)


class _Unsafe(Exception):
    pass


def _bind(fn: Callable | None, entry: str, args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments become positional ones (the worker calls ``fn(*args)``)."""
    if not kwargs:
        return args
    if fn is None:
        raise UsageError(
            f"cannot bind the keyword arguments of the example: {entry} is not defined"
        )
    try:
        sig = inspect.signature(fn)
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise UsageError(f"the example does not fit {entry}{_sig(fn)}: {exc}") from None
    named = [
        n
        for n in bound.arguments
        if sig.parameters[n].kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD)
    ]
    if named:
        raise UsageError(
            f"{entry}'s keyword-only argument(s) {', '.join(named)} cannot be given in the "
            "example yet: make them positional, or leave them at their defaults"
        )
    bound.apply_defaults()  # the positional ones before a keyword one, so the order holds
    return tuple(bound.args)


def _sig(fn: Callable) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


def _call_text(entry: str, args: tuple, kwargs: dict) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{entry}({', '.join(parts)})"


def _short(value: Any) -> str:
    n = _length(value)
    if n is not None:
        return f"<{type(value).__name__} of {n:,}>"
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


# -- the history ----------------------------------------------------------------------------


def _from_history(
    entry: str, fn: Callable | None, namespace: Mapping[str, Any] | None
) -> tuple[tuple, str, str] | None:
    """The last call of ``entry`` in the notebook's earlier cells whose arguments are still
    defined and call nothing: (args, call text, where)."""
    cells = (namespace or {}).get("In")
    if not isinstance(cells, list) or len(cells) < 2:
        return None
    for number in range(len(cells) - 1, 0, -1):
        source = cells[number]
        if not isinstance(source, str) or entry not in source:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for call in reversed(_calls_of(tree, entry)):
            try:
                args, kwargs = _evaluate_call(
                    call, namespace or {}, safe=True, text=ast.unparse(call)
                )
                return _bind(fn, entry, args, kwargs), ast.unparse(call), f"In[{number}]"
            except (_Unsafe, UsageError):
                continue
    return None


def _calls_of(tree: ast.Module, entry: str) -> list[ast.Call]:
    """Calls of ``entry`` outside its own definition (a recursive call is not an example)."""
    found: list[ast.Call] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry:
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in tree.body:
        visit(stmt)
    return sorted(found, key=lambda c: (c.lineno, c.col_offset))


# -- 4. a builder the model writes ----------------------------------------------------------

BUILDER_PROMPT = (
    "Write `def make_inputs(n, seed):` that returns a tuple of arguments for the function "
    "below, sized by the integer n (n rows, n elements, n characters: whatever its main input "
    "is), realistic for what the function does, and deterministic: take all randomness from "
    "seed, e.g. rng = np.random.default_rng(seed). Import what you use inside the block. Reply "
    "with ONE ```python block holding only the imports and make_inputs; no example calls.\n\n"
    "```python\n{source}```"
)


class _ModelBuilder:
    """(n, timed call) -> arguments from the model's builder code, run in the worker (never in
    the kernel), called as a user's builder is (``_MakeArgs``): ``make_inputs(n, seed)`` gets a
    fresh seed per timed call at the same size; one without the seed, ``make_inputs(n + k)``."""

    def __init__(self, code: str) -> None:
        self.code = code
        self._make: _MakeArgs | None = None

    def __call__(self, n: int, call: int | None = None) -> tuple:
        if self._make is None:
            scope: dict[str, Any] = {"__name__": "__wb_inputs__"}
            exec(compile(self.code, "<model's make_inputs>", "exec"), scope)  # noqa: S102 - in the worker
            self._make = _MakeArgs(scope["make_inputs"])
        return self._make(n, call)

    def __getstate__(self) -> dict[str, Any]:
        return {"code": self.code, "_make": None}


def _defines_seeded_builder(code: str) -> bool:
    """Whether the code's ``make_inputs`` takes a seed (a second required parameter, as
    ``_takes_seed`` finds it): read from its syntax, since the model's code never runs in the
    kernel."""
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef) and node.name == "make_inputs":
            positional = [*node.args.posonlyargs, *node.args.args]
            return len(positional) - len(node.args.defaults) >= 2
    return False


def _from_model(
    task: Task,
    fn: Callable | None,
    sizes: Sequence[int] | None,
    limits: Limits | None,
    hardened: bool,
) -> Inputs:
    """The model writes ``make_inputs(n, seed)``; it runs in a worker, its arguments come back as
    data, and they are kept where the reference returns on them."""
    from ..llm import extract_code, get_backend

    backend = get_backend()
    exchange = backend.complete(
        [
            {"role": "system", "content": "You write test inputs for Python functions."},
            {"role": "user", "content": BUILDER_PROMPT.format(source=task.source)},
        ],
        temperature=0.2,
        max_tokens=700,
        seed=0,
    )
    extraction = extract_code(exchange.texts[0] if exchange.texts else "", "make_inputs", arity=2)
    how = f'say what to run {task.entry} on (--inputs NAME, --example "{task.entry}(...)")'
    if not extraction.ok:
        raise InputsError(
            f"the model ({backend.model}) wrote no usable input builder "
            f"({extraction.reason}): {how}"
        )
    code = extraction.code or ""
    chosen = list(sizes) if sizes else [*DEFAULT_SIZES, 50]
    seeded = _defines_seeded_builder(code)  # as _MakeArgs will find it in the worker
    make = _ModelBuilder(code)
    signature = "make_inputs(n, seed)" if seeded else "make_inputs(n)"
    program = Program("candidate", code, "make_inputs", dumps_by_value({}))
    limits = limits or Limits()
    # the last size twice: is it deterministic?
    calls = [(n, n) if seeded else (n,) for n in [*chosen, chosen[-1]]]
    report = run_cases(program, calls, limits, hardened)
    if report.load_error or report.fault:
        why = report.load_error or (report.fault.reason if report.fault else "")
        raise InputsError(f"the model's input builder fails ({why}): {how}")
    built: list[tuple[tuple, str, str]] = []
    for i, n in enumerate(chosen):
        got = report.cases.get(i, {})
        args = got.get("output")
        if isinstance(args, tuple) and not _unreadable(args):
            built.append((args, f"n={n}", "builder"))
    again = report.cases.get(len(chosen), {}).get("output")
    if not built:
        raise InputsError(f"the model's input builder returned no usable argument tuple: {how}")
    if built[-1][1] == f"n={chosen[-1]}" and _differs(built[-1][0], again):
        raise InputsError(f"the model's input builder returns different values on each call: {how}")
    kept, dropped, _ = _screen(task, built, [], limits, hardened)
    if not kept:
        raise InputsError(
            f"{task.entry} raises on every input the model's builder made ({dropped[0]}): {how}"
        )
    notes = [
        f"the inputs were built by {signature}, written by the model ({backend.model}) and "
        "checked against your function: res.inputs['code'] shows it; pass --inputs or "
        "--example to choose them yourself"
    ]
    if dropped:
        notes.append(f"{len(dropped)} built input(s) left out: your function raises on them")
    return Inputs(
        [c for c, _, _ in kept],
        [label for _, label, _ in kept],
        make,
        None,
        "builder",
        f"builder {signature} written by the model ({backend.model}) at n = "
        + ", ".join(label[2:] for _, label, _ in kept)
        + "; timed at a calibrated n",
        notes=notes,
        details={
            "code": code,
            "model": backend.model,
            "sizes": chosen,
            "dropped": len(dropped),
            "seeded": seeded,
        },
    )


def _unreadable(value: Any) -> bool:
    """Arguments that came back only described (a type the codec does not carry)."""
    from ..sandbox._wire import Opaque, Record

    if isinstance(value, (Opaque, Record)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_unreadable(v) for v in value[:50])
    if isinstance(value, dict):
        return any(_unreadable(v) for v in list(value.values())[:50])
    return False


# -- rows: shrinking, resampling ------------------------------------------------------------


def _kind(value: Any) -> str | None:
    """Which arguments have rows (a leading axis to shrink and resample)."""
    module = type(value).__module__ or ""
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        return "array"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "str"
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return "frame"
        if isinstance(value, pd.Series):
            return "series"
    if module.startswith("scipy.sparse") and hasattr(value, "tocsr") and len(value.shape) == 2:
        return "sparse"
    if module.startswith("torch") and hasattr(value, "dim") and value.dim() >= 1:
        return "tensor"
    return None


def _length(value: Any) -> int | None:
    kind = _kind(value)
    if kind is None:
        return None
    return (
        int(value.shape[0])
        if kind in ("array", "frame", "series", "sparse", "tensor")
        else len(value)
    )


def _take(value: Any, idx: np.ndarray, keep_labels: bool = False) -> Any:
    """Rows ``idx`` of ``value`` (a string: characters ``idx``, in order)."""
    kind = _kind(value)
    if kind == "array":
        return value[idx]
    if kind == "sparse":  # row indexing needs CSR; keep the example's format
        return value.tocsr()[idx].asformat(value.format)
    if kind == "tensor":
        import torch

        return value[torch.as_tensor(idx, dtype=torch.long)].clone()
    if kind == "list":
        return [copy.deepcopy(value[i]) for i in idx]
    if kind == "str":
        return "".join(value[i] for i in idx)
    if kind in ("frame", "series"):
        out = value.iloc[idx]
        if keep_labels:  # resampled values under the example's own index (labels stay unique)
            out = out.set_axis(value.index[: len(idx)], axis=0)
        return out.copy()
    return copy.deepcopy(value)


def _rows(args: tuple) -> tuple[int | None, list[int]]:
    """The row count most arguments share (ties: the largest) and which arguments have it."""
    lengths = [_length(a) for a in args]
    counts: dict[int, int] = {}
    for n in lengths:
        if n is not None:
            counts[n] = counts.get(n, 0) + 1
    if not counts:
        return None, []
    rows = max(counts, key=lambda n: (counts[n], n))
    return rows, [i for i, n in enumerate(lengths) if n == rows]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}"[:200] if text else type(exc).__name__


def _unit(args: tuple, which: list[int]) -> str:
    kinds = {_kind(args[i]) for i in which}
    return "characters" if kinds == {"str"} else "items" if kinds == {"list"} else "rows"


def _subset(args: tuple, which: list[int], idx: np.ndarray, keep_labels: bool = False) -> tuple:
    return tuple(
        _take(a, idx, keep_labels) if i in which else copy.deepcopy(a) for i, a in enumerate(args)
    )


class _Resample:
    """Fresh timing arguments of the example's size: its rows drawn again (``mode``
    "bootstrap": with replacement; "permute": a permutation; "words": a string's words
    shuffled), seeded by the call number. Runs in the worker."""

    def __init__(
        self, args: tuple, which: list[int], rows: int, mode: str, limit: int | None = None
    ):
        self.args, self.which, self.rows, self.mode = args, which, rows, mode
        self.limit = limit  # probes: this many rows only

    def __call__(self, n: int, call: int | None = None) -> tuple:
        rng = np.random.default_rng(n if call is None else n + call)  # the size stays
        rows = self.rows if self.limit is None else min(self.rows, self.limit)
        if self.mode == "words":
            return tuple(
                _shuffle_words(a[:rows] if self.limit else a, rng)
                if i in self.which
                else copy.deepcopy(a)
                for i, a in enumerate(self.args)
            )
        if self.mode == "bootstrap":
            idx = rng.integers(0, self.rows, rows)
        else:
            idx = rng.permutation(self.rows)[:rows]
        return _subset(self.args, self.which, idx, keep_labels=True)


def _shuffle_words(text: str, rng: np.random.Generator) -> str:
    """The words of ``text`` in another order, every run of whitespace where it was."""
    parts = re.split(r"(\s+)", text)  # words at even places, whitespace at odd ones
    words = parts[0::2]
    lo = 1 if words and words[0] == "" else 0  # text starting or ending with whitespace
    hi = len(words) - 1 if len(words) > lo and words[-1] == "" else len(words)
    middle = np.array(words[lo:hi], dtype=object)
    parts[2 * lo : 2 * hi : 2] = middle[rng.permutation(len(middle))].tolist()
    return "".join(parts)


# -- generated edge cases (Hypothesis) ------------------------------------------------------


def _strategy_for(value: Any, length: int):
    """A Hypothesis strategy for ``value``'s kind with ``length`` rows, like the example: the
    same dtype and trailing shape, values within the example's range, its strings' alphabet."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    kind = _kind(value)
    if kind == "array" and value.dtype.kind in "biuf":
        return hnp.arrays(
            value.dtype, (length, *value.shape[1:]), elements=_elements(value.ravel())
        )
    if kind == "str":
        alphabet = sorted(set(value)) or ["a"]
        return st.text(alphabet=alphabet, min_size=length * 4, max_size=length * 4)
    if kind == "list":
        return st.lists(_item_strategy(value), min_size=length, max_size=length)
    if kind == "series":
        return _column_strategy(value, length).map(lambda v, s=value: _like_series(s, v))
    if kind == "frame":
        import pandas as pd

        columns = [_column_strategy(value.iloc[:, j], length) for j in range(value.shape[1])]

        def build(cols: tuple, frame: Any = value) -> Any:
            out = pd.DataFrame(
                {j: _like_series(frame.iloc[:, j], c) for j, c in enumerate(cols)},
                index=pd.RangeIndex(len(cols[0]) if cols else 0),
            )
            out.columns = frame.columns
            return out

        return st.tuples(*columns).map(build)
    # other row kinds (datetimes, objects, sparse, tensors): rows drawn from the example
    n = _length(value) or 0
    if n == 0:
        return st.just(copy.deepcopy(value))
    return st.lists(st.integers(0, n - 1), min_size=length, max_size=length).map(
        lambda idx, v=value: _take(v, np.asarray(idx, dtype=np.intp))
    )


def _elements(flat: np.ndarray):
    from hypothesis import strategies as st

    if flat.dtype.kind == "b":
        return st.booleans()
    finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    if finite.size == 0:
        lo, hi = 0, 1
    else:
        lo, hi = finite.min().item(), finite.max().item()
    if flat.dtype.kind in "iu":
        return st.integers(int(lo), int(hi))
    width = {2: 16, 4: 32}.get(flat.dtype.itemsize, 64)
    nan = bool(np.isnan(flat).any())
    return st.floats(float(lo), float(hi), width=width, allow_nan=False) | (
        st.just(float("nan")) if nan else st.nothing()
    )


def _item_strategy(items: list):
    from hypothesis import strategies as st

    if items and all(type(x) is int for x in items):
        return st.integers(min(items), max(items))
    if items and all(type(x) is float for x in items):
        return _elements(np.asarray(items, dtype=float))
    if items and all(isinstance(x, str) for x in items):
        alphabet = sorted(set("".join(items))) or ["a"]
        longest = max(len(x) for x in items)
        return st.text(alphabet=alphabet, max_size=max(1, longest)) | st.sampled_from(items)
    if items:
        return st.sampled_from(items).map(copy.deepcopy)
    return st.nothing()


def _column_strategy(series: Any, length: int):
    """A column's values: numbers in the column's range, anything else drawn from it."""
    from hypothesis import strategies as st

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return st.lists(_elements(np.asarray(series)), min_size=length, max_size=length)
    values = list(series.dropna().unique()) if len(series) else []
    if series.isna().any():
        values.append(None)
    if not values:
        return st.just([None] * length)
    return st.lists(st.sampled_from(values), min_size=length, max_size=length)


def _like_series(like: Any, values: list) -> Any:
    import pandas as pd

    out = pd.Series(values, name=like.name, dtype=object if not values else None)
    try:
        return out.astype(like.dtype)
    except (TypeError, ValueError):
        return out


def _generated(args: tuple, which: list[int], count: int) -> list[tuple[tuple, int]]:
    """``count`` argument tuples Hypothesis draws (deterministically), with their row counts:
    the row arguments share a length from 0 to 5; other arguments stay as in the example."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    if not which:
        return []

    def tuple_of(length: int):
        return st.tuples(*[_strategy_for(args[i], length) for i in which]).map(
            lambda rows, n=length: (_with(args, which, rows), n)
        )

    strategy = st.integers(0, 5).flatmap(tuple_of)
    drawn: list[tuple[tuple, int]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(case: tuple[tuple, int]) -> None:
        drawn.append(case)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return drawn


def _with(args: tuple, which: list[int], rows: tuple) -> tuple:
    replaced = dict(zip(which, rows))
    return tuple(replaced[i] if i in replaced else copy.deepcopy(a) for i, a in enumerate(args))


# -- putting an example together --------------------------------------------------------------


def _from_example(
    args: tuple,
    call: str,
    source: str,
    sizes: Sequence[int] | None,
    task: Task,
    limits: Limits | None,
    hardened: bool,
    where: str = "",
) -> Inputs:
    named = f"{source} ({where})" if where else source  # history (In[7])
    rows, which = _rows(args)
    notes: list[str] = []
    if rows is None:
        return Inputs(
            [args],
            [f"{named} {call}"],
            _MakeArgs(None, args),
            1,
            source,
            f"{named} {call} (no rows to shrink or resample)",
            notes=[
                f"timing reuses the {source}'s own values (its arguments have no rows to "
                "resample): pass --inputs NAME (NAME(n) -> tuple of arguments) to time on fresh values"
            ],
            details={"call": call, "rows": None},
        )
    # subsets of the real rows: the first rows for the smallest, random subsets (in order) above
    rng = np.random.default_rng(0)
    unit = _unit(args, which)
    chosen = sorted({n for n in (sizes or SHRINK_SIZES) if 0 < n < rows})
    derived: list[tuple[tuple, str, str]] = []
    for n in chosen:
        prefix = n <= 3 or unit == "characters"  # text: its beginning, words intact
        idx = np.arange(n) if prefix else np.sort(rng.choice(rows, n, replace=False))
        try:
            derived.append((_subset(args, which, idx), f"{n} of {rows:,} {unit}", "shrunk"))
        except Exception as exc:  # a type whose rows cannot be taken: no subsets
            notes.append(f"no subsets of the {source}: taking rows failed ({_one_line(exc)})")
            break
    try:
        generated = _generated(args, which, GENERATED)
    except Exception as exc:  # an argument Hypothesis cannot imitate: no generated cases
        generated = []
        notes.append(f"no generated inputs: {_one_line(exc)}")
    for case, n in generated:
        size = f"{n * 4} characters" if unit == "characters" else f"{n} {unit}"
        derived.append((case, f"generated, {size}" if n else "generated, empty", "generated"))
    modes = ["words"] if all(_kind(args[i]) == "str" for i in which) else ["bootstrap", "permute"]
    probes = []
    for mode in list(modes):
        try:
            probes += [
                (_Resample(args, which, rows, mode, limit=PROBE_ROWS)(s), mode) for s in (1, 2)
            ]
        except Exception:  # rows of this type cannot be drawn so: not a timing mode
            modes.remove(mode)
    kept, dropped, accepted_modes = _screen(task, derived, probes, limits, hardened)
    if dropped:
        notes.append(
            f"{len(dropped)} derived input(s) left out because the reference raises on them "
            f"(e.g. {dropped[0]})"
        )
    mode = next((m for m in modes if m in accepted_modes), None)
    if mode is None:
        make: Callable[[int, int | None], tuple] = _MakeArgs(None, args)
        notes.append(
            f"timing reuses the {source}'s own values: the reference raised on resampled rows; "
            "pass --inputs NAME (NAME(n) -> tuple of arguments) to time on fresh values"
        )
        how = "its own values"
    else:
        make = _Resample(args, which, rows, mode)
        how = {
            "bootstrap": "rows resampled with replacement",
            "permute": "rows permuted",
            "words": "its words shuffled",
        }[mode]
    cases = [c for c, _, _ in kept] + [args]
    labels = [label for _, label, _ in kept] + [f"{source} ({rows:,} {unit})"]
    shrunk = [c for c in kept if c[2] == "shrunk"]
    generated = [c for c in kept if c[2] == "generated"]  # kept: the reference returned
    description = (
        f"{named} {call}: {rows:,} {unit}; verified on {len(shrunk)} subset(s), "
        f"{len(generated)} generated case(s) and the {source} itself; timed at {rows:,} {unit} ({how})"
    )
    return Inputs(
        cases,
        labels,
        make,
        rows,
        source,
        description,
        notes=notes,
        details={
            "call": call,
            "rows": rows,
            "unit": unit,
            "shrunk": len(shrunk),
            "generated": len(generated),
            "dropped": len(dropped),
            "timing": mode or "fixed",
        },
    )


def _screen(
    task: Task,
    derived: list[tuple[tuple, str, str]],
    probes: list[tuple[tuple, str]],
    limits: Limits | None,
    hardened: bool,
) -> tuple[list[tuple[tuple, str, str]], list[str], set[str]]:
    """Run the reference on the derived inputs and the resampling probes in a worker: keep
    the inputs it returns on, and the resampling modes it accepts on every probe."""
    cases = [c for c, _, _ in derived] + [p for p, _ in probes]
    if not cases:
        return [], [], set()
    limits = limits or Limits()
    program = Program("reference", task.source, task.entry, dumps_by_value(dict(task.context)))
    report = run_cases(program, cases, limits, hardened)
    if report.load_error:
        raise UsageError(f"the cell's code fails when run on its own: {report.load_error}")
    if report.fault and not report.cases:
        raise UsageError(
            f"the reference {report.fault.reason} on the inputs derived from the example; "
            "pass --inputs NAME to give inputs yourself"
        )
    kept, dropped = [], []
    for i, item in enumerate(derived):
        got = report.cases.get(i)
        if got is not None and "output" in got:
            kept.append(item)
        else:
            dropped.append(f"{item[1]}: {got['error'] if got else 'no result'}")
    modes = {m for _, m in probes}
    for j, (_, mode) in enumerate(probes):
        got = report.cases.get(len(derived) + j)
        if got is None or "output" not in got:
            modes.discard(mode)
    return kept, dropped, modes


# -- 3. stress: inputs that make the reference slow (WEDGE-style) ----------------------------

STRESS_VARIANTS = ("sorted", "reverse-sorted", "few distinct rows", "one repeated row")


def _sort_rows(value: Any, descending: bool) -> Any:
    kind = _kind(value)
    if kind == "array":
        key = value if value.ndim == 1 else value.reshape(len(value), -1)[:, 0]
        order = np.argsort(key, kind="stable")
    elif kind == "frame" and value.shape[1]:
        order = np.argsort(value.iloc[:, 0].to_numpy(), kind="stable")
    elif kind == "series":
        order = np.argsort(value.to_numpy(), kind="stable")
    elif kind == "list":
        try:
            order = np.asarray(sorted(range(len(value)), key=value.__getitem__), dtype=np.intp)
        except TypeError:
            return value
    elif kind == "str":
        parts = re.split(r"(\s+)", value)
        words = sorted((p for p in parts if p and not p.isspace()), reverse=descending)
        it = iter(words)
        return "".join(p if (not p or p.isspace()) else next(it) for p in parts)
    else:
        return value
    order = np.asarray(order)
    if descending:
        order = order[::-1]
    return _take(value, order, keep_labels=True)


class _Stress:
    """Fresh arguments of one stress shape (runs in the worker): resampled rows, then sorted,
    or drawn from a few distinct rows, or one row repeated."""

    def __init__(self, args: tuple, which: list[int], rows: int, variant: str) -> None:
        self.args, self.which, self.rows, self.variant = args, which, rows, variant

    def __call__(self, n: int, call: int | None = None) -> tuple:
        rng = np.random.default_rng(n if call is None else n + call)  # the size stays
        if self.variant in ("sorted", "reverse-sorted"):
            idx = rng.integers(0, self.rows, self.rows)
        elif self.variant == "few distinct rows":
            pool = rng.choice(self.rows, max(1, self.rows // 100), replace=False)
            idx = rng.choice(pool, self.rows)
        else:
            idx = np.full(self.rows, rng.integers(0, self.rows))
        out = []
        for i, a in enumerate(self.args):
            if i not in self.which:
                out.append(copy.deepcopy(a))
                continue
            value = _shuffle_words(a, rng) if _kind(a) == "str" else _take(a, idx, keep_labels=True)
            if self.variant in ("sorted", "reverse-sorted"):
                value = _sort_rows(value, self.variant == "reverse-sorted")
            out.append(value)
        return tuple(out)


def stress_timings(
    reference: Program,
    candidates: Sequence[tuple[Any, Program]],
    make: Callable[[int, int | None], tuple],
    size: int,
    reference_median: float,
    settings: Any,
    limits: Limits,
    tol: Tolerance,
) -> tuple[dict[str, Any], list[str]]:
    """Find the stress shape that slows the reference most, time every passed candidate
    against the reference on fresh inputs of that shape (one timing job each, outputs compared
    in full), and say how the speedups hold up. Returns (data for ``result.inputs``, notes)."""
    base = make(size)
    rows, which = _rows(base)
    if rows is None:
        return {"note": "no rows to stress"}, [
            "--stress: the arguments have no rows to sort or repeat; nothing to stress"
        ]
    variants = [_Stress(base, which, rows, v) for v in STRESS_VARIANTS]
    probe = run_cases(reference, [v(1) for v in variants], limits, settings.hardened)
    seconds = {
        v.variant: probe.cases[i]["seconds"]
        for i, v in enumerate(variants)
        if "output" in probe.cases.get(i, {})
    }
    if not seconds:
        return {"note": "the reference raised on every stress shape"}, [
            "--stress: the reference raised on every stress shape (sorted, duplicates); not stressed"
        ]
    worst = max(seconds, key=seconds.get)
    chosen = dumps_by_value(next(v for v in variants if v.variant == worst))
    plan = TimingPlan(size=size, budget=settings.time_budget, max_repeats=50)

    def timed(candidate: Program | None):
        return TimingJob(
            reference, candidate, chosen, plan, limits, settings.hardened, tol=tol
        ).run()

    ref = timed(None)
    if ref.fault or ref.load_error or not ref.reference.times:
        return {"variant": worst, "note": "timing the reference failed"}, [
            f"--stress: timing the reference on {worst} inputs failed; not stressed"
        ]
    ref_median = float(np.median(ref.reference.times))
    data: dict[str, Any] = {
        "variant": worst,
        "reference": ref_median,
        "probe_seconds": seconds,
        "slowdown": ref_median / reference_median if reference_median > 0 else None,
        "candidates": {},
    }
    notes = [
        f"--stress: {worst} rows slow the reference most ({_ms(ref_median)} a call, "
        f"{_times(data['slowdown'])} its time on the ordinary inputs)"
    ]
    for cand, program in candidates:
        got = timed(program)
        if got.fault or got.load_error or got.candidate is None or not got.candidate.times:
            data["candidates"][cand.id] = {"error": "failed on the stress inputs"}
            notes.append(f"--stress: {cand.id} failed on {worst} inputs")
            continue
        wrong = got.failure
        median = float(np.median(got.candidate.times))
        paired = float(np.median(got.reference.times))
        speedup = paired / median if median > 0 else float("inf")
        data["candidates"][cand.id] = {"median": median, "speedup": speedup, "wrong": wrong}
        if wrong:  # wrong on the stress inputs is wrong
            cand.status, cand.reason = "failed", f"{wrong} (stress inputs: {worst} rows)"
        notes.append(
            f"--stress: {cand.id} on {worst} inputs: "
            + (f"WRONG ({wrong})" if wrong else f"{_times(speedup)} ({_ms(median)} a call)")
        )
    return data, notes


def _times(ratio: float | None) -> str:
    if ratio is None:
        return "?x"
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"
