"""Mechanical Numba variants of the reference: no LLM, verification decides which are valid."""

from __future__ import annotations

import ast

from .._task import Task
from ._base import CandidateSpec

VARIANTS = (
    ("numba.njit", "", "compiled with numba.njit"),
    (
        "numba.fastmath",
        "fastmath=True",
        "numba.njit(fastmath=True): lets LLVM reorder floating-point maths",
    ),
    (
        "numba.parallel",
        "parallel=True",
        "numba.njit(parallel=True), outer loop over {var} made numba.prange",
    ),
    (
        "numba.parallel-fastmath",
        "parallel=True, fastmath=True",
        "numba.njit(parallel=True, fastmath=True), outer loop over {var} made numba.prange",
    ),
)


class NumbaStrategy:
    """``njit``, ``fastmath`` and ``parallel``/``prange`` variants of every function in the cell."""

    name = "numba"

    def propose(self, task: Task) -> list[CandidateSpec]:
        loop = _outer_range_loop(task.entry_node)
        specs = []
        for strategy, options, note in VARIANTS:
            parallel = "parallel" in options
            if parallel and loop is None:
                continue
            code = numba_variant(task.source, options, loop if parallel else None)
            var = loop.target.id if loop is not None and isinstance(loop.target, ast.Name) else "i"
            specs.append(CandidateSpec(code=code, strategy=strategy, note=note.format(var=var)))
        return specs


def _outer_range_loop(fn: ast.FunctionDef) -> ast.For | None:
    """The first ``for ... in range(...)`` reached from the function body, outermost first."""
    queue = list(fn.body)
    while queue:
        node = queue.pop(0)
        if isinstance(node, ast.For):
            it = node.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range":
                return node
        for field in ("body", "orelse", "finalbody"):
            if not isinstance(node, ast.For):  # a loop's body is inner: not a candidate
                queue.extend(getattr(node, field, []) or [])
    return None


def numba_variant(source: str, options: str, prange_loop: ast.For | None) -> str:
    """``source`` with ``@numba.njit(options)`` on each top-level function (text edits keep
    the user's formatting and comments) and, if given, that loop's ``range`` made ``prange``."""
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    edits: list[tuple[int, int, int, str]] = []  # (line index, col start, col end, text)
    if prange_loop is not None:
        func = prange_loop.iter.func
        edits.append((func.lineno - 1, func.col_offset, func.end_col_offset, "numba.prange"))
    decorator = f"@numba.njit({options})\n" if options else "@numba.njit\n"
    inserts = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            inserts.append(first)
    for row, start, end, text in sorted(edits, reverse=True):
        line = lines[row]
        lines[row] = line[:start] + text + line[end:]
    for row in sorted(inserts, reverse=True):
        indent = lines[row][: len(lines[row]) - len(lines[row].lstrip())]
        lines.insert(row, indent + decorator)
    return "import numba\n" + "".join(lines)
