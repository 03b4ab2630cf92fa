"""Which loop may become ``numba.prange``: a static check for writes shared across iterations.

``prange`` runs iterations at the same time in threads. That is only right when no iteration
reads what another wrote: appending to a shared list or dict (a crash or lost items),
``counts[k] += 1`` with ``k`` computed from the data (a race), a running value carried from
one iteration to the next (``s += x[i]; out[i] = s``). Numba's own reductions
(``acc += expr`` with ``acc`` not read elsewhere in the loop) are allowed. The check is
conservative: a loop it cannot prove safe is left serial, with the reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

#: methods that change the object they are called on
MUTATING_METHODS = frozenset(
    [
        "append",
        "extend",
        "insert",
        "pop",
        "remove",
        "clear",
        "add",
        "discard",
        "update",
        "setdefault",
        "popitem",
        "sort",
        "reverse",
        "fill",
        "put",
        "resize",
        "itemset",
        "appendleft",
        "extendleft",
        "popleft",
    ]
)
#: how a name can be created as a Python container (writes to it are never thread-safe)
_CONTAINER_CALLS = frozenset(
    {"dict", "list", "set", "defaultdict", "Counter", "OrderedDict", "deque", "List", "Dict"}
)
_REDUCTION_OPS = (ast.Add, ast.Sub, ast.Mult, ast.BitOr, ast.BitAnd, ast.BitXor)


@dataclass
class LoopCheck:
    """The verdict on one loop: safe to run in parallel, and what it found."""

    loop: ast.For
    var: str
    reason: str | None = None  # why it is not safe; None when it is
    reductions: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return self.reason is None


def outer_range_loops(fn: ast.FunctionDef) -> list[ast.For]:
    """``for ... in range(...)`` loops reached from the body without entering another loop."""
    found: list[ast.For] = []
    queue: list[ast.stmt] = list(fn.body)
    while queue:
        node = queue.pop(0)
        if isinstance(node, ast.For):
            it = node.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range":
                found.append(node)
            continue  # a loop's body is inner
        if isinstance(node, (ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody", "handlers"):
            queue.extend(getattr(node, name, []) or [])
    return found


def choose_prange_loop(fn: ast.FunctionDef) -> LoopCheck | None:
    """The first outer range loop that is safe to run in parallel, else the first one's
    verdict (with its reason); None when the function has no range loop."""
    checks = [check_loop(fn, loop) for loop in outer_range_loops(fn)]
    for check in checks:
        if check.safe:
            return check
    return checks[0] if checks else None


def check_loop(fn: ast.FunctionDef, loop: ast.For) -> LoopCheck:
    """Whether ``loop``'s iterations can run at the same time without sharing writes."""
    if not isinstance(loop.target, ast.Name):
        return LoopCheck(loop, "?", "its loop variable is not a plain name")
    var = loop.target.id
    check = LoopCheck(loop, var)
    check.reason = _why_unsafe(fn, loop, var, check)
    return check


def _why_unsafe(fn: ast.FunctionDef, loop: ast.For, var: str, check: LoopCheck) -> str | None:
    if loop.orelse:
        return f"the loop over {var} has an else clause"
    if len(loop.iter.args) == 3:  # type: ignore[attr-defined]
        return f"the loop over {var} has a step (prange counts by one)"
    body = loop.body
    for node in _walk(body):
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)):
            return f"the loop over {var} returns from inside (prange cannot stop early)"
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            return f"the loop over {var} writes names outside the function"
    for node in _walk_same_loop(body):
        if isinstance(node, ast.Break):
            return f"the loop over {var} can break early (prange runs every iteration)"
    inside = _bound_in(body)
    if var in inside:
        return f"the loop body assigns its own loop variable {var}"
    outside = _bound_outside(fn, loop)
    containers = _containers(fn, loop)
    for node in _walk(body):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATING_METHODS
        ):
            owner = _root_name(node.func.value)
            if owner is not None and owner not in inside:
                return (
                    f"the loop over {var} calls {owner}.{node.func.attr}(), which changes "
                    f"{owner}, shared by all iterations"
                )
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in _flatten(targets):
                why = _subscript_write(target, var, inside, containers)
                if why:
                    return f"the loop over {var} {why}"
    # names bound both outside and inside: a value carried between iterations unless it is
    # a reduction (Numba combines the threads' partial results) or rebound before any use
    shared = sorted(inside & outside)
    for name in shared:
        if _is_reduction(body, name):
            check.reductions.append(name)
            continue
        if _read_before_written(body, name):
            return (
                f"the loop over {var} carries {name} from one iteration to the next "
                "(each iteration reads the value the one before wrote)"
            )
    return None


