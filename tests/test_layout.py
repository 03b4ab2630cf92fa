"""The package's shape: parts depend downward only, no UI below the views, a light import.

Reads every module's imports (module level and inside functions; ``if TYPE_CHECKING:`` blocks
are annotations, not dependencies) and checks them against the layers in DESIGN.md.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"

# Lower layers never import higher ones; parts of one layer never import each other.
LAYERS = [
    {"_errors"},  # base: everyone may use them
    {"_settings", "_timeline"},
    {"gpu", "store"},
    {"sandbox"},
    {"execute"},
    {"llm"},
    {"optimizer"},
    {"generator", "visualizer"},
    {"_load"},  # workbench.load: any saved run
    {"views"},
    {"_magics", "_cli"},  # the front door
    {"__init__"},  # re-exports; loads the magics only in load_ipython_extension
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}
UI = ("IPython", "ipywidgets", "panel", "bokeh", "jupyter_ui_poll", "anywidget", "ipykernel")
UI_ALLOWED = {"views", "_magics", "_cli", "__init__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import that runs, TYPE_CHECKING blocks left out."""
    tree = ast.parse(path.read_text(), str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.level and not node.module:  # from . import views: each name a module
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def _graph() -> list[tuple[str, int, str, str]]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _part(_module_name(path))
        for line, target in _imports(path):
            edges.append((f"{path.relative_to(PACKAGE.parent)}:{line}", source, target, ""))
    return edges


def test_every_part_has_a_layer():
    parts = {_part(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(RANK), f"parts missing from LAYERS: {sorted(parts - set(RANK))}"


def test_parts_import_only_downward():
    wrong = []
    for where, source, target, _ in _graph():
        if not target.startswith("workbench"):
            continue
        into = _part(target)
        if into != source and RANK[into] >= RANK[source]:
            wrong.append(f"{where}: {source} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_circle_between_parts():
    graph: dict[str, set[str]] = {}
    for _, source, target, _ in _graph():
        if target.startswith("workbench") and _part(target) != source:
            graph.setdefault(source, set()).add(_part(target))
    seen, on_path = set(), []

    def visit(node: str) -> None:
        assert node not in on_path, "import circle: " + " -> ".join([*on_path, node])
        if node in seen:
            return
        on_path.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        on_path.pop()
        seen.add(node)

    for node in sorted(graph):
        visit(node)


def test_no_ui_import_below_the_views():
    wrong = [
        f"{where}: {target}"
        for where, source, target, _ in _graph()
        if source not in UI_ALLOWED and target.split(".")[0] in UI
    ]
    assert not wrong, "UI libraries imported by the engine:\n" + "\n".join(wrong)


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The checker itself: a sandbox module that imports the optimizer is reported."""
    bad = PACKAGE / "sandbox" / "_layout_probe.py"
    bad.write_text("from ..optimizer import optimize\n")
    try:
        try:
            test_parts_import_only_downward()
        except AssertionError as exc:
            assert "sandbox imports workbench.optimizer" in str(exc)
        else:
            raise AssertionError("an upward import went unnoticed")
    finally:
        bad.unlink()


def test_import_workbench_stays_light():
    heavy = ("IPython", "panel", "bokeh", "cupy", "numba", "torch", "ipywidgets", "distributed")
    code = f"import sys, workbench\nprint(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import workbench loaded: {out.stdout.strip()}"


def test_redteam_fixtures_are_not_in_the_package():
    assert not list(PACKAGE.rglob("*redteam*"))
