"""Source rewrites behind the mechanical variants: each returns new code or says why not.

All edits are made on the text at AST positions, so the user's formatting and comments stay
where nothing changes. The code they produce is verified like any candidate: a rewrite that
is wrong for some input fails there, it is never trusted.
"""

from __future__ import annotations

import ast
import copy
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


# -- broadcast expressions and their reductions -> Numba loops ---------------------------------

_LOOP_REDUCTIONS = frozenset({"sum", "min", "max", "mean", "argmin", "argmax", "prod"})


class NotFusable(Exception):
    """Why a function's array expression cannot be written as loops (for the user)."""


class _Node:
    """An array expression: its broadcast ndim, and how to compute one element."""

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim


class _Leaf(_Node):
    def __init__(self, name: str, entries: list[bool] | None) -> None:
        # entries: for each index entry, True for ':' (a real axis), False for None
        super().__init__(len(entries) if entries is not None else 0)
        self.name, self.entries = name, entries


class _Const(_Node):
    def __init__(self, text: str) -> None:
        super().__init__(0)
        self.text = text


class _Op(_Node):
    def __init__(self, template: ast.expr, children: list[_Node], boolean: bool) -> None:
        super().__init__(max((c.ndim for c in children), default=0))
        self.template, self.children, self.boolean = template, children, boolean


class _Reduce(_Node):
    def __init__(self, kind: str, child: _Node, axis: int | None) -> None:
        if axis is not None:
            if not -child.ndim <= axis < child.ndim:
                raise NotFusable(f"axis {axis} does not exist on a {child.ndim}-d array")
            axis %= child.ndim
        super().__init__(0 if axis is None else child.ndim - 1)
        self.kind, self.child, self.axis = kind, child, axis


