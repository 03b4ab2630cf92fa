"""One timing slot per machine: a timed call never runs beside other work of ours.

Verification takes the machine's slot shared (many at once); timing takes it exclusively (alone).
The slot is an ``flock`` on a file in the machine's temporary directory, so it holds across
threads, kernels and Dask workers of the same user on one machine.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def slot_path() -> Path:
    return Path(tempfile.gettempdir()) / f"workbench-machine-slot-{os.getuid()}.lock"


@contextmanager
def machine_slot(*, exclusive: bool) -> Iterator[None]:
    """Hold the machine's slot: shared for verification, exclusive for timing."""
    # a fresh open file description per holder: flock then excludes threads of one process too
    fd = os.open(slot_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
