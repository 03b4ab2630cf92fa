"""Process isolation for untrusted code: one worker process per run, with limits.

What it does: a separate process (so a crash, hang, ``sys.exit`` or memory blow-up costs only
that run), its own process group and session, a fresh scratch directory as its working
directory and ``$HOME``/``$TMPDIR``, an environment built from an allow-list (no API keys,
tokens or passwords), resource limits (file size, core dumps, address space for data), a
watchdog that kills the whole process tree on wall-clock timeout, on resident memory above the
limit, or on scratch-directory growth above the disk limit, and a sweep of leftover children.

What it does not do (without ``hardened``): it is not a security boundary against a
determined attacker. The worker runs as the same user, can read what the user can read and
reach the network. See the README's "Isolation" section.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

# Variables a worker may inherit: enough to find Python, its packages, CPU/GPU runtimes.
_ALLOWED = re.compile(
    r"^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|PYTHONPATH|PYTHONHASHSEED|PYTHONIOENCODING|"
    r"VIRTUAL_ENV|CONDA_PREFIX|LD_LIBRARY_PATH|NUMBA_[A-Z0-9_]+|OMP_[A-Z_]+|MKL_[A-Z_]+|"
    r"OPENBLAS_[A-Z_]+|CUDA_[A-Z_]+|NVIDIA_[A-Z_]+|CUPY_[A-Z_]+|MPLBACKEND)$"
)
# Never passed on, even if the allow-list grows: anything that looks like a credential.
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION)", re.I)

RUN_MARKER = "WORKBENCH_RUN_ID"


def scrubbed_env(
    scratch: str | os.PathLike[str], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a worker: allow-listed variables only, home and tmp in ``scratch``."""
    env = {k: v for k, v in os.environ.items() if _ALLOWED.match(k) and not _SECRET.search(k)}
    env.update(
        HOME=str(scratch),
        TMPDIR=str(scratch),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        MPLBACKEND="Agg",
        NUMBA_CACHE_DIR=str(scratch),
    )
    for key, value in (extra or {}).items():
        if _SECRET.search(key):
            raise ValueError(f"refusing to pass {key} to an untrusted worker")
        env[key] = value
    return env


@dataclass(frozen=True)
class Limits:
    """Limits of one worker process."""

    timeout: float = 120.0  # seconds of wall clock for the whole process
    memory_mb: int = 4096  # resident memory of the process tree
    disk_mb: int = 1024  # largest file, and the scratch directory in total
    output_cap: int = 64 * 1024  # bytes of stdout/stderr kept
    processes: int = 1024  # processes and threads of the tree (hardened: cgroup or rlimit)


@dataclass
class Verdict:
    """Why the watchdog stopped a worker (or None if it ended by itself)."""

    status: str  # "timeout" | "oom" | "disk"
    reason: str


