"""Kernel side of a worker run: start it, feed it a program, collect what it reports."""

from __future__ import annotations

import os
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from ._process import Limits, Worker, start_worker
from ._wire import WireError, decode

MAX_MESSAGE = 2 * 1024**3


@dataclass
class Fault:
    """A run that ended abnormally: status is one of timeout, crashed, oom, error."""

    status: str
    reason: str


@dataclass
class RunReport:
    """Everything one worker run reported."""

    load_error: str | None = None
    load_traceback: str = ""
    cases: dict[int, dict[str, Any]] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    calibrated_size: int | None = None
    timing: dict[str, Any] | None = None
    fault: Fault | None = None
    output: str = ""
    wall_timing: float | None = None  # the kernel's own clock around the timing phase
    profile: dict[str, Any] | None = None  # the line profile after timing, when asked for


@dataclass
class Program:
    role: str  # "reference" | "candidate"
    code: str
    entry: str
    context: dict[str, Any]
    gpu: str | None = None  # "cupy" / "numba-cuda": device-synchronised timing with events
    marks: bool = False  # a workbench-generated GPU wrapper: its phase marks are read
    profile: bool = False  # load the line profiler, for a timing command that asks for one


class _Gone(Exception):
    pass


class _Channel:
    def __init__(self, limits: Limits, hardened: bool) -> None:
        cmd_r, self.cmd_w = os.pipe()
        self.msg_r, msg_w = os.pipe()
        argv = [sys.executable, "-m", "workbench.sandbox._candidate_worker", str(cmd_r), str(msg_w)]
        try:
            self.worker: Worker = start_worker(
                argv, limits, pass_fds=(cmd_r, msg_w), hardened=hardened
            )
        finally:
            os.close(cmd_r)
            os.close(msg_w)
        self._buffer = bytearray()

    def send(self, obj: Any) -> None:
        data = cloudpickle.dumps(obj)
        view = memoryview(struct.pack("<Q", len(data)) + data)
        while view:
            _, ready, _ = select.select([], [self.cmd_w], [], 0.1)
            if ready:
                try:
                    view = view[os.write(self.cmd_w, view[: 1 << 16]) :]
                except BrokenPipeError:
                    raise _Gone() from None
            elif self.worker.process.poll() is not None:
                raise _Gone()

    def recv(self) -> dict[str, Any]:
        while True:
            if len(self._buffer) >= 8:
                (size,) = struct.unpack_from("<Q", self._buffer)
                if size > MAX_MESSAGE:
                    raise WireError("the program sent a message over 2 GiB")
                if len(self._buffer) >= 8 + size:
                    data = bytes(self._buffer[8 : 8 + size])
                    del self._buffer[: 8 + size]
                    msg = decode(data)
                    if not isinstance(msg, dict) or "kind" not in msg:
                        raise WireError("unexpected message")
                    return msg
            ready, _, _ = select.select([self.msg_r], [], [], 0.1)
            if ready:
                chunk = os.read(self.msg_r, 1 << 20)
                if not chunk:
                    raise _Gone()
                self._buffer += chunk
            elif self.worker.process.poll() is not None:
                # dead, but a leftover child may hold the pipe open: drain what is there
                ready, _, _ = select.select([self.msg_r], [], [], 0.2)
                if not ready:
                    raise _Gone()

    def close(self) -> None:
        for fd in (self.cmd_w, self.msg_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.worker.close()


def run_program(
    program: Program,
    cases: Sequence[tuple],
    tests: Sequence[tuple[str, Callable]],
    make: Callable[[int], tuple],
    decide: Callable[[RunReport], dict | None],
    limits: Limits,
    hardened: bool = False,
    on_phase: Callable[[str], None] | None = None,
) -> RunReport:
    """Run ``program`` in a fresh worker: load, verify on ``cases``, run ``tests``, then time it
    if ``decide(report)`` returns a timing command."""
    report = RunReport()
    phase = "starting"

    def enter(name: str) -> None:
        nonlocal phase
        phase = name
        if on_phase:
            on_phase(name)

    channel = _Channel(limits, hardened)
    try:
        enter("loading")
        channel.send(
            {
                "role": program.role,
                "code": program.code,
                "entry": program.entry,
                "context": dumps_by_value(program.context),
                "cases": dumps_by_value(list(cases)),
                "tests": dumps_by_value(list(tests)),
                "make": dumps_by_value(make),
                "gpu": program.gpu,
                "marks": program.marks,
                "profile": program.profile,
            }
        )
        msg = channel.recv()
        if msg["kind"] == "error":
            report.load_error, report.load_traceback = msg["error"], msg.get("traceback", "")
            return report
        for i in range(len(cases)):
            enter(f"verification (input {i + 1} of {len(cases)})")
            msg = channel.recv()
            report.cases[int(msg["index"])] = msg
        for name, _ in tests:
            enter(f"test {name}")
            report.tests.append(channel.recv())
        command = decide(report)
        if command is None:
            return report
        enter("timing")
        started = time.perf_counter()
        channel.send({"cmd": "time", **command})
        msg = channel.recv()
        if msg["kind"] == "calibrated":
            report.calibrated_size = int(msg["size"])
            started = time.perf_counter()
            msg = channel.recv()
        report.wall_timing = time.perf_counter() - started
        report.timing = msg
        if command.get("profile"):
            enter("profiling")
            report.profile = _profile(channel)
        return report
    except _Gone:
        report.fault = _fault(channel.worker, phase, channel.worker.output_tail())
        return report
    except WireError as exc:
        report.fault = Fault("error", f"sent a malformed result during {phase}: {exc}")
        return report
    finally:
        report.output = channel.worker.output_tail()
        channel.close()


def _profile(channel: _Channel) -> dict[str, Any]:
    """The line profile message; a worker lost here loses the profile, not its verdict (the
    verified, timed calls already came back)."""
    try:
        msg = channel.recv()
    except _Gone:
        fault = _fault(channel.worker, "profiling")
        return {"kind": "profile", "note": f"the profiled call {fault.reason}: no line profile"}
    except WireError as exc:
        return {"kind": "profile", "note": f"the line profile was malformed ({exc})"}
    return msg if msg.get("kind") == "profile" else {"note": "no line profile came back"}


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


def _fault(worker: Worker, phase: str, output: str = "") -> Fault:
    try:
        worker.process.wait(timeout=2)
    except Exception:
        pass
    from ._hardening import sandbox_start_failure

    if (sandbox_failed := sandbox_start_failure(worker)) is not None:
        return Fault("error", sandbox_failed)  # the sandbox's failure, not the program's
    if worker.verdict is not None:
        status = "error" if worker.verdict.status == "disk" else worker.verdict.status
        return Fault(status, f"{worker.verdict.reason}, during {phase}")
    code = worker.process.poll()
    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGXFSZ:
            return Fault(
                "error", f"wrote a file over the {worker.limits.disk_mb:,} MiB limit during {phase}"
            )
        if sig == signal.SIGKILL:
            return Fault(
                "oom",
                f"was killed (SIGKILL, most likely the system ran out of memory) during {phase}",
            )
        return Fault("crashed", f"crashed ({worker.exit_description()}) during {phase}")
    return Fault(
        "crashed",
        f"ended the worker process ({worker.exit_description()}, e.g. os._exit) during {phase}",
    )
