"""Where jobs run: the ``Executor`` interface, local (threads, one timing slot per machine),
serial, and Dask ``distributed`` implementations, and the machine's timing slot."""

from ._executor import (
    Executor,
    Job,
    JobLost,
    LocalExecutor,
    SerialExecutor,
    executor_from,
    job_resources,
)
from ._slots import machine_slot

__all__ = [
    "Executor",
    "Job",
    "JobLost",
    "LocalExecutor",
    "SerialExecutor",
    "executor_from",
    "job_resources",
    "machine_slot",
]