def _preexec(limits: Limits, join: Callable[[], None] | None) -> None:  # fork..exec
    if join is not None:
        try:
            join()  # the run's cgroup; without it the rlimit and the watchdog still bound it
        except OSError:
            pass
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    fsize = limits.disk_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    # Private writable mappings (heap, numpy buffers); the watchdog covers what this misses.
    data = (limits.memory_mb + 512) * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    except (ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:  # the worker dies with the kernel, and orphans of the candidate come back to it
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            libc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
            # One memory layout for every worker (ADDR_NO_RANDOMIZE): with address-space
            # randomization a microsecond function's median moves by +-12 % from one process
            # to the next, which no number of calls in one process averages out.
            libc.personality(libc.personality(0xFFFFFFFF) | 0x0040000)
        except Exception:
            pass


@dataclass
class Worker:
    """A running worker process with its scratch directory and watchdog."""

    process: subprocess.Popen
    scratch: Path
    limits: Limits
    run_id: str
    started: float = field(default_factory=time.monotonic)
    verdict: Verdict | None = None
    sandbox: str | None = None  # "bubblewrap" / "unshare" when hardened
    wrapped: Any = None  # the sandbox's clean-up (its cgroup)
    _stop: threading.Event = field(default_factory=threading.Event)
    _paused_at: float | None = None
    _watcher: threading.Thread | None = None

    def pause(self) -> bool:
        """Stop the whole process group (SIGSTOP) and its wall clock; True if it was running."""
        if self.process.poll() is not None or self._paused_at is not None:
            return False
        try:
            os.killpg(self.process.pid, signal.SIGSTOP)
        except (ProcessLookupError, PermissionError):
            return False
        self._paused_at = time.monotonic()
        return True

    def resume(self) -> None:
        """Continue after ``pause``; the time it was stopped does not count against its limit."""
        if self._paused_at is None:
            return
        self.started += time.monotonic() - self._paused_at
        self._paused_at = None
        try:
            os.killpg(self.process.pid, signal.SIGCONT)
        except (ProcessLookupError, PermissionError):
            pass

    # -- lifecycle -----------------------------------------------------------------------
    def watch(self) -> None:
        self._watcher = threading.Thread(
            target=self._watch, daemon=True, name=f"wb-watch-{self.run_id}"
        )
        self._watcher.start()

    def _watch(self) -> None:
        try:
            proc = psutil.Process(self.process.pid)
        except psutil.Error:
            return
        limit = self.limits.memory_mb * 1024 * 1024
        disk_limit = self.limits.disk_mb * 1024 * 1024
        last_disk = 0.0
        while not self._stop.is_set() and self.process.poll() is None:
            if self._paused_at is not None:  # stopped for another job's timing
                self._stop.wait(0.05)
                continue
            elapsed = time.monotonic() - self.started
            if elapsed > self.limits.timeout:
                self._kill(
                    Verdict(
                        "timeout",
                        f"still running after {self.limits.timeout:g} s (wall-clock limit)",
                    )
                )
                return
            rss, count = _tree_rss(proc)
            if count > self.limits.processes:
                self._kill(_too_many(self.limits))
                return
            if rss > limit:
                self._kill(
                    Verdict(
                        "oom",
                        f"used {rss / 2**20:,.0f} MiB, over the {self.limits.memory_mb:,} MiB memory limit",
                    )
                )
                return
            if elapsed - last_disk > 0.5:
                last_disk = elapsed
                used = _dir_size(self.scratch)
                if used > disk_limit:
                    self._kill(
                        Verdict(
                            "disk",
                            f"wrote {used / 2**20:,.0f} MiB to its scratch directory, over the {self.limits.disk_mb:,} MiB limit",
                        )
                    )
                    return
            self._stop.wait(0.02)
        # a program that forks and exits between two looks leaves its children behind: they
        # carry the run's marker (the worker itself counted as one)
        if not self._stop.is_set() and len(_marked(self.run_id)) + 1 > self.limits.processes:
            self._kill(_too_many(self.limits))

    def _kill(self, verdict: Verdict) -> None:
        if self.verdict is None:
            self.verdict = verdict
        self.kill()

    def kill(self) -> None:
        """Kill the worker, its process group and every process that carries its marker."""
        if self._paused_at is not None:
            try:  # a stopped process group takes SIGKILL, but its children need to run to exit
                os.killpg(self.process.pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for child in children:
            try:
                child.kill()
            except psutil.Error:
                pass
        sweep(self.run_id)
        try:
            self.process.kill()
        except ProcessLookupError:
            pass

    def close(self) -> None:
        """Stop the worker (if still alive) and remove its scratch directory."""
        if self._watcher is not None and self.process.poll() is not None:
            self._watcher.join(timeout=2)  # its last look, at what the worker left behind
        self._stop.set()
        self.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.wrapped is not None:
            self.wrapped.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- reporting -----------------------------------------------------------------------
    def output_tail(self) -> str:
        """The end of what the worker printed (stdout and stderr), capped."""
        parts = []
        for name in ("stdout.txt", "stderr.txt"):
            path = self.scratch / ".wb" / name
            try:
                with open(path, "rb") as fh:
                    size = fh.seek(0, os.SEEK_END)
                    fh.seek(max(0, size - self.limits.output_cap))
                    parts.append(fh.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(parts)

    def exit_description(self) -> str:
        code = self.process.poll()
        if code is None:
            return "still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}"
        return f"exited with code {code}"


def start_worker(
    argv: list[str],
    limits: Limits,
    pass_fds: tuple[int, ...] = (),
    extra_env: dict[str, str] | None = None,
    hardened: bool = False,
) -> Worker:
    """Start ``argv`` as an isolated worker process and its watchdog."""
    scratch = Path(tempfile.mkdtemp(prefix="wb-run-"))
    (scratch / ".wb").mkdir()
    run_id = uuid.uuid4().hex[:12]
    env = scrubbed_env(scratch, {**(extra_env or {}), RUN_MARKER: run_id})
    wrapped = None
    if hardened:
        from ._hardening import wrap

        wrapped = wrap(argv, scratch, limits)
        argv = wrapped.argv
    with (
        open(scratch / ".wb" / "stdout.txt", "wb") as stdout,
        open(scratch / ".wb" / "stderr.txt", "wb") as stderr,
    ):
        process = (_SandboxedPopen if wrapped else subprocess.Popen)(
            argv,
            cwd=scratch,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            pass_fds=pass_fds,
            start_new_session=True,
            preexec_fn=lambda: _preexec(limits, wrapped.join if wrapped else None),
        )
    worker = Worker(process=process, scratch=scratch, limits=limits, run_id=run_id)
    if wrapped is not None:
        worker.sandbox, worker.wrapped = wrapped.tool, wrapped
    worker.watch()
    return worker


class _SandboxedPopen(subprocess.Popen):
    """A sandbox's first process reports its worker's death by signal N as exit code 128 + N
    (bubblewrap and ``_nsinit`` alike): read it back as the signal, as for a plain worker."""

    @property  # type: ignore[override]
    def returncode(self) -> int | None:
        return self._code

    @returncode.setter
    def returncode(self, code: int | None) -> None:
        if code is not None and 128 < code <= 128 + 64:
            code = 128 - code
        self._code = code


def _marked(run_id: str) -> list[psutil.Process]:
    """Every process whose environment carries ``run_id`` (children that escaped the group)."""
    marked = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get(RUN_MARKER) == run_id:
                marked.append(proc)
        except (psutil.Error, OSError):
            continue
    return marked


def sweep(run_id: str) -> int:
    """Kill every process whose environment carries ``run_id``."""
    killed = 0
    for proc in _marked(run_id):
        try:
            proc.kill()
            killed += 1
        except (psutil.Error, OSError):
            continue
    return killed


def _too_many(limits: Limits) -> Verdict:
    return Verdict("error", f"started over {limits.processes:,} processes (the process limit)")


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """Resident memory of the tree, and how many processes it has."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total, len(procs)


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total
