"""Executors: where jobs run. One interface, three implementations.

A job is plain data with a ``run(on_phase=None)`` method, a ``kind`` ("verify", "timing") and
the ``resources`` it holds on a cluster. Its trusted half (comparing, deciding) runs wherever
the executor runs it; its untrusted half runs in a sandboxed worker process that the job starts.

- :class:`SerialExecutor` runs each job in the calling thread, one after another.
- :class:`LocalExecutor` (the default) runs jobs in threads of this process, up to the cores;
  timing jobs hold the machine's timing slot, so they run alone.
- ``DaskExecutor`` (``workbench.execute.dask``) sends jobs to a ``distributed`` cluster.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

OnPhase = Callable[[str], None]


@runtime_checkable
class Job(Protocol):
    kind: str

    def run(self, on_phase: OnPhase | None = None) -> Any: ...


def job_resources(job: Job) -> dict[str, float]:
    """What a job holds on a cluster: ``timing`` for timed jobs, ``GPU`` for device work."""
    resources: dict[str, float] = {}
    if job.kind == "timing":
        resources["timing"] = 1
    if getattr(job, "gpu", False):
        resources["GPU"] = 1
    return resources


class JobLost(Exception):
    """The executor lost a job (a worker died twice, the cluster went away)."""


class Executor(ABC):
    """Runs jobs and hands back futures."""

    name = "executor"
    #: phases reach the caller only where jobs run in this process
    reports_phases = False

    @abstractmethod
    def submit(self, job: Job, on_phase: OnPhase | None = None) -> Future: ...

    def cancel(self, futures: Iterable[Future]) -> None:
        """Cancel what has not started (Stop); running jobs finish."""
        for future in futures:
            future.cancel()

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        pass

    def describe(self) -> str:
        return self.name

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """One job after another in the calling thread: the baseline, and the simplest mock."""

    name = "serial"
    reports_phases = True

    def submit(self, job: Job, on_phase: OnPhase | None = None) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(job.run(on_phase))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
            future.set_exception(exc)
        return future


class LocalExecutor(Executor):
    """Jobs in threads of this process: verification in parallel up to ``workers`` (default:
    the cores), timing alone (each timing job holds the machine's slot exclusively)."""

    name = "local"
    reports_phases = True

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, job: Job, on_phase: OnPhase | None = None) -> Future:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="wb-job")
            return self._pool.submit(job.run, on_phase)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> str:
        return f"local ({self.workers} at once, one timing slot)"


def executor_from(spec: Any, workers: int = 0) -> Executor:
    """The executor a setting names: "local", "serial", a Dask address, a Client, or one."""
    if isinstance(spec, Executor):
        return spec
    if spec in (None, "", "local"):
        return LocalExecutor(workers or None)
    if spec == "serial":
        return SerialExecutor()
    from ._dask import DaskExecutor

    return DaskExecutor(spec)
