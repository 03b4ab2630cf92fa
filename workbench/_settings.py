"""Settings, parsed once and typed.

Defaults can be overridden by environment variables (``WORKBENCH_<NAME>``, upper case)
or at run time with ``workbench.configure(name=value)`` / ``%wb config name=value``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class Settings:
    #: where session databases live; ``.workbench`` beside the notebook by default
    home: Path = field(default_factory=lambda: Path.cwd() / ".workbench")
    #: wall-clock limit for one candidate's load + verification (seconds)
    timeout: float = 120.0
    #: seconds of repeated timed calls per candidate (adaptive repeats stop earlier when stable)
    time_budget: float = 2.0
    #: memory limit per worker process (MiB); exceeding it gives status "oom"
    memory_limit_mb: int = 4096
    #: largest file a worker may write, and all files of its scratch directory together (MiB)
    disk_limit_mb: int = 1024
    #: bytes of a candidate's stdout/stderr kept for the report
    output_cap: int = 64 * 1024
    #: one reference call at the timing size should take about this long (seconds)
    timing_target: float = 0.2
    #: run workers in Linux namespaces (no network, private /tmp) when the OS allows it
    hardened: bool = False
    #: where jobs run: "local" (parallel verification, one timing slot per machine), "serial"
    #: (one job after another), a Dask scheduler address ("tcp://host:8786") or a
    #: ``distributed.Client``
    executor: Any = "local"
    #: verification jobs at once on the local executor (0: the machine's cores)
    workers: int = 0

    def replace(self, **changes: Any) -> Settings:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            from ._errors import UsageError

            names = ", ".join(f.name for f in fields(self))
            raise UsageError(f"unknown setting {sorted(unknown)[0]!r}; known: {names}")
        return dataclasses.replace(self, **{k: _coerce(self, k, v) for k, v in changes.items()})


def _coerce(settings: Settings, name: str, value: Any) -> Any:
    current = getattr(settings, name)
    if isinstance(value, str) and not isinstance(current, str):
        from ._errors import UsageError

        try:
            if isinstance(current, bool):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes", "on")
            if isinstance(current, Path):
                return Path(value).expanduser()
            return type(current)(value)
        except ValueError:
            raise UsageError(
                f"setting {name} takes a {type(current).__name__}, not {value!r}"
            ) from None
    return value


def _from_environment() -> Settings:
    base = Settings()
    changes = {
        f.name: os.environ[f"WORKBENCH_{f.name.upper()}"]
        for f in fields(base)
        if f"WORKBENCH_{f.name.upper()}" in os.environ
    }
    return base.replace(**changes)


_current: Settings | None = None


def get_settings() -> Settings:
    """The settings in force (environment read on first use)."""
    global _current
    if _current is None:
        _current = _from_environment()
    return _current


def configure(**changes: Any) -> Settings:
    """Change settings for this process, e.g. ``configure(memory_limit_mb=8192)``."""
    global _current
    _current = get_settings().replace(**changes)
    return _current
