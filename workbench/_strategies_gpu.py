"""Mechanical GPU candidates: NumPy code rewritten for CuPy, no LLM needed.

``cupy_variant(source, entry)`` is a pure source-to-source function. It returns code that

* imports CuPy and uses it wherever the NumPy code called a NumPy function that CuPy has
  (``np.sum`` -> ``cp.sum``; what CuPy lacks, such as ``np.random`` streams or I/O, stays NumPy);
* defines ``entry`` with the original signature: it moves NumPy array arguments to the
  device (``cp.asarray``), runs the rewritten function, synchronises the device and brings
  the result back (``cp.asnumpy``; 0-d arrays become NumPy scalars like the reference's).

Whether the rewrite is right is for verification to decide, with ``gpu_tolerances``: the
device sums in another order and contracts multiply-adds, so float32 results differ from
NumPy's in the last digits.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from ._errors import UsageError

# NumPy names that CuPy does not provide (or that must stay on the host to give the same
# values as the reference); everything else under ``np.`` is sent to CuPy.
HOST_ONLY = frozenset(
    {
        "random",  # CuPy's generators give other streams: results would not match
        "errstate", "seterr", "geterr", "set_printoptions", "printoptions", "get_printoptions",
        "testing", "ma", "char", "rec", "ctypeslib", "lib", "emath", "polynomial",
        "genfromtxt", "loadtxt", "savetxt", "fromregex", "fromfile", "memmap",
        "frompyfunc", "nditer", "ndenumerate", "ndindex", "nested_iters",
        "busday_count", "busday_offset", "is_busday", "datetime_as_string",
        "iinfo", "finfo", "dtype", "result_type", "promote_types", "can_cast",
    }
)  # fmt: skip

DEVICE = "_wb_device"
TO_DEVICE = "_wb_to_device"
TO_HOST = "_wb_to_host"

_HELPERS = f'''

def {TO_DEVICE}(value):
    """NumPy arrays to the device; everything else as it is."""
    if isinstance(value, _wb_np.ndarray):
        return {{cp}}.asarray(value)
    return value


def {TO_HOST}(value):
    """Device arrays back to NumPy (0-d ones as NumPy scalars), through tuples, lists, dicts."""
    if isinstance(value, {{cp}}.ndarray):
        host = {{cp}}.asnumpy(value)
        return host[()] if host.ndim == 0 else host
    if isinstance(value, tuple):
        return tuple({TO_HOST}(v) for v in value)
    if isinstance(value, list):
        return [{TO_HOST}(v) for v in value]
    if isinstance(value, dict):
        return {{k: {TO_HOST}(v) for k, v in value.items()}}
    return value
'''


def gpu_tolerances(dtype: Any) -> tuple[float, float]:
    """(rtol, atol) for comparing a GPU result of ``dtype`` with a CPU reference.

    Looser than the CPU defaults for float32 and half precision: the device reduces in
    another order (tree, atomics), fuses multiply-adds and uses its own ``exp``/``log``.
    """
    kind = np.dtype(dtype)
    if kind.kind not in "fc":
        return (0.0, 0.0)  # integers and booleans must match exactly
    size = kind.itemsize // (2 if kind.kind == "c" else 1)
    if size <= 2:
        return (1e-2, 1e-3)
    if size == 4:
        return (1e-3, 1e-5)
    return (1e-7, 1e-10)


class _NumpyToCupy(ast.NodeTransformer):
    """``np.X`` -> ``cp.X`` for the NumPy aliases in ``numpy_names`` where CuPy has ``X``."""

    def __init__(self, numpy_names: set[str], cupy_name: str) -> None:
        self.numpy_names = numpy_names
        self.cupy_name = cupy_name
        self.rewritten = 0

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in self.numpy_names
            and node.attr not in HOST_ONLY
        ):
            self.rewritten += 1
            return ast.copy_location(
                ast.Attribute(ast.Name(self.cupy_name, ast.Load()), node.attr, node.ctx), node
            )
        return node


def _numpy_aliases(tree: ast.Module) -> tuple[set[str], dict[str, str]]:
    """Names bound to the numpy module, and ``from numpy import a as b`` names (b -> a)."""
    modules: set[str] = set()
    members: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    modules.add(alias.asname or "numpy")
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy" and node.level == 0:
            for alias in node.names:
                if alias.name != "*" and alias.name not in HOST_ONLY:
                    members[alias.asname or alias.name] = alias.name
    return modules, members


def _free_name(tree: ast.Module, preferred: str) -> str:
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {
        a.asname or a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    name = preferred
    while name in used:
        name = "_" + name
    return name


def _call_with_same_arguments(
    args: ast.arguments, wrap: str
) -> tuple[list[ast.expr], list[ast.keyword]]:
    """Positional and keyword arguments that pass every parameter of ``args`` on, each
    wrapped in ``wrap(...)``."""

    def wrapped(name: str) -> ast.expr:
        return ast.Call(ast.Name(wrap, ast.Load()), [ast.Name(name, ast.Load())], [])

    positional: list[ast.expr] = [wrapped(a.arg) for a in [*args.posonlyargs, *args.args]]
    if args.vararg is not None:
        star = ast.GeneratorExp(
            wrapped("_wb_item"),
            [
                ast.comprehension(
                    ast.Name("_wb_item", ast.Store()), ast.Name(args.vararg.arg, ast.Load()), [], 0
                )
            ],
        )
        positional.append(ast.Starred(star, ast.Load()))
    keywords = [ast.keyword(a.arg, wrapped(a.arg)) for a in args.kwonlyargs]
    if args.kwarg is not None:
        mapping = ast.DictComp(
            ast.Name("_wb_key", ast.Load()),
            wrapped("_wb_item"),
            [
                ast.comprehension(
                    ast.Tuple(
                        [ast.Name("_wb_key", ast.Store()), ast.Name("_wb_item", ast.Store())],
                        ast.Store(),
                    ),
                    ast.Call(
                        ast.Attribute(ast.Name(args.kwarg.arg, ast.Load()), "items", ast.Load()),
                        [],
                        [],
                    ),
                    [],
                    0,
                )
            ],
        )
        keywords.append(ast.keyword(None, mapping))
    return positional, keywords


def cupy_variant(source: str, entry: str) -> str:
    """CuPy version of ``source``: defines ``entry`` with the same signature, NumPy in and out.

    Raises ``UsageError`` if ``source`` does not parse, defines no ``entry`` or uses no NumPy.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(
            f"the code does not parse ({exc.msg}, line {exc.lineno}): fix it first"
        ) from None
    target = next(
        (
            n
            for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry
        ),
        None,
    )
    if target is None:
        raise UsageError(f"the code defines no top-level function {entry!r} to port to CuPy")
    modules, members = _numpy_aliases(tree)
    if not modules and not members:
        raise UsageError(f"{entry} uses no NumPy: there is nothing to move to CuPy")
    cupy_name = _free_name(tree, "cp")
    rewriter = _NumpyToCupy(modules, cupy_name)
    tree = rewriter.visit(tree)
    # ``from numpy import sum as npsum`` -> ``from cupy import sum as npsum``
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "numpy"
            and node.level == 0
            and all(alias.name in members.values() for alias in node.names)
        ):
            node.module = "cupy"
    device_name = f"{DEVICE}_{entry}"
    original_args = target.args
    target.name = device_name
    target.decorator_list = []
    positional, keywords = _call_with_same_arguments(original_args, TO_DEVICE)
    call = ast.Call(ast.Name(device_name, ast.Load()), positional, keywords)
    # built from text so the node has every field of this Python version's FunctionDef
    wrapper = ast.parse(f"def {entry}():\n    pass\n").body[0]
    assert isinstance(wrapper, ast.FunctionDef)
    wrapper.args = original_args
    wrapper.body = [
        ast.Expr(ast.Constant(f"{entry} on the GPU with CuPy: NumPy arrays in, NumPy out.")),
        ast.Assign([ast.Name("_wb_result", ast.Store())], call),
        # all streams: work the code left running on another stream is waited for too
        ast.Expr(_attribute_call(cupy_name, "cuda.runtime.deviceSynchronize")),
        ast.Return(
            ast.Call(ast.Name(TO_HOST, ast.Load()), [ast.Name("_wb_result", ast.Load())], [])
        ),
    ]
    tree.body.append(wrapper)
    ast.fix_missing_locations(tree)
    header = (
        f"# CuPy variant of {entry}: NumPy calls moved to the GPU ({rewriter.rewritten} rewritten)\n"
        f"import cupy as {cupy_name}\nimport numpy as _wb_np\n"
    )
    return header + ast.unparse(tree) + "\n" + _HELPERS.replace("{cp}", cupy_name)


def _attribute_call(base: str, dotted: str) -> ast.Call:
    node: ast.expr = ast.Name(base, ast.Load())
    for part in dotted.split("."):
        node = ast.Attribute(node, part, ast.Load())
    return ast.Call(node, [], [])


class CupyStrategy:
    """One mechanical candidate per task: the reference with NumPy swapped for CuPy."""

    name = "cupy"

    def propose(self, task: Any) -> list[Any]:
        from ._strategies._base import CandidateSpec

        try:
            code = cupy_variant(task.source, task.entry)
        except UsageError:
            return []  # no NumPy in the reference: nothing to port
        note = "NumPy calls on CuPy arrays; inputs to the device, result back, device synchronised"
        return [CandidateSpec(code=code, strategy="cupy", note=note)]
