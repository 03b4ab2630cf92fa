"""Results display as their widget views in a kernel with a widget front end.

``%load_ext workbench`` registers :func:`register_display` with IPython's mime-bundle
formatter: an ``OptimizeResult`` shows as the candidate explorer, a ``GenerateResult`` as the
test labeller, a ``VisualizeResult`` as the image grid. The bundle carries only the widget
view; IPython adds the result's own ``text/html`` and ``text/plain``, so a front end without
widgets, a terminal, ``repr()`` and headless runs (nbclient) keep the table.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# (module, class name, view builder's module, its function)
_VIEWS = (
    ("workbench.optimizer._results", "OptimizeResult", "._explorer", "explorer_view"),
    ("workbench.generator._engine", "GenerateResult", "._labeller", "labeller"),
    ("workbench.visualizer._engine", "VisualizeResult", "._visualize_view", "visualize_view"),
)


def widget_frontend() -> bool:
    """Whether results should display as widgets: in a Jupyter kernel with ipywidgets."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "kernel", None) is None:  # terminal IPython, scripts
        return False
    return importlib.util.find_spec("ipywidgets") is not None


def widget_bundle(view: Any) -> dict[str, Any]:
    """The widget-view part of a view's mime bundle (a view object or an ipywidget)."""
    widget = getattr(view, "widget", view)
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    return {WIDGET_MIME: data[WIDGET_MIME]}


def _formatter(module: str, function: str) -> Callable[[Any], dict[str, Any] | None]:
    def format(result: Any) -> dict[str, Any] | None:
        if not widget_frontend():
            return None  # IPython falls back to _repr_html_ and repr()
        from importlib import import_module

        build = getattr(import_module(module, __package__), function)
        return widget_bundle(build(result))

    return format


def register_display(ipython: Any) -> None:
    """Show workbench results as widget views in ``ipython`` (``%load_ext workbench``)."""
    formatter = ipython.display_formatter.mimebundle_formatter
    for module, name, view_module, function in _VIEWS:
        formatter.for_type_by_name(module, name, _formatter(view_module, function))
