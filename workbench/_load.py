"""``workbench.load(run_id)``: any saved run, as the result its magic returned."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ._settings import get_settings
from .store import SessionStore


def load(
    run_id: str, home: str | None = None, *, namespace: MutableMapping[str, Any] | None = None
) -> Any:
    """Rebuild a saved optimize, generate or visualize run from the session database (after a
    kernel restart, say). ``namespace`` is where ``accept()`` binds; refining needs a run made
    in this kernel."""
    home = home or get_settings().home
    kind = SessionStore(home).run(run_id)["kind"]
    if kind == "generate":
        from .generator import load_generate_result

        return load_generate_result(run_id, home, namespace=namespace)
    if kind == "visualize":
        from .visualizer import load_visualize_result

        return load_visualize_result(run_id, home, namespace=namespace)
    from .optimizer import load_result

    result = load_result(run_id, home)
    result.namespace = namespace
    return result
