"""The pass matrix: which candidate passes which test, run in isolated worker processes.

Candidates (code strings that define a function) and tests (an ``assert`` line or a test
function's source) are deduplicated, then every (candidate, test) cell runs in a small pool of
long-lived workers (``workbench.sandbox._test_worker``): many cells per process, a per-cell timer,
a fresh namespace per cell. A crash (segfault, ``os._exit``) or a cell that blocks the timer
costs that cell only: the worker is killed and restarted and the rest of its batch goes on.
Results are cached on disk by content hash, so re-ranking or re-running is free.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import UsageError
from ..execute import Executor, LocalExecutor, verification_slot
from ..sandbox import Limits
from ..sandbox._channel import Channel, WorkerGone
from ..sandbox._test_worker import LOAD_TEST, instrument, load_timeout
from ..sandbox._wire import WireError

OUTCOMES = ("passed", "failed", "error", "timeout", "crashed")
_CACHE_VERSION = "1"
_CHUNK = 256  # cells per batch sent to a worker
_STARTUP_GRACE = 30.0  # seconds a (re)started worker may take before its first result
_VERSIONS = f"{sys.version_info[:3]} numpy {np.__version__}"  # verdicts depend on these too

# Ctrl-C and Stop end a build's batches now, not when each batch is done: the jobs of one
# build (its token) register the worker processes they run here, and abort() kills them.
_live_lock = threading.Lock()
_live: dict[str, set[_Process]] = {}
_aborted: set[str] = set()


def abort(token: str) -> int:
    """Stop the batches of build ``token`` running in this process; returns how many workers
    were killed. Batches not started yet return at once."""
    with _live_lock:
        _aborted.add(token)
        running = list(_live.pop(token, ()))
    for process in running:
        process.channel.worker.kill()
    return len(running)


@dataclass
class PassMatrix:
    """Deduplicated candidates x deduplicated tests, with what happened in every cell."""

    codes: list[str]
    tests: list[str]
    passed: np.ndarray  # bool, (n_codes, n_tests)
    outcomes: np.ndarray  # str, one of OUTCOMES per cell
    loaded: np.ndarray  # bool per code: its code ran without error (B4's "executable")
    returned: np.ndarray  # object: repr of what the test's call returned, or None
    test_inputs: list[str | None]  # the call expression of each test, e.g. "f([1, 2])"
    code_counts: np.ndarray  # how often each code occurred before deduplication
    test_counts: np.ndarray
    entry: str = ""
    timeout: float = 0.1
    seconds: float = 0.0  # wall time of the build
    cells_run: int = 0  # cells executed (not from the cache)
    details: dict[tuple[int, int], str] = field(default_factory=dict)  # why a cell erred

    @property
    def shape(self) -> tuple[int, int]:
        return self.passed.shape

    def code_index(self, code: str) -> int:
        try:
            return self.codes.index(code)
        except ValueError:
            raise UsageError("that code is not a candidate of this pass matrix") from None

    def test_index(self, test: int | str) -> int:
        """The column of ``test`` (its index, or its source text)."""
        if isinstance(test, (int, np.integer)):
            if not 0 <= int(test) < len(self.tests):
                raise UsageError(f"test index {test} is out of range 0..{len(self.tests) - 1}")
            return int(test)
        try:
            return self.tests.index(test.strip())
        except ValueError:
            raise UsageError("that test is not a column of this pass matrix") from None

    def __repr__(self) -> str:
        return (
            f"PassMatrix({len(self.codes)} codes x {len(self.tests)} tests, "
            f"{int(self.passed.sum())} passing cells, {self.seconds:.2f} s)"
        )


def dedupe(items: Iterable[str], *, strip: bool = False) -> tuple[list[str], np.ndarray]:
    """Unique items in first-seen order and how often each occurred."""
    counts: dict[str, int] = {}
    for item in items:
        key = item.strip() if strip else item
        counts[key] = counts.get(key, 0) + 1
    return list(counts), np.array(list(counts.values()), dtype=np.int64)


def build_pass_matrix(
    codes: Sequence[str],
    tests: Sequence[str],
    *,
    entry: str,
    prelude: str = "",
    timeout: float = 0.1,
    workers: int = 2,
    cache_dir: str | os.PathLike[str] | None = None,
    memory_mb: int = 2048,
    process_per_test: bool = False,
    executor: Executor | None = None,
) -> PassMatrix:
    """Run every deduplicated candidate against every deduplicated test, in isolated workers.

    ``codes`` are programs that define ``entry``; ``tests`` are ``assert`` lines or test
    functions (``def test_...``) that call it. ``prelude`` runs before each candidate (imports).
    ``process_per_test`` starts a fresh process per cell: slow, the reference the fast path is
    checked against. Batches of cells are jobs (:class:`CellsJob`) on ``executor`` (default:
    ``workers`` threads of this process).
    """
    if not entry or not entry.isidentifier():
        raise UsageError("entry must be the name of the function under test, e.g. entry='f'")
    if timeout <= 0:
        raise UsageError("timeout must be a positive number of seconds")
    if workers < 1:
        raise UsageError("workers must be at least 1")
    started = time.perf_counter()
    unique_codes, code_counts = dedupe(codes)
    unique_tests, test_counts = dedupe((t for t in tests if t.strip()), strip=True)
    n_codes, n_tests = len(unique_codes), len(unique_tests)

    # column -1 is the "load" cell of each code: the candidate alone, no test
    keys = {
        (i, j): _cell_key(prelude, code, LOAD_TEST if j < 0 else unique_tests[j], entry, timeout)
        for i, code in enumerate(unique_codes)
        for j in range(-1, n_tests)
    }
    cache = _Cache(Path(cache_dir)) if cache_dir is not None else None
    results: dict[tuple[int, int], tuple[str, str, str | None]] = (
        cache.get_many(keys) if cache else {}
    )
    todo = [cell for cell in keys if cell not in results]
    if todo:
        jobs = _jobs(
            unique_codes, unique_tests, prelude, timeout, memory_mb, process_per_test, todo, workers
        )
        own = executor is None
        executor = executor or LocalExecutor(workers)
        futures = []
        try:
            futures = [executor.submit(job) for job in jobs]
            fresh = {}
            for future in futures:
                fresh.update(future.result())
        except BaseException:  # Ctrl-C or Stop: the workers go now, not after their batch
            executor.cancel(futures)
            abort(jobs[0].token)
            raise
        finally:
            if own:
                executor.close()
            with _live_lock:
                _aborted.discard(jobs[0].token)
                _live.pop(jobs[0].token, None)
        results.update(fresh)
        if cache:
            cache.put_many({keys[cell]: value for cell, value in fresh.items()})
    if cache:
        cache.close()

    outcomes = np.full((n_codes, n_tests), "crashed", dtype="<U7")
    returned = np.full((n_codes, n_tests), None, dtype=object)
    details: dict[tuple[int, int], str] = {}
    for (i, j), (outcome, detail, value) in results.items():
        if j < 0:
            continue
        outcomes[i, j] = outcome
        returned[i, j] = value
        if detail:
            details[i, j] = detail
    loaded = np.array([results[i, -1][0] == "passed" for i in range(n_codes)], dtype=bool)
    return PassMatrix(
        codes=unique_codes,
        tests=unique_tests,
        passed=outcomes == "passed",
        outcomes=outcomes,
        loaded=loaded,
        returned=returned,
        test_inputs=[instrument(t)[1] for t in unique_tests],
        code_counts=code_counts,
        test_counts=test_counts,
        entry=entry,
        timeout=timeout,
        seconds=time.perf_counter() - started,
        cells_run=len(todo),
        details=details,
    )


def _cell_key(prelude: str, code: str, test: str, entry: str, timeout: float) -> str:
    payload = json.dumps(
        [_CACHE_VERSION, _VERSIONS, prelude, code, test, entry, repr(float(timeout))]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class _Cache:
    """Cell results on disk (SQLite), keyed by the sha256 of everything that decides them."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(directory / "passmatrix.sqlite", timeout=30)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS cells "
            "(key TEXT PRIMARY KEY, outcome TEXT, detail TEXT, returned TEXT)"
        )

    def get_many(self, keys: dict[tuple[int, int], str]) -> dict:
        by_key = {key: cell for cell, key in keys.items()}
        found = {}
        items = list(by_key)
        for start in range(0, len(items), 500):
            part = items[start : start + 500]
            rows = self.db.execute(
                f"SELECT key, outcome, detail, returned FROM cells WHERE key IN "
                f"({','.join('?' * len(part))})",
                part,
            )
            for key, outcome, detail, value in rows:
                found[by_key[key]] = (outcome, detail, value)
        return found

    def put_many(self, values: dict[str, tuple[str, str, str | None]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?)",
                [(key, *value) for key, value in values.items()],
            )

    def close(self) -> None:
        self.db.close()


