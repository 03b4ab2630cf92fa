"""The workbench's exception tree.

    WorkbenchError
     +-- UsageError          a user mistake: bad option, no function in the cell, failing inputs
     |    +-- InputsError    the ``inputs`` callable is missing, fails or returns the wrong thing
     +-- ExtraNotInstalled   an optional part is used without its extra (names the pip command)
     +-- SessionError        the session database cannot be read or has no such record
     +-- LLMError            a model backend failed (network, protocol, budget)
          +-- LLMCancelled   (workbench.llm) the user stopped the model while it wrote

The magics show ``UsageError`` as IPython's UsageError: one line, no traceback.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class UsageError(WorkbenchError, ValueError):
    """The user asked for something that cannot work; the message says what to do."""


class InputsError(UsageError):
    """The ``inputs`` given to ``optimize`` cannot produce arguments."""


class SessionError(WorkbenchError):
    """A session database problem: unknown id, unreadable file."""


class LLMError(WorkbenchError):
    """A model backend failed."""


#: what a run stopped while the model wrote says (the message of its ``LLMCancelled``)
STOPPED_WRITING = (
    "stopped by you while the model was writing: nothing was kept; run the cell again to start over"
)


class ExtraNotInstalled(WorkbenchError, ImportError):
    """An optional dependency is missing."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs {package!r}, which is not installed: "
            f"run  pip install 'workbench[{extra}]'"
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise ``ExtraNotInstalled`` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ExtraNotInstalled(module.split(".")[0], extra, purpose) from exc
