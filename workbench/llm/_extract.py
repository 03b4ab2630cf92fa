"""Pull one usable Python program out of a model's reply.

Real replies wrap code in prose, use ```python / ```py / bare fences (sometimes never closed
because the reply hit max_tokens), show the original next to the new version, forget
``import numpy as np``, or call the function something else. :func:`extract_code` picks the
block that defines the entry point (helpers from other blocks come along), adds the missing
imports it recognises, renames the one function that fits when the entry is missing, drops
example calls at module level, and otherwise says why there is no usable code.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from dataclasses import dataclass, field

_FENCE = re.compile(
    r"^[ \t]*(```+|~~~+)[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S
)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython", "numba", "cuda"}
_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.S)
_CODE_START = re.compile(r"^(import |from \w|def |async def |class |@|[A-Za-z_]\w* *=)")

# names a model uses without importing them, and the import that binds each
_KNOWN_IMPORTS = {
    "np": "import numpy as np",
    "numpy": "import numpy",
    "numba": "import numba",
    "nb": "import numba as nb",
    "njit": "from numba import njit",
    "jit": "from numba import jit",
    "prange": "from numba import prange",
    "vectorize": "from numba import vectorize",
    "guvectorize": "from numba import guvectorize",
    "math": "import math",
    "cp": "import cupy as cp",
    "cupy": "import cupy",
    "cuda": "from numba import cuda",
    "functools": "import functools",
    "lru_cache": "from functools import lru_cache",
    "itertools": "import itertools",
    "collections": "import collections",
    "defaultdict": "from collections import defaultdict",
    "Counter": "from collections import Counter",
    "deque": "from collections import deque",
    "heapq": "import heapq",
    "bisect": "import bisect",
}
_BUILTINS = set(dir(builtins))


@dataclass
class Extraction:
    """The code found in a reply, or why there is none (``code`` is None then)."""

    code: str | None
    reason: str | None = None  # why nothing usable was found; goes back to the model
    notes: list[str] = field(default_factory=list)  # what was repaired, for the session

    @property
    def ok(self) -> bool:
        return self.code is not None


@dataclass
class _Block:
    source: str
    tree: ast.Module | None = None
    error: str | None = None


def extract_code(reply: str, entry: str | None = None, *, arity: int | None = None) -> Extraction:
    """The program in ``reply`` that defines ``entry`` (a function name), repaired if needed.

    ``arity`` (the entry's number of parameters) decides which function to rename when the
    reply defines no ``entry``: exactly one top-level function must fit.
    """
    text = _THINK.sub("", reply or "").strip()
    if not text:
        return Extraction(
            None, "the reply was empty: write the complete function in a ```python block"
        )
    blocks = [_parse(b) for b in _candidate_blocks(text)]
    parsed = [b for b in blocks if b.tree is not None]
    if not parsed:
        errors = [b.error for b in blocks if b.error]
        if errors:
            return Extraction(None, f"the code does not parse ({errors[-1]}): return valid Python")
        return Extraction(None, "the reply holds no Python code: write it in a ```python block")

    notes: list[str] = []
    chosen = None
    if entry is not None:
        defining = [b for b in parsed if entry in _top_functions(b.tree)]
        if defining:
            chosen = defining[-1]  # the last version is the model's answer, earlier ones quote
    if chosen is None:
        chosen = _best_without_entry(parsed)
    code = chosen.source

    helpers = _helpers_from_other_blocks(chosen, parsed)
    if helpers:
        code = "\n\n".join([*helpers.values(), code])
        notes.append(f"took {', '.join(helpers)} from other code blocks")

    tree = ast.parse(code)
    if entry is not None and entry not in _top_functions(tree):
        functions = _top_functions(tree)
        fitting = [
            name for name, node in functions.items() if arity is None or _accepts(node, arity)
        ]
        if len(fitting) != 1:
            listed = ", ".join(functions) or "none"
            return Extraction(
                None,
                f"no function named {entry} in the code (functions: {listed}): "
                f"define {entry} with the same parameters",
            )
        code = _rename(code, fitting[0], entry)
        notes.append(f"renamed {fitting[0]} to {entry}")
        tree = ast.parse(code)

    code, dropped = _drop_demo_statements(code, tree)
    if dropped:
        notes.append(f"dropped {dropped} example statement(s) at module level")
        tree = ast.parse(code)

    if entry is not None and _is_stub(_top_functions(tree)[entry]):
        return Extraction(None, f"{entry} has no body (only pass/...): write the implementation")

    added = _missing_imports(tree)
    if added:
        code = _insert_imports(code, tree, added)
        notes.append("added " + "; ".join(added))
    return Extraction(code.strip() + "\n", None, notes)


def _candidate_blocks(text: str) -> list[str]:
    fenced = [(tag.lower(), body) for _, tag, body in _FENCE.findall(text)]
    python = [body for tag, body in fenced if tag in _PYTHON_TAGS]
    if python:
        return python
    if fenced:  # fences in an unexpected language: still better than the prose around them
        return [body for _, body in fenced]
    bare = _strip_prose(text)
    return [bare] if bare is not None else []


def _strip_prose(text: str) -> str | None:
    """Bare code with sentences around it: keep the lines from the first code-like line on."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None  # prose only
    body = lines[start:]
    # drop trailing prose lines until the rest parses
    for end in range(len(body), 0, -1):
        candidate = "\n".join(body[:end])
        try:
            ast.parse(candidate)
            return candidate
        except SyntaxError:
            if body[end - 1].startswith((" ", "\t")) or not body[end - 1].strip():
                continue
    return "\n".join(body)


def _parse(source: str) -> _Block:
    source = source.strip("\n")
    try:
        return _Block(source, ast.parse(source))
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        where = f"line {exc.lineno}: {exc.msg}" + (f" in {line[:60]!r}" if line else "")
        cut = _cut_off_tail(source, exc.lineno or 0)
        return cut if cut is not None else _Block(source, None, where)


def _cut_off_tail(source: str, bad_line: int) -> _Block | None:
    """A reply cut off (or gone wrong) after its functions, in example calls at module level:
    the code up to the top-level statement holding the error, when that defines a function."""
    lines = source.splitlines()
    for end in range(min(bad_line, len(lines)) - 1, 0, -1):
        if lines[end][:1].strip() and not lines[end].startswith((")", "]", "}")):
            head = "\n".join(lines[:end]).rstrip()
            try:
                tree = ast.parse(head)
            except SyntaxError:
                continue
            if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in tree.body):
                return _Block(head, tree)
            return None
    return None


