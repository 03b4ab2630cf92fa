"""Source rewrites behind the mechanical variants: each returns new code or says why not.

All edits are made on the text at AST positions, so the user's formatting and comments stay
where nothing changes. The code they produce is verified like any candidate: a rewrite that
is wrong for some input fails there, it is never trusted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

# -- shared text editing ---------------------------------------------------------------------


def replace_nodes(source: str, edits: Iterable[tuple[ast.AST, str]]) -> str:
    """``source`` with each node's text replaced (nodes must not overlap)."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(row: int, col: int) -> int:  # col is in UTF-8 bytes
        line = lines[row - 1]
        return starts[row - 1] + len(line.encode()[:col].decode(errors="ignore"))

    spans = sorted(
        (
            (
                offset(n.lineno, n.col_offset),  # type: ignore[attr-defined]
                offset(n.end_lineno, n.end_col_offset),  # type: ignore[attr-defined]
                text,
            )
            for n, text in edits
        ),
        reverse=True,
    )
    for start, end, text in spans:
        source = source[:start] + text + source[end:]
    return source


def numpy_names(tree: ast.Module, context: Mapping[str, Any] | None = None) -> set[str]:
    """The names NumPy goes by in this code (``np`` for ``import numpy as np``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    names.add(alias.asname or "numpy")
    for name, value in (context or {}).items():
        if isinstance(value, ModuleType) and value.__name__ == "numpy":
            names.add(name)
    return names


def _np_attr(node: ast.AST, np: set[str]) -> str | None:
    """``exp`` for ``np.exp``; None for anything else."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in np:
        return node.attr
    return None


# -- ufunc.outer -> broadcasting (Numba has no ufunc methods) ----------------------------------

_OUTER_OPS = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "divide": "/",
    "true_divide": "/",
    "floor_divide": "//",
    "power": "**",
    "equal": "==",
    "not_equal": "!=",
    "less": "<",
    "less_equal": "<=",
    "greater": ">",
    "greater_equal": ">=",
}


def rewrite_outer(source: str, np: set[str]) -> tuple[str, list[str]]:
    """``np.subtract.outer(a, b)`` written as ``a[:, None] - b[None, :]`` (what Numba can
    compile, for 1-D operands; verification catches others); the rewritten idioms."""
    tree = ast.parse(source)
    edits, seen = [], []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "outer"
            and len(node.args) == 2
            and not node.keywords
        ):
            continue
        ufunc = _np_attr(node.func.value, np)
        if ufunc is None:
            continue
        a, b = (_operand(arg) for arg in node.args)
        op = _OUTER_OPS.get(ufunc)
        if op:
            text = f"({a}[:, None] {op} {b}[None, :])"
        else:
            text = f"{ast.unparse(node.func.value)}({a}[:, None], {b}[None, :])"
        edits.append((node, text))
        seen.append(f"{ast.unparse(node.func)}")
    if not edits:
        return source, []
    return replace_nodes(source, edits), sorted(set(seen))


def _operand(node: ast.expr) -> str:
    text = ast.unparse(node)
    simple = isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call))
    return text if simple else f"({text})"


# -- typed containers back to Python types -----------------------------------------------------

_CONTAINER_NODES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
_CONTAINER_FUNCS = frozenset({"list", "dict", "set", "sorted", "tuple"})


def builds_containers(fn: ast.FunctionDef) -> bool:
    """Whether the function makes Python lists, dicts or sets (Numba makes typed ones)."""
    for node in ast.walk(fn):
        if isinstance(node, _CONTAINER_NODES):
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CONTAINER_FUNCS
        ):
            return True
    return False


def calls_itself(fn: ast.FunctionDef) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == fn.name
        for n in ast.walk(fn)
    )


def python_types_wrapper(entry: str) -> str:
    """Code that rebinds ``entry`` (a Numba dispatcher) to a function that converts
    ``numba.typed.Dict``/``List`` in what it returns back to ``dict``/``list``, and passes a
    ``dict`` argument to Numba as a typed dict (Numba cannot take a Python dict)."""
    return f'''

_wb_compiled_{entry} = {entry}


def _wb_to_python(value):
    """Numba's typed containers as the Python types the original returns."""
    if isinstance(value, numba.typed.Dict):
        return {{_wb_to_python(k): _wb_to_python(v) for k, v in value.items()}}
    if isinstance(value, (numba.typed.List, list)):
        return [_wb_to_python(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wb_to_python(v) for v in value)
    if isinstance(value, set):
        return {{_wb_to_python(v) for v in value}}
    return value


def _wb_to_numba(value):
    """A Python dict argument as a typed dict (Numba cannot take a Python dict)."""
    if type(value) is dict and value:
        typed = numba.typed.Dict()
        for k, v in value.items():
            typed[k] = v
        return typed
    return value


def {entry}(*args, **kwargs):
    args = [_wb_to_numba(a) for a in args]
    kwargs = {{k: _wb_to_numba(v) for k, v in kwargs.items()}}
    return _wb_to_python(_wb_compiled_{entry}(*args, **kwargs))
'''