def fused_loops_variant(source: str, fn: ast.FunctionDef, np: set[str]) -> str:
    """``fn``'s broadcast expression (``X[:, None, :] - C[None, :, :]`` and the like) and the
    reductions over it written as Numba loops that make no temporary array; raises
    NotFusable with the reason."""
    if not np:
        raise NotFusable("it does not use NumPy")
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise NotFusable("it takes *args, **kwargs or keyword-only arguments")
    params = [a.arg for a in args.args]
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise NotFusable("it does not end in one return of an expression")
    env: dict[str, ast.expr] = {}
    for stmt in body[:-1]:
        if not (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            raise NotFusable(f"line {stmt.lineno} is not a plain assignment")
        env[stmt.targets[0].id] = _inline(stmt.value, env)
    result = _inline(body[-1].value, env)
    wrapper = None
    if (
        isinstance(result, ast.Call)
        and isinstance(result.func, ast.Name)
        and result.func.id in ("int", "float")
        and len(result.args) == 1
    ):
        wrapper, result = result.func.id, result.args[0]
    tree = _Builder(np, set(params)).build(result)
    if not _has(tree, _Reduce) and not _broadcasts(tree):
        raise NotFusable("no broadcast (x[:, None]) expression or reduction over one to fuse")
    if not _has(tree, _Leaf, indexed=True):
        raise NotFusable("no array indexed as a broadcast view (x[:, None]) to loop over")
    gen = _Gen()
    out_vars = [f"i{d}" for d in range(tree.ndim)]
    lines: list[str] = []
    if tree.ndim == 0:
        value = gen.emit(tree, [], lines, 1)
        lines.append(f"    return {value}")
    else:
        extents = [gen.extent(tree, d) for d in range(tree.ndim)]
        dtype = _dtype(tree)
        lines.append(f"    out = np.empty(({', '.join(extents)},){dtype})")
        for d, var in enumerate(out_vars):
            lines.append("    " * (d + 1) + f"for {var} in range({extents[d]}):")
        inner: list[str] = []
        value = gen.emit(tree, out_vars, inner, tree.ndim + 1)
        lines += inner
        lines.append("    " * (tree.ndim + 1) + f"out[{', '.join(out_vars)}] = {value}")
        lines.append("    return out")
    kernel = f"_wb_{fn.name}_loops"
    call = f"{kernel}({', '.join(params)})"
    if wrapper:
        call = f"{wrapper}({call})"
    numpy = sorted(np)[0]
    code = (
        f"\n\n@numba.njit\ndef {kernel}({', '.join(params)}):\n"
        + "\n".join(lines).replace("np.", f"{numpy}.")
        + f"\n\n\ndef {fn.name}({ast.unparse(fn.args)}):\n    return {call}\n"
    )
    start = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    source_lines = source.splitlines(keepends=True)
    before = "".join(source_lines[: start - 1])
    after = "".join(source_lines[fn.end_lineno :])  # type: ignore[misc]
    return "import math\nimport numba\n" + before.rstrip("\n") + "\n" + code + after


def _inline(node: ast.expr, env: dict[str, ast.expr]) -> ast.expr:
    class Sub(ast.NodeTransformer):
        def visit_Name(self, name: ast.Name) -> ast.AST:
            if isinstance(name.ctx, ast.Load) and name.id in env:
                return copy.deepcopy(env[name.id])
            return name

    return Sub().visit(copy.deepcopy(node))


def _has(node: _Node, kind: type, indexed: bool = False) -> bool:
    if isinstance(node, kind) and (not indexed or getattr(node, "entries", None) is not None):
        return True
    if isinstance(node, _Op):
        return any(_has(c, kind, indexed) for c in node.children)
    if isinstance(node, _Reduce):
        return _has(node.child, kind, indexed)
    return False


def _broadcasts(node: _Node) -> bool:
    if isinstance(node, _Leaf):
        return node.entries is not None and not all(node.entries)
    if isinstance(node, _Op):
        return any(_broadcasts(c) for c in node.children)
    return isinstance(node, _Reduce) and _broadcasts(node.child)


def _dtype(node: _Node) -> str:
    if isinstance(node, _Reduce) and node.kind in ("argmin", "argmax"):
        return ", dtype=np.int64"
    if isinstance(node, _Op) and node.boolean:
        return ", dtype=np.bool_"
    return ""


class _Builder:
    def __init__(self, np: set[str], params: set[str]) -> None:
        self.np, self.params = np, params

    def build(self, node: ast.expr) -> _Node:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return _Const(repr(node.value))
        if isinstance(node, ast.Name):
            if node.id not in self.params:
                raise NotFusable(f"{node.id} is not an argument")
            return _Leaf(node.id, None)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            index = node.slice
            items = index.elts if isinstance(index, ast.Tuple) else [index]
            entries = []
            for item in items:
                if isinstance(item, ast.Slice) and not (item.lower or item.upper or item.step):
                    entries.append(True)
                elif (isinstance(item, ast.Constant) and item.value is None) or (
                    isinstance(item, ast.Attribute) and item.attr == "newaxis"
                ):
                    entries.append(False)
                else:
                    raise NotFusable(
                        f"{ast.unparse(node)} is not a broadcast view (only : and None)"
                    )
            return _Leaf(node.value.id, entries)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _OK_BINOPS):
            return self._op(f"_wb_0 {_op_text(node)} _wb_1", [node.left, node.right], False)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self._op(f"{_op_text(node)}_wb_0", [node.operand], False)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            text = f"_wb_0 {_op_text(node)} _wb_1"
            return self._op(text, [node.left, node.comparators[0]], True)
        if isinstance(node, ast.Call):
            reduction = self._reduction(node)
            if reduction is not None:
                return reduction
            name = _np_attr(node.func, self.np)
            if name == "where" and len(node.args) == 3 and not node.keywords:
                op = self._op("_wb_1 if _wb_0 else _wb_2", list(node.args), False)
                op.boolean = False
                return op
            if name == "clip" and len(node.args) == 3 and not node.keywords:
                return self._op("min(max(_wb_0, _wb_1), _wb_2)", list(node.args), False)
            if name in _SCALAR_OF and not node.keywords and name != "square":
                holes = ", ".join(f"_wb_{i}" for i in range(len(node.args)))
                return self._op(f"{_SCALAR_OF[name]}({holes})", list(node.args), False)
            raise NotFusable(f"{ast.unparse(node.func)}() is not elementwise or a reduction")
        raise NotFusable(f"{ast.unparse(node)!r} is not elementwise arithmetic")

    def _op(self, template: str, operands: list[ast.expr], boolean: bool) -> _Op:
        children = [self.build(o) for o in operands]
        return _Op(ast.parse(template, mode="eval").body, children, boolean)

    def _reduction(self, node: ast.Call) -> _Node | None:
        func = node.func
        name = _np_attr(func, self.np)
        if name in _LOOP_REDUCTIONS and node.args:
            operand, rest = node.args[0], node.args[1:]
        elif isinstance(func, ast.Attribute) and func.attr in _LOOP_REDUCTIONS and name is None:
            name, operand, rest = func.attr, func.value, list(node.args)
        else:
            return None
        axis: int | None = None
        given = [*rest, *(k.value for k in node.keywords if k.arg == "axis")]
        if any(k.arg != "axis" for k in node.keywords) or len(given) > 1:
            raise NotFusable(f"{name}() with options other than axis")
        if given:
            value = given[0]
            if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
                value = ast.Constant(-value.operand.value)  # type: ignore[attr-defined]
            if not (isinstance(value, ast.Constant) and isinstance(value.value, int)):
                raise NotFusable(f"{name}() over an axis that is not a constant")
            axis = value.value
        child = self.build(operand)
        if name in ("argmin", "argmax") and axis is None and child.ndim != 1:
            raise NotFusable(f"{name}() of a flattened array")
        return _Reduce(name, child, axis)


