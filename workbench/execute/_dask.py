"""Jobs on a Dask ``distributed`` cluster: any ``Client`` works (a LocalCluster, SSH,
dask-jobqueue's Slurm/PBS clusters, dask-gateway).

Timing jobs hold the ``timing`` resource and GPU jobs the ``GPU`` resource (start workers with
``dask worker ADDRESS --resources timing=1``, one timing slot per machine); where no worker
offers a resource, jobs go without it and the machine-wide timing slot still serializes timed
calls. A job whose worker is lost is retried once, then reported as lost with the reason.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future
from typing import Any

from .._errors import UsageError, require
from ._executor import Executor, Job, JobLost, OnPhase, job_resources

_clients: dict[str, Any] = {}  # one Client per scheduler address, for the kernel's life
_clients_lock = threading.Lock()


def _run_job(job: Job) -> Any:  # on the Dask worker
    return job.run()


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, client_or_address: Any, *, timeout: float = 5.0) -> None:
        distributed = require("distributed", "distributed", "running jobs on a Dask cluster")
        if isinstance(client_or_address, str):
            self.client = _connect(distributed, client_or_address, timeout)
        elif isinstance(client_or_address, distributed.Client):
            self.client = client_or_address
        else:
            raise UsageError(
                f"executor must be 'local', 'serial', a Dask scheduler address such as "
                f"tcp://host:8786, or a distributed.Client, not {type(client_or_address).__name__}"
            )
        self._futures: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.notes: list[str] = []
        offered = self._offered()
        for resource, what in (("timing", "timed jobs"), ("GPU", "GPU jobs")):
            if resource not in offered:
                self.notes.append(
                    f"no Dask worker offers the {resource!r} resource: {what} go to any worker "
                    f"(start workers with --resources {resource}=1 to say where)"
                )

    def _offered(self) -> set[str]:
        try:
            workers = self.client.scheduler_info()["workers"].values()
        except Exception:  # noqa: BLE001 - a scheduler that answers oddly: assume nothing
            return set()
        return {name for w in workers for name in (w.get("resources") or {})}

    def submit(self, job: Job, on_phase: OnPhase | None = None) -> Future:
        out: Future = Future()
        self._submit(job, out, attempt=1)
        return out

    def _submit(self, job: Job, out: Future, attempt: int) -> None:
        offered = self._offered()
        resources = {k: v for k, v in job_resources(job).items() if k in offered} or None
        future = self.client.submit(
            _run_job,
            job,
            resources=resources,
            pure=False,
            key=f"workbench-{job.kind}-{uuid.uuid4().hex[:12]}",
        )
        with self._lock:
            self._futures[id(out)] = future
        future.add_done_callback(lambda f: self._done(f, job, out, attempt))

    def _done(self, future: Any, job: Job, out: Future, attempt: int) -> None:
        if out.cancelled():
            return
        if future.status == "finished":
            out.set_result(future.result())
            return
        if future.status == "cancelled":
            out.cancel()
            return
        exc = future.exception()
        if attempt == 1:  # a lost worker, a dropped connection: once more, elsewhere
            self._submit(job, out, attempt=2)
            return
        out.set_exception(
            JobLost(f"the Dask cluster lost this job twice ({type(exc).__name__}: {exc})")
        )

    def cancel(self, futures: Any) -> None:
        for out in futures:
            if out.cancel():
                with self._lock:
                    future = self._futures.pop(id(out), None)
                if future is not None:
                    future.cancel()

    def describe(self) -> str:
        workers = len(self.client.scheduler_info().get("workers", {}))
        return f"dask ({self.client.scheduler.address}, {workers} workers)"


def _connect(distributed: Any, address: str, timeout: float) -> Any:
    with _clients_lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}): check "
                "that `dask scheduler` runs there, that the address and port are right and "
                "open from this machine, or set executor=local"
            ) from None
        _clients[address] = client
        return client
