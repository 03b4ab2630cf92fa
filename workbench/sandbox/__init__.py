"""Running untrusted code: one isolated worker process per run (limits, scratch directory, no
secrets; hardened: a bubblewrap or unshare sandbox), the data-only codec, the worker programs
and the static scan."""

from typing import TYPE_CHECKING

# imported when first used: the worker programs live in this package, and a worker needs only
# the channel and the codec, not the code that starts workers
_EXPORTS = {
    "hardening_status": "._hardening",
    "sandbox_start_failure": "._hardening",
    "Limits": "._process",
    "Worker": "._process",
    "scrubbed_env": "._process",
    "start_worker": "._process",
    "scan": "._scan",
    "Opaque": "._wire",
    "WireError": "._wire",
    "decode": "._wire",
    "encode": "._wire",
}

if TYPE_CHECKING:
    from ._hardening import hardening_status, sandbox_start_failure
    from ._process import Limits, Worker, scrubbed_env, start_worker
    from ._scan import scan
    from ._wire import Opaque, WireError, decode, encode

__all__ = [
    "Limits",
    "Opaque",
    "WireError",
    "Worker",
    "decode",
    "encode",
    "hardening_status",
    "sandbox_start_failure",
    "scan",
    "scrubbed_env",
    "start_worker",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.sandbox' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