class _Gen:
    """Scalar code for one element of a node, at given loop variables (right-aligned)."""

    def __init__(self) -> None:
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def extent(self, node: _Node, dim: int) -> str:
        found = self._extent(node, dim)
        if found is None:
            raise NotFusable("the size of a broadcast axis cannot be read from any array")
        return found

    def _extent(self, node: _Node, dim: int) -> str | None:
        if isinstance(node, _Leaf) and node.entries is not None:
            if node.entries[dim]:
                return f"{node.name}.shape[{sum(node.entries[:dim])}]"
            return None
        if isinstance(node, _Op):
            for child in node.children:
                offset = dim - (node.ndim - child.ndim)
                if offset >= 0:
                    found = self._extent(child, offset)
                    if found:
                        return found
            return None
        if isinstance(node, _Reduce):
            if node.axis is None:
                return None
            return self._extent(node.child, dim if dim < node.axis else dim + 1)
        return None

    def emit(self, node: _Node, idx: list[str], lines: list[str], depth: int) -> str:
        pad = "    " * depth
        if isinstance(node, _Const):
            return node.text
        if isinstance(node, _Leaf):
            if node.entries is None:
                return node.name
            used = [v for v, real in zip(idx[len(idx) - node.ndim :], node.entries) if real]
            return f"{node.name}[{', '.join(used)}]"
        if isinstance(node, _Op):
            values = [
                self.emit(c, idx[len(idx) - c.ndim :] if c.ndim else [], lines, depth)
                for c in node.children
            ]
            return ast.unparse(
                _fill(node.template, [ast.parse(v, mode="eval").body for v in values])
            )
        assert isinstance(node, _Reduce)
        child = node.child
        if node.axis is None:
            loop_vars = [self.fresh("k") for _ in range(child.ndim)]
            child_idx = loop_vars
        else:
            loop_vars = [self.fresh("k")]
            child_idx = idx[: node.axis] + loop_vars + idx[node.axis :]
        acc, best = self.fresh("acc"), self.fresh("best")
        init = {
            "sum": "0" if _boolean(child) else "0.0",
            "mean": "0.0",
            "prod": "1.0",
            "min": "np.inf",
            "max": "-np.inf",
            "argmin": "0",
            "argmax": "0",
        }[node.kind]
        lines.append(f"{pad}{acc} = {init}")
        if node.kind in ("argmin", "argmax"):
            lines.append(f"{pad}{best} = {'np.inf' if node.kind == 'argmin' else '-np.inf'}")
        for d, var in enumerate(loop_vars):
            axis = d if node.axis is None else node.axis
            lines.append("    " * (depth + d) + f"for {var} in range({self.extent(child, axis)}):")
        inner = depth + len(loop_vars)
        ipad = "    " * inner
        value = self.emit(child, child_idx, lines, inner)
        v = self.fresh("v")
        lines.append(f"{ipad}{v} = {value}")
        if node.kind in ("sum", "mean"):
            lines.append(f"{ipad}{acc} += {v}")
        elif node.kind == "prod":
            lines.append(f"{ipad}{acc} *= {v}")
        elif node.kind == "min":
            lines.append(f"{ipad}if {v} < {acc}:\n{ipad}    {acc} = {v}")
        elif node.kind == "max":
            lines.append(f"{ipad}if {v} > {acc}:\n{ipad}    {acc} = {v}")
        else:
            op = "<" if node.kind == "argmin" else ">"
            lines.append(
                f"{ipad}if {v} {op} {best}:\n{ipad}    {best} = {v}\n{ipad}    {acc} = {loop_vars[0]}"
            )
        if node.kind == "mean":
            count = (
                " * ".join(self.extent(child, d) for d in range(child.ndim))
                if node.axis is None
                else self.extent(child, node.axis)
            )
            return f"({acc} / ({count}))"
        return acc


def _boolean(node: _Node) -> bool:
    return isinstance(node, _Op) and node.boolean


def _fill(template: ast.expr, values: list[ast.expr]) -> ast.expr:
    """``template`` with its holes ``_wb_0``, ``_wb_1``, ... replaced by ``values``."""

    class Fill(ast.NodeTransformer):
        def visit_Name(self, name: ast.Name) -> ast.AST:
            if name.id.startswith("_wb_") and name.id[4:].isdigit():
                return copy.deepcopy(values[int(name.id[4:])])
            return name

    return Fill().visit(copy.deepcopy(template))


def _op_text(node: ast.AST) -> str:
    """The operator of a BinOp, UnaryOp or one-operator Compare, as source text."""
    if isinstance(node, ast.BinOp):
        return ast.unparse(ast.BinOp(ast.Name("a"), node.op, ast.Name("b")))[2:-2]
    if isinstance(node, ast.UnaryOp):
        return ast.unparse(ast.UnaryOp(node.op, ast.Name("a")))[:-1]
    assert isinstance(node, ast.Compare)
    return ast.unparse(ast.Compare(ast.Name("a"), node.ops, [ast.Name("b")]))[2:-2]
