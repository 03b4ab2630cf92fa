"""One timing slot per machine: a timed call never runs beside other work of ours.

- Timing jobs take the machine's slot exclusively: an ``flock`` on a file in the machine's
  temporary directory, so two timing jobs never overlap, across threads, kernels and Dask
  workers of the same user on one machine.
- Verification jobs of this process run in parallel, but not beside a timing job: a new one
  waits while a timing job runs, and a timing job waits for the running ones for a grace period;
  those still running after it (a hang, a slow candidate) are paused (SIGSTOP) until the timing
  ends, their wall-clock limit stopped with them. So a candidate that hangs in verification
  delays the timing of the others by the grace period, not by its timeout.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GRACE = 5.0  # seconds a timing job waits for running verification before pausing it

_cond = threading.Condition()
_verifying: dict[int, list[Any]] = {}  # running verification jobs -> their sandbox workers
_timing = False


def slot_path() -> Path:
    return Path(tempfile.gettempdir()) / f"workbench-machine-slot-{os.getuid()}.lock"


@contextmanager
def verification_slot() -> Iterator[Callable[[Any], None]]:
    """Run verification here; yields ``register(worker)`` for the sandboxed workers it starts
    (a timing job may pause them)."""
    global _timing
    token = object()
    with _cond:
        while _timing:
            _cond.wait()
        _verifying[id(token)] = []
    try:
        yield _verifying[id(token)].append
    finally:
        with _cond:
            del _verifying[id(token)]
            _cond.notify_all()


@contextmanager
def timing_slot(grace: float = GRACE) -> Iterator[None]:
    """Hold the machine's timing slot: no other timing job, no running verification."""
    global _timing
    with _cond:
        while _timing:
            _cond.wait()
        _timing = True  # no new verification starts from now on
        deadline = time.monotonic() + grace
        while _verifying and (left := deadline - time.monotonic()) > 0:
            _cond.wait(left)
        paused = [w for workers in _verifying.values() for w in workers if w.pause()]
    fd = os.open(slot_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
        yield
    finally:
        os.close(fd)
        for worker in paused:
            worker.resume()
        with _cond:
            _timing = False
            _cond.notify_all()
