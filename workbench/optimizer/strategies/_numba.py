"""Mechanical variants of the reference: no LLM, verification decides which are valid.

Each variant has an idea (the candidate's note) and a test of whether it applies; a variant
that does not apply is not run, and ``NumbaStrategy.skipped`` / ``.note`` say why. Before
compiling, idioms Numba cannot compile (``np.subtract.outer``) are rewritten as broadcasting;
a function that builds lists or dicts gets a wrapper that turns Numba's typed containers
back into Python ones.
"""

from __future__ import annotations

import ast

from .._task import Task
from ._base import CandidateSpec
from ._prange import LoopCheck, choose_prange_loop
from ._rewrites import (
    NotElementwise,
    NotFusable,
    builds_containers,
    calls_itself,
    fused_loops_variant,
    memoize_variant,
    numpy_names,
    python_types_wrapper,
    rewrite_outer,
    vectorize_variant,
)

#: (strategy, numba.njit options, idea)
VARIANTS = (
    ("numba.njit", "", "compiled with numba.njit"),
    (
        "numba.fastmath",
        "fastmath=True",
        "numba.njit(fastmath=True): lets LLVM reorder floating-point maths",
    ),
    ("numba.parallel", "parallel=True", "numba.njit(parallel=True), {how}"),
    (
        "numba.parallel-fastmath",
        "parallel=True, fastmath=True",
        "numba.njit(parallel=True, fastmath=True), {how}",
    ),
)
#: every variant this strategy knows, for the explorer and the docs
IDEAS = {
    **{name: idea.format(how="outer loop made numba.prange") for name, _, idea in VARIANTS},
    "numba.vectorize": "an elementwise kernel as one numba.vectorize ufunc: one fused pass, "
    "no temporary arrays",
    "numba.loops": "the broadcast expression and its reductions written as Numba loops: "
    "no temporary arrays",
    "memoize": "recursive calls cached with functools.lru_cache, emptied after each call",
}


class NumbaStrategy:
    """``njit``, ``fastmath``, ``parallel`` (``prange`` where the loop is safe, fused array
    expressions where there is no loop), ``vectorize`` for elementwise kernels, ``loops`` for
    broadcast expressions and their reductions, and cached recursion for recursive pure
    functions."""

    name = "numba"

    def __init__(self) -> None:
        #: (variant, why it was not proposed) from the last ``propose``
        self.skipped: list[tuple[str, str]] = []
        #: one line for the run's notes: what was not tried and why (None when all were)
        self.note: str | None = None

    def propose(self, task: Task) -> list[CandidateSpec]:
        self.skipped = []
        tree = ast.parse(task.source)
        np = numpy_names(tree, task.context)
        source, rewritten = rewrite_outer(task.source, np)
        prepared = ""
        if rewritten:
            prepared = (
                f"; {', '.join(rewritten)} written as broadcasting (Numba has no ufunc.outer)"
            )
        fn = _entry(ast.parse(source), task.entry)
        wrap = builds_containers(fn) and not calls_itself(fn)
        if wrap:
            prepared += "; typed lists/dicts converted back to Python ones"
        check = choose_prange_loop(fn)
        specs = []
        for strategy, options, idea in VARIANTS:
            parallel = "parallel" in options
            loop = None
            if parallel:
                how = self._parallel_how(check, fn, np, strategy)
                if how is None:
                    continue
                loop = check.loop if check is not None and check.safe else None
                idea = idea.format(how=how)
            code = numba_variant(source, options, loop)
            if wrap:
                code += python_types_wrapper(task.entry)
            specs.append(CandidateSpec(code=code, strategy=strategy, note=idea + prepared))
        specs += self._vectorize(task, np)
        specs += self._loops(source, task.entry, np, prepared)
        specs += self._memoize(task, tree)
        self.note = skipped_note(self.skipped)
        return specs

    def _parallel_how(
        self, check: LoopCheck | None, fn: ast.FunctionDef, np: set[str], strategy: str
    ) -> str | None:
        """How the parallel variant parallelises this function, or None (reason recorded)."""
        if check is not None and check.safe:
            how = f"outer loop over {check.var} made numba.prange"
            if check.reductions:
                how += f" ({', '.join(check.reductions)}: parallel reduction)"
            return how
        if check is not None:
            self._skip(strategy, f"no prange: {check.reason}")
            return None
        if not np or not _uses_arrays(fn, np):
            self._skip(strategy, "no range loop and no NumPy array expressions to parallelise")
            return None
        if _broadcasts_with_none(fn):
            self._skip(
                strategy,
                "Numba's parallel pass cannot fuse arrays broadcast with None/np.newaxis",
            )
            return None
        return "array expressions fused into multi-threaded loops (no Python loop to prange)"

    def _vectorize(self, task: Task, np: set[str]) -> list[CandidateSpec]:
        try:
            code = vectorize_variant(task.source, task.entry_node, np)
        except NotElementwise as exc:
            self._skip("numba.vectorize", f"not an elementwise kernel: {exc}")
            return []
        return [CandidateSpec(code=code, strategy="numba.vectorize", note=IDEAS["numba.vectorize"])]

    def _loops(self, source: str, entry: str, np: set[str], prepared: str) -> list[CandidateSpec]:
        try:
            code = fused_loops_variant(source, _entry(ast.parse(source), entry), np)
        except NotFusable as exc:
            self._skip("numba.loops", f"no broadcast expression to fuse: {exc}")
            return []
        note = IDEAS["numba.loops"] + prepared.replace(
            "; typed lists/dicts converted back to Python ones", ""
        )
        return [CandidateSpec(code=code, strategy="numba.loops", note=note)]

    def _memoize(self, task: Task, tree: ast.Module) -> list[CandidateSpec]:
        try:
            code, cached = memoize_variant(task.source, tree, task.entry)
        except ValueError as exc:
            self._skip("memoize", str(exc))
            return []
        names = ", ".join(n.removeprefix("_wb_").removesuffix("_memo") for n in cached)
        note = (
            f"recursive calls of {names} cached with functools.lru_cache, emptied after each call"
        )
        return [CandidateSpec(code=code, strategy="memoize", note=note)]

    def _skip(self, strategy: str, why: str) -> None:
        if all(name != strategy for name, _ in self.skipped):
            self.skipped.append((strategy, why))


def skipped_note(skipped: list[tuple[str, str]]) -> str | None:
    """One line: the variants not tried, those with the same reason together."""
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped:
        by_reason.setdefault(why, []).append(name)
    if not by_reason:
        return None
    parts = [f"{', '.join(names)}: {why}" for why, names in by_reason.items()]
    return "mechanical variants not tried: " + "; ".join(parts)


def _entry(tree: ast.Module, entry: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            return node
    raise AssertionError("entry vanished from source")


def _uses_arrays(fn: ast.FunctionDef, np: set[str]) -> bool:
    """NumPy calls or arithmetic (on arrays, in a module that imports NumPy)."""
    return any(
        (isinstance(n, ast.Name) and n.id in np) or isinstance(n, (ast.BinOp, ast.Compare))
        for n in ast.walk(fn)
    )


def _broadcasts_with_none(fn: ast.FunctionDef) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Subscript):
            index = node.slice
            elements = index.elts if isinstance(index, ast.Tuple) else [index]
            for e in elements:
                if isinstance(e, ast.Constant) and e.value is None:
                    return True
                if isinstance(e, ast.Attribute) and e.attr == "newaxis":
                    return True
    return False


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
