"""A task: the reference code, its entry point, and the names it needs from outside."""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import UsageError


@dataclass(frozen=True)
class Task:
    """What to optimize: a module's source whose function ``entry`` is the reference."""

    source: str
    entry: str
    functions: tuple[str, ...]
    #: values of free names the source uses but does not define (constants, helpers, modules)
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def entry_node(self) -> ast.FunctionDef:
        for node in ast.parse(self.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == self.entry:
                return node
        raise AssertionError("entry vanished from source")


def task_from(
    source_or_function: Any, *, entry: str | None = None, namespace: Mapping[str, Any] | None = None
) -> Task:
    """Build a Task from cell text or a function object."""
    if callable(source_or_function) and not isinstance(source_or_function, str):
        fn = source_or_function
        try:
            source = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError):
            raise UsageError(
                f"cannot read the source of {getattr(fn, '__name__', fn)!r}: pass the code as a string"
            ) from None
        source = _strip_decorators(source)
        namespace = {**getattr(fn, "__globals__", {}), **(namespace or {})}
        entry = entry or fn.__name__
    elif isinstance(source_or_function, str):
        source = textwrap.dedent(source_or_function).strip("\n") + "\n"
    else:
        raise UsageError("optimize() takes the function itself or its source code as a string")

    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"the code does not parse: {exc.msg} (line {exc.lineno})") from None
    functions = tuple(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
    if not functions:
        raise UsageError(
            "the cell defines no function: put the function to optimize in the cell (def name(...): ...)"
        )
    if entry is None:
        public = [f for f in functions if not f.startswith("_")]
        called = _called_names(tree)
        roots = [f for f in public if f not in called] or public
        if len(roots) != 1:
            raise UsageError(
                f"the cell defines several functions ({', '.join(functions)}): "
                "say which one to optimize with --entry NAME (entry=...)"
            )
        entry = roots[0]
    elif entry not in functions:
        raise UsageError(
            f"--entry {entry}: the cell defines no function of that name (it has {', '.join(functions)})"
        )
    context = _context(tree, namespace or {})
    return Task(source=source, entry=entry, functions=functions, context=context)


def _strip_decorators(source: str) -> str:
    tree = ast.parse(source)
    node = tree.body[0]
    if isinstance(node, ast.FunctionDef) and node.decorator_list:
        lines = source.splitlines(keepends=True)
        return "".join(lines[node.lineno - 1 :])
    return source


def _called_names(tree: ast.Module) -> set[str]:
    return {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def free_names(tree: ast.Module) -> set[str]:
    """Names the module reads but never binds (at any level), minus builtins."""
    loaded, bound = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (loaded if isinstance(n.ctx, ast.Load) else bound).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
            if not isinstance(n, ast.ClassDef):
                a = n.args
                for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                    if arg is not None:
                        bound.add(arg.arg)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for alias in n.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
    return loaded - bound - set(dir(builtins))


def _context(tree: ast.Module, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Values for the free names that exist in the user's namespace (modules stay modules)."""
    out = {}
    for name in sorted(free_names(tree)):
        if name in namespace:
            value = namespace[name]
            if isinstance(value, types.ModuleType) or not name.startswith("__"):
                out[name] = value
    return out
