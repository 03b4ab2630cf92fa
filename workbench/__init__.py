"""workbench: generate, run, verify, profile and refine code from a notebook.

``import workbench`` loads no IPython, UI or GPU library; ``%load_ext workbench`` adds the
magics.
"""

from typing import TYPE_CHECKING

# Each name is imported from its module when first used: a sandbox worker imports
# ``workbench.sandbox`` and so this package, and must not pay for the engines (0.22 s of its
# 0.26 s start, measured with -X importtime).
_EXPORTS = {
    "ExtraNotInstalled": "._errors",
    "InputsError": "._errors",
    "LLMError": "._errors",
    "SessionError": "._errors",
    "UsageError": "._errors",
    "WorkbenchError": "._errors",
    "load": "._load",
    "Settings": "._settings",
    "configure": "._settings",
    "get_settings": "._settings",
    "GenerateResult": ".generator._engine",
    "generate": ".generator._engine",
    "load_generate_result": ".generator._engine",
    "CandidateResult": ".optimizer",
    "Mismatch": ".optimizer",
    "OptimizeResult": ".optimizer",
    "Reference": ".optimizer",
    "Refinement": ".optimizer",
    "RunControl": ".optimizer",
    "Timing": ".optimizer",
    "Verification": ".optimizer",
    "load_result": ".optimizer._engine",
    "optimize": ".optimizer._engine",
    "CandidateSpec": ".optimizer.strategies",
    "LLMStrategy": ".optimizer.strategies",
    "NumbaStrategy": ".optimizer.strategies",
    "Strategy": ".optimizer.strategies",
    "SessionStore": ".store._sessions",
    "FigureFacts": ".visualizer._engine",
    "VisualizeResult": ".visualizer._engine",
    "describe_data": ".visualizer._engine",
    "visualize": ".visualizer._engine",
    "explorer": ".views",  # the UI: Panel and its friends load only when asked for
    "Progress": ".views",
}

if TYPE_CHECKING:  # what the names are, for type checkers and editors
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
    from .views import Progress, explorer
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
    "Progress",
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
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load_ipython_extension(ipython) -> None:  # noqa: ANN001 - IPython's InteractiveShell
    """``%load_ext workbench``: register the magics (IPython is imported only now)."""
    from ._magics import register

    register(ipython)