def _top_functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _best_without_entry(blocks: list[_Block]) -> _Block:
    with_functions = [b for b in blocks if _top_functions(b.tree)]  # type: ignore[arg-type]
    return (with_functions or blocks)[-1]


def _loaded_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound_names(tree: ast.Module) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
    return bound


def _helpers_from_other_blocks(chosen: _Block, blocks: list[_Block]) -> dict[str, str]:
    """Functions the chosen block calls but defines in another block."""
    missing = _loaded_names(chosen.tree) - _bound_names(chosen.tree) - _BUILTINS  # type: ignore[arg-type]
    helpers: dict[str, str] = {}
    for block in blocks:
        if block is chosen:
            continue
        for name, node in _top_functions(block.tree).items():  # type: ignore[arg-type]
            if name in missing and name not in helpers:
                helpers[name] = ast.get_source_segment(block.source, node, padded=False) or ""
                decorators = node.decorator_list
                if decorators:  # get_source_segment leaves decorators out
                    first = min(d.lineno for d in decorators)
                    lines = block.source.splitlines()[first - 1 : node.end_lineno]
                    helpers[name] = "\n".join(lines)
    return helpers


def _accepts(node: ast.FunctionDef | ast.AsyncFunctionDef, arity: int) -> bool:
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    return required <= arity and (arity <= positional or args.vararg is not None)


def _rename(code: str, old: str, new: str) -> str:
    """Rename the name token ``old`` (not attributes ``x.old``) to ``new``, keeping layout."""
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    spots = [
        tok.start
        for i, tok in enumerate(tokens)
        if tok.type == tokenize.NAME
        and tok.string == old
        and not (i > 0 and tokens[i - 1].string == ".")
    ]
    lines = code.splitlines(keepends=True)
    for row, col in reversed(spots):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + len(old) :]
    return "".join(lines)


def _drop_demo_statements(code: str, tree: ast.Module) -> tuple[str, int]:
    """Remove ``if __name__ == "__main__":`` blocks and bare calls such as ``print(f(3))``.

    They would run when the candidate is loaded in the worker, costing time and output.
    """
    defined = set(_top_functions(tree))
    spans = []
    for node in tree.body:
        is_main = (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        )
        is_call = (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and (node.value.func.id == "print" or node.value.func.id in defined)
        )
        if is_main or is_call:
            spans.append((node.lineno, node.end_lineno or node.lineno))
    if not spans:
        return code, 0
    lines = code.splitlines(keepends=True)
    for start, end in reversed(spans):
        del lines[start - 1 : end]
    return "".join(lines), len(spans)


def _is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # docstring
    return all(
        isinstance(s, ast.Pass)
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is ...)
        for s in body
    )


def _missing_imports(tree: ast.Module) -> list[str]:
    free = _loaded_names(tree) - _bound_names(tree) - _BUILTINS
    return [_KNOWN_IMPORTS[name] for name in sorted(free) if name in _KNOWN_IMPORTS]


def _insert_imports(code: str, tree: ast.Module, imports: list[str]) -> str:
    """Put the imports after a module docstring and ``from __future__`` lines."""
    after = 0
    for index, node in enumerate(tree.body):
        docstring = (
            index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        )
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if docstring or future:
            after = node.end_lineno or after
        else:
            break
    lines = code.splitlines(keepends=True)
    block = [line + "\n" for line in imports]
    return "".join(lines[:after] + block + lines[after:])
