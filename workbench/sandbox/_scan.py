"""A static scan of candidate code for constructs that can game verification or timing.

It does not block anything: it produces warnings shown next to the candidate, so a person
looks twice at a result that touches the harness, the clock or the interpreter's internals.
"""

from __future__ import annotations

import ast

_MODULES = {
    "ctypes": "loads ctypes (raw memory access can forge results or crash the process)",
    "gc": "uses the garbage collector module (can reach the harness' objects)",
    "inspect": "uses inspect (frame inspection can reach the harness)",
    "signal": "installs or sends signals",
    "subprocess": "starts processes",
    "multiprocessing": "starts processes",
    "threading": "starts threads (work may continue after the call returns)",
    "socket": "opens network connections",
    "pickle": "unpickles data",
    "importlib": "imports modules dynamically",
    "builtins": "changes builtins",
    "atexit": "registers exit handlers",
}
_ATTRS = {
    "_getframe": "inspects call frames (can reach the harness)",
    "f_back": "walks call frames (can reach the harness)",
    "f_locals": "reads or writes a frame's variables",
    "f_globals": "reads or writes a frame's globals",
    "modules": "touches sys.modules",
    "settrace": "installs a trace function",
    "setprofile": "installs a profile function",
    "environ": "reads environment variables",
    "_exit": "can end the process (os._exit)",
    "fork": "forks the process",
}
_CALLS = {"eval", "exec", "compile", "__import__", "globals", "vars", "setattr", "open"}
_CACHES = {"lru_cache", "cache", "cached_property"}


def scan(code: str) -> list[str]:
    """Warnings (one line each) for suspicious constructs in ``code``; empty when clean."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found: dict[str, None] = {}

    def flag(text: str, node: ast.AST) -> None:
        found.setdefault(f"line {getattr(node, 'lineno', '?')}: {text}", None)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if root in _MODULES:
                    flag(_MODULES[root], node)
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root in _MODULES:
                flag(_MODULES[root], node)
            if root == "functools" and any(a.name in _CACHES for a in node.names):
                flag("caches results across calls (functools cache)", node)
        elif isinstance(node, ast.Attribute):
            if node.attr in _ATTRS:
                flag(_ATTRS[node.attr], node)
            if node.attr in _CACHES:
                flag("caches results across calls (functools cache)", node)
            if (
                isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in {"time", "gc", "sys", "os", "np", "numpy", "builtins"}
            ):
                flag(
                    f"assigns to {node.value.id}.{node.attr} (patching a module the harness uses)",
                    node,
                )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CALLS
        ):
            flag(f"calls {node.func.id}()", node)
        elif isinstance(node, ast.Global):
            flag(f"writes module globals ({', '.join(node.names)}): state kept across calls", node)
        elif isinstance(node, ast.FunctionDef):
            for default in node.args.defaults + node.args.kw_defaults:
                if isinstance(default, (ast.Dict, ast.List, ast.Set)) or (
                    isinstance(default, ast.Call)
                    and isinstance(default.func, ast.Name)
                    and default.func.id in {"dict", "list", "set"}
                ):
                    flag(
                        f"{node.name} has a mutable default argument (can cache across calls)", node
                    )
    for node in tree.body:  # module-level containers used as caches
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Dict, ast.Call)):
            value = node.value
            is_dict = isinstance(value, ast.Dict) or (
                isinstance(value.func, ast.Name)
                and value.func.id in {"dict", "OrderedDict", "defaultdict"}
            )
            if is_dict:
                flag("module-level dict (can cache results across calls)", node)
    return list(found)
