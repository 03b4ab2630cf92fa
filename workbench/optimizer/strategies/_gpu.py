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
import textwrap
from typing import Any

import numpy as np

from ..._errors import UsageError
from ...gpu._timing import MARK

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


_MARK_HELPER = f'''

def {MARK}(phase):
    """A phase boundary for the workbench's GPU timing (it records an event here); a no-op
    anywhere else."""
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
    # partial(...) moves the arguments to the device, so the copies sit between two marks
    bind = ast.Call(
        ast.Attribute(ast.Name("_wb_functools", ast.Load()), "partial", ast.Load()),
        [ast.Name(device_name, ast.Load()), *positional],
        keywords,
    )
    # built from text so the node has every field of this Python version's FunctionDef
    wrapper = ast.parse(f"def {entry}():\n    pass\n").body[0]
    assert isinstance(wrapper, ast.FunctionDef)
    wrapper.args = original_args
    wrapper.body = [
        ast.Expr(ast.Constant(f"{entry} on the GPU with CuPy: NumPy arrays in, NumPy out.")),
        _mark("h2d"),
        ast.Assign([ast.Name("_wb_call", ast.Store())], bind),
        _mark("kernel"),
        ast.Assign(
            [ast.Name("_wb_result", ast.Store())],
            ast.Call(ast.Name("_wb_call", ast.Load()), [], []),
        ),
        # all streams: work the code left running on another stream is waited for too
        ast.Expr(_attribute_call(cupy_name, "cuda.runtime.deviceSynchronize")),
        _mark("d2h"),
        ast.Assign(
            [ast.Name("_wb_result", ast.Store())],
            ast.Call(ast.Name(TO_HOST, ast.Load()), [ast.Name("_wb_result", ast.Load())], []),
        ),
        _mark("done"),
        ast.Return(ast.Name("_wb_result", ast.Load())),
    ]
    tree.body.append(wrapper)
    ast.fix_missing_locations(tree)
    header = (
        f"# CuPy variant of {entry}: NumPy calls moved to the GPU ({rewriter.rewritten} rewritten)\n"
        f"import functools as _wb_functools\nimport cupy as {cupy_name}\nimport numpy as _wb_np\n"
    )
    helpers = _HELPERS.replace("{cp}", cupy_name) + _MARK_HELPER
    return header + ast.unparse(tree) + "\n" + helpers


def _mark(phase: str) -> ast.Expr:
    return ast.Expr(ast.Call(ast.Name(MARK, ast.Load()), [ast.Constant(phase)], []))


def _attribute_call(base: str, dotted: str) -> ast.Call:
    node: ast.expr = ast.Name(base, ast.Load())
    for part in dotted.split("."):
        node = ast.Attribute(node, part, ast.Load())
    return ast.Call(node, [], [])


class CupyStrategy:
    """One mechanical candidate per task: the reference with NumPy swapped for CuPy."""

    name = "cupy"

    def propose(self, task: Any) -> list[Any]:
        from ._base import CandidateSpec

        try:
            code = cupy_variant(task.source, task.entry)
        except UsageError:
            return []  # no NumPy in the reference: nothing to port
        note = "NumPy calls on CuPy arrays; inputs to the device, result back, device synchronised"
        return [CandidateSpec(code=code, strategy="cupy", note=note)]


# -- Numba CUDA: a loop over the elements of a fresh output becomes a kernel ------------------

NUMPY_ALLOCATORS = frozenset(
    {"empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "full_like"}
)
BLOCK_1D = 256
BLOCK_2D = 16
KERNEL = "_wb_kernel"


def numba_cuda_variant(source: str, entry: str) -> str:
    """Numba CUDA version of ``source``: ``entry``'s ``for i in range(...)`` loop (or perfect
    ``for i ... for j ...`` nest) that fills a fresh array becomes a ``@cuda.jit`` kernel, one
    thread per element; ``entry`` keeps its signature and runs the code before and after the
    loop on the host, copying the arrays the loop reads to the device and the outputs back.

    Raises ``UsageError`` saying why when the function has no loop of that shape.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"the code does not parse ({exc.msg}, line {exc.lineno})") from None
    fn = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry),
        None,
    )
    if fn is None:
        raise UsageError(f"the code defines no top-level function {entry!r}")
    shape = _LoopShape.find(fn)
    lines = source.splitlines(keepends=True)
    kernel_text = _kernel_text(shape, _block_text(lines, shape.kernel_body, shape.parallel[-1], 8))
    wrapper_text = _wrapper_text(fn, shape, lines)
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)]) - 1
    head = (
        f"# Numba CUDA variant of {entry}: the loop over {', '.join(shape.names)} became a "
        "kernel, one thread per element\n"
        "import numpy as _wb_np\nfrom numba import cuda as _wb_cuda\n"
    )
    code = (
        head
        + "".join(lines[:first])
        + kernel_text
        + "\n\n"
        + wrapper_text
        + "".join(lines[fn.end_lineno :])
        + _CUDA_HELPERS
        + _MARK_HELPER
    )
    ast.parse(code)  # the text edits must leave valid Python
    return code


class _LoopShape:
    """What ``numba_cuda_variant`` needs to know about the function's loop."""

    def __init__(self, fn: ast.FunctionDef, index: int, loops: list[ast.For]) -> None:
        self.fn, self.index, self.parallel = fn, index, loops
        self.names = [loop.target.id for loop in loops]  # type: ignore[attr-defined]
        self.kernel_body = loops[-1].body
        self.prelude, self.postlude = fn.body[:index], fn.body[index + 1 :]

    @classmethod
    def find(cls, fn: ast.FunctionDef) -> _LoopShape:
        index = next(
            (k for k, node in enumerate(fn.body) if isinstance(node, ast.For) and _range(node)),
            None,
        )
        if index is None:
            raise UsageError(f"{fn.name} has no top-level `for ... in range(...)` loop")
        outer = fn.body[index]
        assert isinstance(outer, ast.For)
        loops = [outer]
        inner = outer.body[0] if len(outer.body) == 1 else None
        host = _host_names(fn, fn.body[:index])
        if isinstance(inner, ast.For) and _range(inner):
            bound_names = {n.id for n in ast.walk(inner.iter) if isinstance(n, ast.Name)}
            if not bound_names & (_stored(outer.body) | {_loop_var(outer)}):
                loops.append(inner)  # a perfect nest with bounds known before the loop: 2-D
        shape = cls(fn, index, loops)
        shape._check(host)
        return shape

    def _check(self, host: set[str]) -> None:
        name = self.fn.name
        for loop in self.parallel:
            if loop.orelse:
                raise UsageError(f"{name}: the loop has an `else:` block")
        body = self.kernel_body
        unsupported = (
            ast.Return, ast.Yield, ast.YieldFrom, ast.Await, ast.With, ast.Try, ast.Global,
            ast.Nonlocal, ast.FunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
            ast.DictComp, ast.GeneratorExp, ast.Delete, ast.Import, ast.ImportFrom,
        )  # fmt: skip
        for node in _walk(body):
            if isinstance(node, unsupported):
                what = type(node).__name__.lower()
                raise UsageError(f"{name}: a CUDA kernel cannot hold the loop's `{what}`")
        for node in _walk_same_loop(body):
            if isinstance(node, ast.Break | ast.Continue):
                raise UsageError(
                    f"{name}: the loop uses break/continue: its iterations are not independent"
                )
        loop_vars = set(self.names)
        stored = _stored(body)
        carried = sorted((stored & host) | (stored & loop_vars))
        if carried:
            raise UsageError(
                f"{name}: the loop assigns {carried[0]}, which lives across iterations: "
                "they are not independent"
            )
        outputs = self._outputs(body, host)
        for node in _walk(body):
            if isinstance(node, ast.Name) and node.id in outputs and not self._own(node, body):
                raise UsageError(
                    f"{name}: the loop reads {node.id} at other elements than its own: "
                    "its iterations are not independent"
                )
        later = {n.id for n in _walk(self.postlude) if isinstance(n, ast.Name)}
        leaked = sorted(later & (stored | loop_vars) - host)
        if leaked:
            raise UsageError(f"{name}: {leaked[0]} is used after the loop")
        self.outputs = sorted(outputs)
        self.inputs = sorted(
            {n.id for n in _walk(body) if isinstance(n, ast.Name) and n.id in host} - outputs
        )

    def _outputs(self, body: list[ast.stmt], host: set[str]) -> set[str]:
        """The arrays the loop writes: fresh NumPy arrays, one element per iteration."""
        outputs = set()
        for node in _walk(body):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AugAssign | ast.AnnAssign)
                else []
            )
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Attribute | ast.Starred):
                        raise UsageError(f"{self.fn.name}: the loop assigns to an attribute")
                    if not isinstance(sub, ast.Subscript):
                        continue
                    if not isinstance(sub.value, ast.Name) or not self._own_index(sub):
                        raise UsageError(
                            f"{self.fn.name}: the loop writes {ast.unparse(sub)}, not one "
                            f"element [{', '.join(self.names)}] of an array"
                        )
                    outputs.add(sub.value.id)
        if not outputs:
            raise UsageError(f"{self.fn.name}: the loop writes no array element")
        for out in sorted(outputs):
            if out not in host or not self._fresh(out):
                raise UsageError(
                    f"{self.fn.name}: {out} is not a fresh array made before the loop "
                    "(np.empty, np.zeros, ...)"
                )
        return outputs

    def _fresh(self, name: str) -> bool:
        assigned = [
            node
            for node in _walk(self.prelude)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ]
        if len(assigned) != 1 or len(assigned[0].targets) != 1:
            return False
        call = assigned[0].value
        return (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in NUMPY_ALLOCATORS
            and isinstance(call.func.value, ast.Name)
        )

    def _own_index(self, sub: ast.Subscript) -> bool:
        index = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
        head = index[: len(self.names)]
        return len(head) == len(self.names) and all(
            isinstance(e, ast.Name) and e.id == v for e, v in zip(head, self.names)
        )

    def _own(self, name: ast.Name, body: list[ast.stmt]) -> bool:
        for node in _walk(body):
            if isinstance(node, ast.Subscript) and node.value is name:
                return self._own_index(node)
        return False


def _range(loop: ast.For) -> bool:
    it = loop.iter
    return (
        isinstance(loop.target, ast.Name)
        and isinstance(it, ast.Call)
        and isinstance(it.func, ast.Name)
        and it.func.id == "range"
        and 1 <= len(it.args) <= 2
        and not it.keywords
    )


def _loop_var(loop: ast.For) -> str:
    assert isinstance(loop.target, ast.Name)
    return loop.target.id


def _walk(stmts: list[ast.stmt]) -> list[ast.AST]:
    return [node for stmt in stmts for node in ast.walk(stmt)]


def _walk_same_loop(stmts: list[ast.stmt]) -> list[ast.AST]:
    """Nodes of ``stmts`` that are not inside a nested loop (where break/continue are fine)."""
    out: list[ast.AST] = []
    queue: list[ast.AST] = list(stmts)
    while queue:
        node = queue.pop()
        out.append(node)
        if not isinstance(node, ast.For | ast.While):
            queue.extend(ast.iter_child_nodes(node))
        else:
            queue.extend(node.orelse)
    return out


def _stored(stmts: list[ast.stmt]) -> set[str]:
    return {n.id for n in _walk(stmts) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _host_names(fn: ast.FunctionDef, prelude: list[ast.stmt]) -> set[str]:
    args = fn.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    return names | _stored(prelude)


def _block_text(lines: list[str], stmts: list[ast.stmt], owner: ast.AST | None, indent: int) -> str:
    """The statements' own text (comments and formatting kept), re-indented; their unparsed
    form where the text cannot be cut out cleanly (a body on the ``for`` line, say)."""
    pad = " " * indent
    if not stmts:
        return pad + "pass\n"
    start, end = stmts[0].lineno, stmts[-1].end_lineno or stmts[-1].lineno
    if isinstance(owner, ast.For) and start > owner.lineno:
        start = owner.lineno + 1  # comments between the loop line and its body stay
    if owner is None or start > getattr(owner, "lineno", 0):
        text = textwrap.dedent("".join(lines[start - 1 : end]))
        try:
            ast.parse(text)
            return textwrap.indent(text if text.endswith("\n") else text + "\n", pad)
        except SyntaxError:
            pass
    return textwrap.indent("\n".join(ast.unparse(s) for s in stmts) + "\n", pad)


def _kernel_text(shape: _LoopShape, body: str) -> str:
    params = [*shape.inputs, *shape.outputs]
    bounds = []
    for k, _ in enumerate(shape.parallel):
        bounds += [f"_wb_start{k}", f"_wb_stop{k}"]
    name = f"{KERNEL}_{shape.fn.name}"
    lines = ["@_wb_cuda.jit", f"def {name}({', '.join([*params, *bounds])}):"]
    if len(shape.names) == 1:
        lines.append(f"    {shape.names[0]} = _wb_start0 + _wb_cuda.grid(1)")
    else:
        lines.append("    _wb_x, _wb_y = _wb_cuda.grid(2)")
        lines.append(f"    {shape.names[0]} = _wb_start0 + _wb_x")
        lines.append(f"    {shape.names[1]} = _wb_start1 + _wb_y")
    inside = " and ".join(f"{v} < _wb_stop{k}" for k, v in enumerate(shape.names))
    lines.append(f"    if {inside}:")
    return "\n".join(lines) + "\n" + body


def _wrapper_text(fn: ast.FunctionDef, shape: _LoopShape, lines: list[str]) -> str:
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    out = [f"def {fn.name}({ast.unparse(fn.args)}){returns}:\n"]
    if shape.prelude:
        out.append(_block_text(lines, shape.prelude, fn, 4))
    for k, loop in enumerate(shape.parallel):
        args = loop.iter.args  # type: ignore[attr-defined]
        start = ast.unparse(args[0]) if len(args) == 2 else "0"
        out.append(f"    _wb_start{k}, _wb_stop{k} = {start}, {ast.unparse(args[-1])}\n")
    arrays = [*shape.inputs, *shape.outputs]
    bounds = ", ".join(f"_wb_start{k}, _wb_stop{k}" for k in range(len(shape.parallel)))
    grid = [f"_wb_stop{k} - _wb_start{k}" for k in range(len(shape.parallel))]
    block = BLOCK_1D if len(shape.parallel) == 1 else BLOCK_2D
    out += [
        f'    {MARK}("h2d")\n',
        f"    _wb_args = [_wb_to_device(v) for v in {_tuple(arrays)}]\n",
        f'    {MARK}("kernel")\n',
        f"    _wb_grid = _wb_blocks({_tuple(grid)}, {block})\n",
        "    if _wb_grid:\n",
        f"        {KERNEL}_{fn.name}[_wb_grid, {_tuple([str(block)] * len(shape.parallel))}]"
        f"(*_wb_args, {bounds})\n",
        "    _wb_cuda.synchronize()\n",
        f'    {MARK}("d2h")\n',
    ]
    for k, name in enumerate(shape.outputs):
        out.append(f"    _wb_args[{len(shape.inputs) + k}].copy_to_host({name})\n")
    out.append(f'    {MARK}("done")\n')
    if shape.postlude:
        out.append(_block_text(lines, shape.postlude, fn, 4))
    return "".join(out)


def _tuple(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


_CUDA_HELPERS = '''

def _wb_to_device(value):
    """NumPy arrays to the device (contiguous); scalars as they are."""
    if isinstance(value, _wb_np.ndarray):
        return _wb_cuda.to_device(_wb_np.ascontiguousarray(value))
    return value


def _wb_blocks(counts, block):
    """Blocks per grid dimension to cover ``counts`` elements; None when there are none."""
    if min(counts) <= 0:
        return None
    return tuple((c + block - 1) // block for c in counts)
'''


class NumbaCudaStrategy:
    """One mechanical candidate per task: the reference's element loop as a CUDA kernel."""

    name = "numba-cuda"

    def __init__(self) -> None:
        self.note: str | None = None  # why the last task got no candidate

    def propose(self, task: Any) -> list[Any]:
        from ._base import CandidateSpec

        self.note = None
        try:
            code = numba_cuda_variant(task.source, task.entry)
        except UsageError as exc:
            self.note = f"no Numba CUDA candidate: {exc}"
            return []
        dims = "2-D" if "_wb_cuda.grid(2)" in code else "1-D"
        note = f"the loop as a {dims} CUDA kernel, one thread per element; arrays in and out"
        return [CandidateSpec(code=code, strategy="numba-cuda", note=note)]
