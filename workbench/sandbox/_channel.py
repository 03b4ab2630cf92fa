"""One pipe protocol for every worker program (candidate, pass-matrix cells, plots).

A worker program is started as ``python -m MODULE CMD_FD MSG_FD`` by :class:`Channel`, the one
place that starts a sandboxed worker and cleans it up. Both pipes carry frames: an 8-byte
little-endian length, then the payload. Commands (kernel -> worker) are cloudpickled: they come
from the trusted side and may carry the user's functions. Everything a worker sends back is
encoded with ``_wire`` (data only, never pickle), because the code it runs is not trusted.

The worker side uses :func:`read_frame` and :func:`write_frame`, which take the ``os.read`` /
``os.write`` to call so a worker can bind them before it loads untrusted code.
"""

from __future__ import annotations

import os
import select
import struct
import sys
import time
from typing import Any

import cloudpickle

from ._process import Limits, Worker, start_worker
from ._wire import WireError, decode

MAX_FRAME = 2 * 1024**3
_HEADER = struct.Struct("<Q")


class WorkerGone(Exception):
    """The worker process ended (or closed its pipe) before the message came."""


def write_frame(fd: int, data: bytes, write=os.write) -> None:
    """Write one frame (blocking): the worker side."""
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[write(fd, view) :]


def read_frame(fd: int, read=os.read) -> bytes:
    """Read one frame (blocking); EOFError when the other side closed the pipe."""
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, read))
    return _read_exact(fd, size, read)


def _read_exact(fd: int, size: int, read) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class Channel:
    """The kernel side of one sandboxed worker program and its two pipes."""

    def __init__(
        self,
        module: str,
        limits: Limits,
        *,
        hardened: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        cmd_r, self._cmd_w = os.pipe()
        self._msg_r, msg_w = os.pipe()
        argv = [sys.executable, "-m", module, str(cmd_r), str(msg_w)]
        try:
            self.worker: Worker = start_worker(
                argv, limits, pass_fds=(cmd_r, msg_w), extra_env=extra_env, hardened=hardened
            )
        finally:
            os.close(cmd_r)
            os.close(msg_w)
        self._buffer = bytearray()
        self._offset = 0

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- kernel -> worker ------------------------------------------------------------------
    def send(self, command: Any) -> None:
        """Send a command (cloudpickled); WorkerGone if the worker is no longer there."""
        self.send_bytes(cloudpickle.dumps(command))

    def send_bytes(self, data: bytes) -> None:
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            _, ready, _ = select.select([], [self._cmd_w], [], 0.1)
            if ready:
                try:
                    view = view[os.write(self._cmd_w, view[: 1 << 16]) :]
                except (BrokenPipeError, OSError):
                    raise WorkerGone() from None
            elif self.worker.process.poll() is not None:
                raise WorkerGone()

    # -- worker -> kernel ------------------------------------------------------------------
    def recv(self, timeout: float | None = None) -> Any:
        """The next message, decoded with ``_wire``; None when nothing whole came within
        ``timeout`` seconds (the worker alive but silent). WorkerGone when it ended."""
        data = self.recv_bytes(timeout)
        return None if data is None else decode(data)

    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            start = self._offset
            if len(self._buffer) - start >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self._buffer, start)
                if size > MAX_FRAME:
                    raise WireError("the program sent a message over 2 GiB")
                if len(self._buffer) - start >= _HEADER.size + size:
                    self._offset = start + _HEADER.size + size
                    return bytes(self._buffer[start + _HEADER.size : self._offset])
            wait = 0.1 if end is None else max(0.0, min(0.1, end - time.monotonic()))
            ready, _, _ = select.select([self._msg_r], [], [], wait)
            if ready:
                chunk = os.read(self._msg_r, 1 << 20)
                if not chunk:
                    raise WorkerGone()
                del self._buffer[: self._offset]  # drop what was consumed before growing
                self._offset = 0
                self._buffer += chunk
            elif self.worker.process.poll() is not None:
                # dead, but a leftover child may hold the pipe open: drain what is there
                ready, _, _ = select.select([self._msg_r], [], [], 0.2)
                if not ready:
                    raise WorkerGone()
            elif end is not None and time.monotonic() >= end:
                return None

    def close(self) -> None:
        """Stop the worker and everything it started; remove its scratch directory."""
        for fd in (self._cmd_w, self._msg_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.worker.close()


def dumps_by_value(obj: Any) -> bytes:
    """cloudpickle ``obj``, carrying functions from the user's own modules (a test file, a
    script) by value: the worker cannot import those."""
    modules = set()
    for value in _walk(obj):
        name = getattr(value, "__module__", None)
        module = sys.modules.get(name) if isinstance(name, str) else None
        if module is not None and _is_users_module(module):
            modules.add(module)
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(obj)
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def _walk(obj: Any, depth: int = 0):
    yield obj
    if depth < 3:
        if isinstance(obj, dict):
            for v in obj.values():
                yield from _walk(v, depth + 1)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from _walk(v, depth + 1)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            for v in vars(obj).values():
                yield from _walk(v, depth + 1)


def _is_users_module(module: Any) -> bool:
    name = module.__name__
    if name in ("__main__", "builtins") or name.startswith("workbench"):
        return False
    path = getattr(module, "__file__", None) or ""
    return bool(path) and "site-packages" not in path and not path.startswith(sys.base_prefix)
