"""Views of workbench results: candidate explorer, timing plot, pass matrix, test labeller,
progress, search view, dashboard.

Importing this package imports no UI library; each view imports its own (ipywidgets, Bokeh,
Panel) when built and says which extra to install when one is missing.
"""

from ._dashboard import dashboard_app, main_dashboard, serve_dashboard
from ._display import register_display, widget_frontend
from ._explorer import Explorer, explorer
from ._labeller import LabellingModel, LabellingView, labeller
from ._matrix_plot import matrix_figure, matrix_iframe_html
from ._model import CandidateNode, ExplorerModel, PathGroup, TimingSummary, build_model
from ._progress import Progress, ProgressState
from ._search_view import search_nodes, search_view
from ._timing_plot import timing_figure
from ._visualize_view import VisualizeView, visualize_view

__all__ = [
    "CandidateNode",
    "Explorer",
    "ExplorerModel",
    "LabellingModel",
    "LabellingView",
    "PathGroup",
    "Progress",
    "ProgressState",
    "TimingSummary",
    "VisualizeView",
    "build_model",
    "dashboard_app",
    "explorer",
    "labeller",
    "main_dashboard",
    "matrix_figure",
    "matrix_iframe_html",
    "register_display",
    "search_nodes",
    "search_view",
    "serve_dashboard",
    "timing_figure",
    "visualize_view",
    "widget_frontend",
]