def _jobs(
    codes, tests, prelude, timeout, memory_mb, process_per_test, cells, workers
) -> list[CellsJob]:
    """Batches of cells, a code's cells together (its load cell first), up to _CHUNK a job."""
    # enough batches to keep every worker busy, none over _CHUNK cells
    size = 1 if process_per_test else max(1, min(_CHUNK, -(-len(cells) // (2 * workers))))
    by_code: dict[int, list[tuple[int, int]]] = {}
    for cell in sorted(cells):  # the load cell (-1) first, then the tests in order
        by_code.setdefault(cell[0], []).append(cell)
    batches: list[list[tuple[int, int]]] = []
    for group in by_code.values():
        for start in range(0, len(group), size):
            chunk = group[start : start + size]
            if batches and len(batches[-1]) + len(chunk) <= size and not process_per_test:
                batches[-1].extend(chunk)  # small codes share a worker process
            else:
                batches.append(list(chunk))
    jobs, token = [], uuid.uuid4().hex
    for batch in batches:
        ids = {i for i, _ in batch}
        test_ids = {j for _, j in batch if j >= 0}
        jobs.append(
            CellsJob(
                codes={i: codes[i] for i in ids},
                tests={j: tests[j] for j in test_ids},
                prelude=prelude,
                timeout=timeout,
                memory_mb=memory_mb,
                cells=batch,
                token=token,
            )
        )
    return jobs


@dataclass
class CellsJob:
    """A batch of (code, test) cells in one worker process. A crash (segfault, ``os._exit``)
    or a cell that blocks its timer costs that cell only: the worker is restarted and the rest
    of the batch goes on. Returns {cell: (outcome, detail, returned repr)}."""

    codes: dict[int, str]
    tests: dict[int, str]
    prelude: str
    timeout: float
    memory_mb: int
    cells: list[tuple[int, int]]
    token: str = ""  # the build it belongs to (abort() ends its batches)
    kind: str = "verify"
    gpu: bool = False

    def run(self, on_phase: Any = None) -> dict[tuple[int, int], tuple[str, str, str | None]]:
        # whole-process backstop; the per-cell watchdog below is the real limit
        self._limits = Limits(timeout=24 * 3600.0, memory_mb=self.memory_mb, disk_mb=256)
        # a cell that ignores its timer is killed after this long (its code may load slowly)
        self._deadline = load_timeout(self.timeout) + 2 * self.timeout + 1.0
        self.results: dict[tuple[int, int], tuple[str, str, str | None]] = {}
        self.dead_codes: dict[int, str] = {}  # codes whose loading kills the worker
        batch, process = list(self.cells), None
        with verification_slot() as register:
            try:
                while batch:
                    batch = self._skip_dead(batch)
                    if not batch or self.token in _aborted:
                        break
                    if process is None:
                        process = _Process(self._limits)
                        register(process.channel.worker)
                        with _live_lock:
                            _live.setdefault(self.token, set()).add(process)
                    batch = self._run_batch(process, batch)
                    if process.broken:  # it died on a cell: start afresh
                        self._close(process)
                        process = None
            finally:
                if process is not None:
                    self._close(process)
        return self.results

    def _close(self, process: _Process) -> None:
        process.close()
        with _live_lock:
            _live.get(self.token, set()).discard(process)

    def _run_batch(self, process: _Process, batch: list[tuple[int, int]]) -> list:
        """Run ``batch``; returns the cells left over if the worker died (empty if all ran)."""
        code_ids = sorted({i for i, _ in batch})
        test_ids = sorted({j for _, j in batch if j >= 0})
        message = {
            "timeout": self.timeout,
            "prelude": self.prelude,
            "codes": {i: self.codes[i] for i in code_ids},
            "tests": {j: self.tests[j] for j in test_ids},
            "cells": [[i, j] for i, j in batch],
        }
        if not process.send(message):
            return self._lost(process, batch, 0, "crashed", "worker gone")
        deadline = _STARTUP_GRACE if process.fresh else self._deadline + 1.0
        for position, cell in enumerate(batch):
            try:
                data = process.receive(deadline)
            except EOFError:  # it died: segfault, os._exit, killed for memory
                return self._lost(process, batch, position, "crashed", process.describe_exit())
            deadline = self._deadline
            if data is None:  # alive but silent: the cell blocks its timer
                return self._lost(process, batch, position, "timeout", "did not stop at its timer")
            try:
                cid, tid, outcome, detail, value = data
            except (ValueError, TypeError):
                return self._lost(process, batch, position, "crashed", "garbled result")
            if (cid, tid) != cell or outcome not in OUTCOMES:
                return self._lost(process, batch, position, "crashed", "garbled result")
            self.results[cell] = (outcome, detail, value if isinstance(value, str) else None)
            process.fresh = False
        try:
            if process.receive(self._deadline) != "done":
                process.broken = True
        except EOFError:
            process.broken = True
        return []

    def _skip_dead(self, batch: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Record the cells of codes known to kill the worker as they load; return the rest."""
        for cell in batch:
            if cell[0] in self.dead_codes:
                self.results[cell] = ("crashed", self.dead_codes[cell[0]], None)
        return [cell for cell in batch if cell[0] not in self.dead_codes]

    def _lost(
        self, process: _Process, batch: list, position: int, outcome: str, detail: str
    ) -> list:
        """Record the cell that was running as lost; the rest of the batch goes on."""
        process.broken = True
        cell = batch[position]
        if cell[1] < 0:  # the candidate itself kills the process: all its cells are lost
            if outcome == "crashed":
                self.dead_codes[cell[0]] = f"load: {detail}"
            for other in batch[position:]:
                if other[0] == cell[0]:
                    self.results[other] = (outcome, f"load: {detail}", None)
            return [c for c in batch[position:] if c[0] != cell[0]]
        self.results[cell] = (outcome, detail, None)
        return batch[position + 1 :]


class _Process:
    """One test worker behind a ``Channel``."""

    def __init__(self, limits: Limits) -> None:
        self.channel = Channel(
            "workbench.sandbox._test_worker", limits, extra_env={"PYTHONHASHSEED": "0"}
        )
        self.fresh = True
        self.broken = False

    def send(self, message: dict) -> bool:
        try:
            self.channel.send(message)
        except WorkerGone:
            return False
        return True

    def receive(self, deadline: float) -> Any:
        """The next message; None if nothing came for ``deadline`` s; EOFError if it died."""
        try:
            return self.channel.recv(deadline)
        except WorkerGone:
            raise EOFError from None
        except WireError:
            return ("garbled",)

    def describe_exit(self) -> str:
        worker = self.channel.worker
        try:
            worker.process.wait(timeout=1.0)
        except Exception:
            pass
        if worker.verdict is not None:
            return worker.verdict.reason
        return worker.exit_description()

    def close(self) -> None:
        self.channel.close()
