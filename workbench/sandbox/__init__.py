"""Running untrusted code: one isolated worker process per run (limits, scratch directory, no
secrets; hardened: a bubblewrap or unshare sandbox), the data-only codec, the worker programs and the static scan."""

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