# -- elementwise kernels -> numba.vectorize --------------------------------------------------

#: NumPy ufuncs and what they are on one number inside a Numba-compiled scalar function
_SCALAR_OF = {
    "exp": "math.exp",
    "expm1": "math.expm1",
    "log": "math.log",
    "log1p": "math.log1p",
    "log2": "math.log2",
    "log10": "math.log10",
    "sqrt": "math.sqrt",
    "sin": "math.sin",
    "cos": "math.cos",
    "tan": "math.tan",
    "arcsin": "math.asin",
    "arccos": "math.acos",
    "arctan": "math.atan",
    "arctan2": "math.atan2",
    "hypot": "math.hypot",
    "sinh": "math.sinh",
    "cosh": "math.cosh",
    "tanh": "math.tanh",
    "floor": "math.floor",
    "ceil": "math.ceil",
    "abs": "abs",
    "absolute": "abs",
    "fabs": "math.fabs",
    "maximum": "max",
    "minimum": "min",
    "power": "pow",
    "square": "_wb_square",
}
_REDUCTIONS = frozenset({"sum", "prod", "max", "min", "mean"})
_OK_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


class NotElementwise(Exception):
    """Why a function is not an elementwise kernel (the message is for the user)."""


def vectorize_variant(source: str, fn: ast.FunctionDef, np: set[str]) -> str:
    """``fn`` as a ``numba.vectorize`` scalar kernel (one fused pass over the arrays, no
    temporaries) called by a function of the same signature; raises NotElementwise."""
    if not np:
        raise NotElementwise("it does not use NumPy")
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise NotElementwise("it takes *args, **kwargs or keyword-only arguments")
    params = [a.arg for a in args.args]
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise NotElementwise("it does not end in one return of an expression")
    scalar = _Scalar(np, set(params))
    lines: list[str] = []
    for stmt in body[:-1]:
        if not (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            raise NotElementwise(
                f"line {stmt.lineno} is not a plain assignment of an array expression"
            )
        lines.append(f"{stmt.targets[0].id} = {scalar.convert(stmt.value)}")
        scalar.known.add(stmt.targets[0].id)
    result = body[-1].value
    reduction = _reduction_of(result, np)
    if reduction is not None:
        result = reduction[1]
    lines.append(f"return {scalar.convert(result)}")
    if scalar.operations < 2:
        raise NotElementwise("it has fewer than two array operations to fuse")
    kernel = f"_wb_{fn.name}_kernel"
    call = f"{kernel}({', '.join(params)})"
    if reduction is not None:
        call = f"{next(iter(sorted(np)))}.{reduction[0]}({call})"
    signature = ast.unparse(fn.args)
    helper = ""
    if "_wb_square(" in "\n".join(lines):
        helper = "\n\n@numba.njit\ndef _wb_square(v):\n    return v * v\n"
    body_text = "\n".join("    " + line for line in lines)
    code = (
        f"{helper}\n\n@numba.vectorize\ndef {kernel}({', '.join(params)}):\n{body_text}\n\n\n"
        f"def {fn.name}({signature}):\n    return {call}\n"
    )
    start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    source_lines = source.splitlines(keepends=True)
    before = "".join(source_lines[: start - 1])
    after = "".join(source_lines[fn.end_lineno :])  # type: ignore[misc]
    return "import math\nimport numba\n" + before.rstrip("\n") + "\n" + code + after


def _reduction_of(node: ast.expr, np: set[str]) -> tuple[str, ast.expr] | None:
    """``("sum", E)`` for ``np.sum(E)`` or ``E.sum()`` (no axis): the kernel computes E."""
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    name = _np_attr(node.func, np)
    if name in _REDUCTIONS and len(node.args) == 1:
        return name, node.args[0]
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _REDUCTIONS
        and not node.args
        and _np_attr(func, np) is None
    ):
        return func.attr, func.value
    return None


