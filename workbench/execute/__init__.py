"""Where jobs run: the ``Executor`` interface, local (threads, one timing slot per machine),
serial, and Dask ``distributed`` implementations, and the machine's timing slot."""

from ._dask import DaskExecutor
from ._executor import (
    Executor,
    Job,
    JobLost,
    LocalExecutor,
    SerialExecutor,
    executor_from,
    job_resources,
)
from ._slots import timing_slot, verification_slot

__all__ = [
    "DaskExecutor",
    "Executor",
    "Job",
    "JobLost",
    "LocalExecutor",
    "SerialExecutor",
    "executor_from",
    "job_resources",
    "timing_slot",
    "verification_slot",
]