def _subscript_write(target: ast.expr, var: str, inside: set[str], containers: set[str]):
    if not isinstance(target, ast.Subscript):
        return None
    owner = _root_name(target.value)
    if owner is None:
        return "writes into an attribute or call result, which may be shared"
    if owner in inside and owner not in containers:
        return None  # a per-iteration buffer
    if owner in containers:
        return f"writes into {owner}, a Python container shared by all iterations"
    if target.value is not None and not isinstance(target.value, ast.Name):
        return f"writes into part of {owner} through a nested index"
    index = target.slice
    elements = index.elts if isinstance(index, ast.Tuple) else [index]
    if any(isinstance(e, ast.Name) and e.id == var for e in elements):
        return None  # each iteration writes its own row/column/element
    text = ast.unparse(target)
    return (
        f"writes {text}, whose index is not {var} itself: two iterations can write the same element"
    )


def _is_reduction(body: list[ast.stmt], name: str) -> bool:
    """Every write to ``name`` is ``name op= expr`` or ``name = name op expr`` and ``name``
    is read nowhere else in the loop."""
    writes = 0
    own_reads: set[int] = set()
    for node in _walk(body):
        if isinstance(node, ast.AugAssign) and _is_name(node.target, name):
            if not isinstance(node.op, _REDUCTION_OPS) or _reads(node.value, name):
                return False
            writes += 1
        elif isinstance(node, ast.Assign) and any(_is_name(t, name) for t in node.targets):
            value = node.value
            if not (
                len(node.targets) == 1
                and isinstance(value, ast.BinOp)
                and isinstance(value.op, _REDUCTION_OPS)
                and _is_name(value.left, name)
                and not _reads(value.right, name)
            ):
                return False
            own_reads.add(id(value.left))
            writes += 1
        elif isinstance(node, (ast.For, ast.comprehension)) and name in _names(node.target):
            return False
    if not writes:
        return False
    for node in _walk(body):
        if (
            isinstance(node, ast.Name)
            and node.id == name
            and isinstance(node.ctx, ast.Load)
            and id(node) not in own_reads
        ):
            return False
    return True


def _read_before_written(body: list[ast.stmt], name: str) -> bool:
    """Whether an iteration can read ``name`` before it assigns it (only unconditional
    assignments at the top of the loop body count as writes)."""
    for stmt in body:
        if isinstance(stmt, ast.For) and name in _names(stmt.target):
            return _reads(stmt.iter, name)  # an inner loop variable, bound before its body
        if _reads(stmt, name, skip_targets=True):
            return True
        if isinstance(stmt, ast.Assign) and any(name in _names(t) for t in stmt.targets):
            return False
        if isinstance(stmt, ast.AnnAssign) and _is_name(stmt.target, name) and stmt.value:
            return False
        if isinstance(stmt, ast.AugAssign) and _is_name(stmt.target, name):
            return True
    return False


def _reads(node: ast.AST, name: str, skip_targets: bool = False) -> bool:
    if skip_targets and isinstance(node, ast.Assign):
        return _reads(node.value, name) or any(
            _reads(t, name) for t in node.targets if not isinstance(t, ast.Name)
        )
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        for n in ast.walk(node)
    )


def _bound_in(body: list[ast.stmt]) -> set[str]:
    bound: set[str] = set()
    for node in _walk(body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
    return bound


def _bound_outside(fn: ast.FunctionDef, loop: ast.For) -> set[str]:
    inner = {id(n) for n in ast.walk(loop)}
    bound = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    for node in ast.walk(fn):
        if id(node) in inner:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    return bound


def _containers(fn: ast.FunctionDef, loop: ast.For) -> set[str]:
    """Names assigned a list, dict or set (literal, comprehension or constructor)."""
    out: set[str] = set()
    for node in ast.walk(fn):
        if not isinstance(node, ast.Assign):
            continue
        value = node.value
        is_container = isinstance(
            value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
        ) or (
            isinstance(value, ast.Call)
            and (
                (isinstance(value.func, ast.Name) and value.func.id in _CONTAINER_CALLS)
                or (isinstance(value.func, ast.Attribute) and value.func.attr in _CONTAINER_CALLS)
            )
        )
        if is_container:
            for target in node.targets:
                out |= _names(target)
    return out


def _walk(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for stmt in body:
        yield from ast.walk(stmt)


def _walk_same_loop(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Nodes of ``body`` outside any inner loop (where ``break`` ends the outer one)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _flatten(targets: list[ast.expr]) -> Iterator[ast.expr]:
    for t in targets:
        if isinstance(t, (ast.Tuple, ast.List)):
            yield from _flatten(list(t.elts))
        else:
            yield t


def _names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