class _Scalar:
    """Translate an array expression into the same expression on one element."""

    def __init__(self, np: set[str], known: set[str]) -> None:
        self.np, self.known, self.operations = np, known, 0

    def convert(self, node: ast.expr) -> str:
        return ast.unparse(self._visit(node))

    def _visit(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                return node
            raise NotElementwise(f"the constant {node.value!r} is not a number")
        if isinstance(node, ast.Name):
            return node
        if isinstance(node, ast.BinOp) and isinstance(node.op, _OK_BINOPS):
            self.operations += 1
            return ast.BinOp(self._visit(node.left), node.op, self._visit(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return ast.UnaryOp(node.op, self._visit(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            self.operations += 1
            return ast.Compare(self._visit(node.left), node.ops, [self._visit(node.comparators[0])])
        if isinstance(node, ast.Call) and not node.keywords:
            name = _np_attr(node.func, self.np)
            if name == "where" and len(node.args) == 3:
                self.operations += 1
                cond, a, b = (self._visit(arg) for arg in node.args)
                return ast.IfExp(cond, a, b)
            if name == "clip" and len(node.args) == 3:
                self.operations += 1
                x, lo, hi = (self._visit(arg) for arg in node.args)
                inner = ast.Call(ast.Name("max"), [x, lo], [])
                return ast.Call(ast.Name("min"), [inner, hi], [])
            if name in _SCALAR_OF:
                self.operations += 1
                args = [self._visit(arg) for arg in node.args]
                return ast.Call(ast.parse(_SCALAR_OF[name], mode="eval").body, args, [])
            what = ast.unparse(node.func)
            raise NotElementwise(f"{what}() is not an elementwise operation it can fuse")
        raise NotElementwise(f"{ast.unparse(node)!r} is not elementwise arithmetic")


# -- memoised recursion ------------------------------------------------------------------------

_IMPURE_CALLS = frozenset({"print", "input", "open", "random", "time", "perf_counter"})


def memoize_variant(source: str, tree: ast.Module, entry: str) -> tuple[str, list[str]]:
    """Self-recursive top-level functions cached with ``functools.lru_cache``, the caches
    emptied after each call of ``entry`` (so a timed call does the work the original does);
    raises ValueError with the reason when none qualifies."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    recursive = [f for f in functions.values() if calls_itself(f)]
    if not recursive:
        raise ValueError("no function calls itself")
    chosen, reasons = [], []
    for fn in recursive:
        why = _impure(fn)
        if why:
            reasons.append(f"{fn.name} {why}")
        else:
            chosen.append(fn)
    if not chosen:
        raise ValueError("; ".join(reasons))
    memo = {fn.name: f"_wb_{fn.name}_memo" for fn in chosen}
    edits: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in memo:
            edits.append((node.func, memo[node.func.id]))
    entry_fn = functions[entry]
    out = replace_nodes(source, edits)
    # rename the definitions (a def's name has no node of its own: edit the line)
    lines = out.splitlines(keepends=True)
    for fn in chosen:
        row = fn.lineno - 1
        lines[row] = lines[row].replace(f"def {fn.name}(", f"def {memo[fn.name]}(", 1)
        indent = lines[row][: len(lines[row]) - len(lines[row].lstrip())]
        first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)]) - 1
        lines[first] = indent + "@functools.lru_cache(maxsize=None)\n" + lines[first]
    out = "".join(lines)
    if entry_fn in chosen:
        inner = memo[entry]
    else:  # the entry calls a recursive helper: it keeps its name, its body moves
        out = out.replace(f"def {entry}(", f"def _wb_{entry}_plain(", 1)
        inner = f"_wb_{entry}_plain"
    params = ast.unparse(entry_fn.args)
    forward = _forward(entry_fn.args)
    clears = "\n".join(f"        {m}.cache_clear()" for m in memo.values())
    out += (
        f"\n\ndef {entry}({params}):\n"
        "    # each call starts with empty caches: it does the work a call of the original does\n"
        f"    try:\n        return {inner}({forward})\n    finally:\n{clears}\n"
    )
    return "import functools\n" + out, sorted(memo)


def _forward(args: ast.arguments) -> str:
    parts = [a.arg for a in [*args.posonlyargs, *args.args]]
    if args.vararg:
        parts.append(f"*{args.vararg.arg}")
    parts += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    if args.kwarg:
        parts.append(f"**{args.kwarg.arg}")
    return ", ".join(parts)


def _impure(fn: ast.FunctionDef) -> str | None:
    """Why caching ``fn``'s results could change what the program does."""
    params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    for node in ast.walk(fn):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            return "writes names outside itself"
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            return "is a generator"
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                if isinstance(t, (ast.Subscript, ast.Attribute)):
                    return "changes an object in place (a cached result could go stale)"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _IMPURE_CALLS:
                return f"calls {name}() (its results are not a function of its arguments)"
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ("append", "extend", "pop", "update", "add", "sort")
                and isinstance(func.value, ast.Name)
                and func.value.id in params
            ):
                return f"changes its argument {func.value.id} in place"
    return None
