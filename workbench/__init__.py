"""workbench: generate, run, verify, profile and refine code from a notebook.

``import workbench`` loads no IPython, UI or GPU library; ``%load_ext workbench`` adds the
magics.
"""

from ._errors import (
    ExtraNotInstalled,
    InputsError,
    LLMError,
    SessionError,
    UsageError,
    WorkbenchError,
)
from ._load import load
from ._settings import Settings, configure, get_settings
from .generator._engine import GenerateResult, generate, load_generate_result
from .optimizer import (
    CandidateResult,
    Mismatch,
    OptimizeResult,
    Reference,
    Refinement,
    RunControl,
    Timing,
    Verification,
)
from .optimizer._engine import load_result, optimize
from .optimizer.strategies import CandidateSpec, LLMStrategy, NumbaStrategy, Strategy
from .store._sessions import SessionStore
from .visualizer._engine import FigureFacts, VisualizeResult, describe_data, visualize

__version__ = "0.1.0"

__all__ = [
    "CandidateResult",
    "CandidateSpec",
    "ExtraNotInstalled",
    "FigureFacts",
    "GenerateResult",
    "InputsError",
    "LLMStrategy",
    "LLMError",
    "Mismatch",
    "NumbaStrategy",
    "OptimizeResult",
    "Reference",
    "Refinement",
    "RunControl",
    "SessionError",
    "SessionStore",
    "Settings",
    "Strategy",
    "Timing",
    "Verification",
    "UsageError",
    "VisualizeResult",
    "WorkbenchError",
    "configure",
    "describe_data",
    "explorer",
    "generate",
    "get_settings",
    "load",
    "load_ipython_extension",
    "load_generate_result",
    "load_result",
    "optimize",
    "visualize",
]


def __getattr__(name: str):
    """``workbench.explorer`` and ``workbench.Progress`` load the UI only when asked for."""
    if name in ("explorer", "Progress"):
        from . import views

        return getattr(views, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:  # noqa: ANN001 - IPython's InteractiveShell
    """``%load_ext workbench``: register the magics (IPython is imported only now)."""
    from ._magics import register

    register(ipython)
