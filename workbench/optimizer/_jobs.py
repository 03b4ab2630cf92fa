"""The optimizer's jobs: self-contained data in, a report out, run by any executor.

- :class:`VerifyJob` loads one program in a fresh sandboxed worker, runs it on every
  verification input and the user's tests, and (for a candidate) compares each output with the
  reference's, here, in the trusted process: the candidate never sees the expected values.
- :class:`TimingJob` times the reference and a candidate in the same job, on the same machine,
  on the same fresh inputs, in alternating blocks of calls, holding the machine's timing slot so
  no other job runs beside a timed call; every timed output of the candidate is compared in
  full with the reference's output for the same input. Without a candidate it calibrates the
  timing size and times the reference alone.

A job carries everything it needs (code, pickled argument builders, expected outputs,
tolerances, limits), so it can run in a thread of the kernel or on a Dask worker elsewhere.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any

from ..execute import timing_slot, verification_slot
from ..sandbox import Limits, Worker, sandbox_start_failure
from ..sandbox._channel import Channel, WorkerGone, dumps_by_value
from ..sandbox._wire import WireError
from ._verify import Tolerance, Unverified, compare, narrower, preview

WORKER = "workbench.sandbox._candidate_worker"


@dataclass
class Program:
    """A program to run: its code, the function to call and the names it may use."""

    role: str  # "reference" | "candidate"
    code: str
    entry: str
    context: bytes  # cloudpickled dict of the names the code may use
    gpu: str | None = None  # "cupy" / "numba-cuda": device-synchronised timing with events
    marks: bool = False  # a workbench-generated GPU wrapper: its phase marks are read
    profile: bool = False  # load the line profiler, for a job that asks for a profile
    seed: bool = False  # seed random and numpy.random alike before every call

    def job_message(self, cases: bytes, tests: bytes, make: bytes) -> dict[str, Any]:
        return {
            "role": self.role,
            "code": self.code,
            "entry": self.entry,
            "context": self.context,
            "cases": cases,
            "tests": tests,
            "make": make,
            "gpu": self.gpu,
            "marks": self.marks,
            "profile": self.profile,
            "seed": self.seed,
        }


@dataclass
class Fault:
    """A run that ended abnormally: status is one of timeout, crashed, oom, error."""

    status: str
    reason: str


# -- verification ------------------------------------------------------------------------------
@dataclass
class Verdict:
    """Why a candidate failed verification (None in a report means it did not)."""

    status: str
    reason: str
    mismatch: dict[str, Any] | None = None  # input, arguments, expected, actual


@dataclass
class VerifyReport:
    load_error: str | None = None
    cases: dict[int, dict[str, Any]] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    fault: Fault | None = None
    verdict: Verdict | None = None
    output: str = ""
    load_seconds: float = 0.0
    lower_precision: bool = False  # passed with a narrower float dtype (allowed by the user)
    again: dict[str, Any] | None = None  # the last input's result a second time


@dataclass
class VerifyJob:
    """Load, run on every verification input and test; compare with ``expected`` when given."""

    program: Program
    cases: bytes  # cloudpickled list of argument tuples
    tests: bytes  # cloudpickled list of (name, function)
    n_tests: int
    labels: list[str]
    limits: Limits
    hardened: bool = False
    expected: dict[int, dict[str, Any]] | None = None  # the reference's case reports
    arguments: list[list[str]] | None = None  # previews of each input, for the mismatch
    tol: Tolerance | None = None
    again: bool = False  # run the last input once more: is the program deterministic?
    kind: str = "verify"

    @property
    def gpu(self) -> bool:
        return bool(self.program.gpu)

    def run(self, on_phase=None) -> VerifyReport:
        report = VerifyReport()
        phase = "starting"

        def enter(name: str) -> None:
            nonlocal phase
            phase = name
            if on_phase:
                on_phase(name)

        with verification_slot() as register, _channel(self.limits, self.hardened) as channel:
            register(channel.worker)
            try:
                enter("loading")
                channel.send(
                    {
                        **self.program.job_message(self.cases, self.tests, _NO_MAKE),
                        "again": self.again,
                    }
                )
                msg = channel.recv()
                if msg["kind"] == "error":
                    report.load_error = msg["error"]
                    return report
                report.load_seconds = float(msg.get("seconds", 0.0))
                for i in range(len(self.labels)):
                    enter(f"verification (input {i + 1} of {len(self.labels)})")
                    msg = channel.recv()
                    report.cases[int(msg["index"])] = msg
                if self.again:
                    report.again = channel.recv()
                for _ in range(self.n_tests):
                    enter("test")
                    report.tests.append(channel.recv())
                channel.send({"cmd": "exit"})
            except WorkerGone:
                report.fault = fault_of(channel.worker, phase)
            except WireError as exc:
                report.fault = Fault("error", f"sent a malformed result during {phase}: {exc}")
            finally:
                report.output = channel.worker.output_tail()[-2000:]
        if self.expected is not None and report.fault is None:
            report.verdict = self._judge(report)
        return report

    def _judge(self, report: VerifyReport) -> Verdict | None:
        labels, tol = self.labels, self.tol or Tolerance()

        def wrong(i: int, status: str, reason: str, actual: str | None = None) -> Verdict:
            mismatch = None
            if actual is not None:
                mismatch = {
                    "input": labels[i],
                    "arguments": (self.arguments or [[]] * len(labels))[i],
                    "expected": preview(self.expected[i]["output"]),
                    "actual": actual,
                }
            return Verdict(status, reason, mismatch)

        for i in sorted(self.expected):
            expected = self.expected[i]
            got = report.cases.get(i)
            if got is None:
                return Verdict("error", f"no result for {labels[i]}")
            if "output" not in expected:  # the reference raises here: so must the candidate
                raised = expected.get("error_type")
                if raised is None or got.get("error_type") == raised:
                    continue
                actual = (
                    f"raised {got['error']}"
                    if "error" in got
                    else f"returned {preview(got['output'])}"
                )
                return Verdict(
                    "failed",
                    f"{actual} where your function raises {raised} (input {labels[i]})",
                    {
                        "input": labels[i],
                        "arguments": (self.arguments or [[]] * len(labels))[i],
                        "expected": f"raises {expected['error']}",
                        "actual": actual,
                    },
                )
            if "output" not in got:
                status, why = explain(got["error"], self.limits)
                return wrong(i, status, f"{why} (on input {labels[i]})", why)
            diff = compare(expected["output"], got["output"], tol)
            if diff:
                status = "unverified" if isinstance(diff, Unverified) else "failed"
                return wrong(i, status, f"{diff} (input {labels[i]})", preview(got["output"]))
            for j, (before, after) in enumerate(zip(expected["inputs_after"], got["inputs_after"])):
                moved = compare(before, after, Tolerance(0.0, 0.0))
                if moved and not isinstance(moved, Unverified):  # unreadable: cannot tell
                    return Verdict(
                        "failed",
                        f"changes its argument {j + 1} in place differently from the "
                        f"reference (input {labels[i]})",
                    )
            extra_alias = set(got.get("aliases", [])) - set(expected.get("aliases", []))
            if extra_alias:
                return Verdict(
                    "failed",
                    f"returns a view of argument {min(extra_alias) + 1}; the reference "
                    "returns a new array",
                )
        for test in report.tests:
            if not test["ok"]:
                return Verdict("failed", f"{test['name']} failed: {test['error']}")
        report.lower_precision = any(
            narrower(self.expected[i]["output"], got["output"])
            for i, got in report.cases.items()
            if "output" in got and "output" in self.expected.get(i, {})
        )
        return None


# -- timing ------------------------------------------------------------------------------------
@dataclass
class SideTiming:
    """One program's timed calls in a timing job."""

    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)  # how many of ``times`` each process gave
    blocks: list[int] = field(default_factory=list)  # ... and each block of calls
    warmup: float = 0.0
    load_seconds: float = 0.0
    inside: float = 0.0  # the worker's own clock around its blocks of calls
    outside: float = 0.0  # the job's clock around the same blocks
    peak_memory: int | None = None
    gpu: dict[str, Any] | None = None
    gpu_note: str | None = None
    profile: dict[str, Any] | None = None


@dataclass
class TimingReport:
    size: int = 0
    reference: SideTiming = field(default_factory=SideTiming)
    candidate: SideTiming | None = None
    fault: Fault | None = None
    fault_side: str | None = None  # "reference" | "candidate"
    failure: str | None = None  # the candidate's output differed on a timed call
    unverified: bool = False  # ... or could not be compared at all
    tampering: str | None = None
    load_error: str | None = None
    output: str = ""


MAX_CALLS = 200  # timed calls a side makes in one process at most


@dataclass
class TimingPlan:
    size: int  # the timing size, or where calibration starts
    calibrate: bool = False
    target: float = 0.2  # calibration: seconds one reference call should take
    max_size: int = 1 << 26
    max_seconds: float = 2.0
    budget: float = 2.0  # seconds of timed calls for the whole job
    min_repeats: int = 5
    max_repeats: int = MAX_CALLS  # timed calls per process
    profile: dict[str, Any] | None = None  # line-profile options, or None for no profile


@dataclass
class TimingJob:
    """Time ``reference`` and ``candidate`` (or the reference alone) like for like."""

    reference: Program
    candidate: Program | None
    make: bytes  # cloudpickled (size, timed call k or None) -> fresh argument tuple
    plan: TimingPlan
    limits: Limits
    hardened: bool = False
    tol: Tolerance | None = None
    kind: str = "timing"

    @property
    def gpu(self) -> bool:
        return bool(self.reference.gpu or (self.candidate and self.candidate.gpu))

    def run(self, on_phase=None) -> TimingReport:
        report = TimingReport(size=self.plan.size)
        if self.candidate is not None:
            report.candidate = SideTiming()
        with timing_slot():
            sides = {"reference": _Side("reference", self.reference, report.reference)}
            if self.candidate is not None:
                sides["candidate"] = _Side("candidate", self.candidate, report.candidate)
            self._current = sides["reference"]
            # A side's worker waits while the other one works: its wall-clock limit covers the
            # job, not only itself. The candidate starts first, so its JIT compilation does
            # not eat into the reference's allowance.
            allowance = 3 * self.plan.budget + 2 * self.plan.max_seconds + 10.0
            limits = replace(self.limits, timeout=self.limits.timeout + allowance)
            if on_phase:  # the slot may have taken a while: the run may be stopped by now
                on_phase("timing")
            try:
                for side in self._each(sides, reverse=True):
                    side.start(limits, self.hardened, self.make)
                    if side.load_error:
                        report.load_error, report.fault_side = side.load_error, side.name
                        return report
                if self.plan.calibrate:
                    self._current = sides["reference"]
                    report.size = sides["reference"].calibrate(self.plan)
                for side in self._each(sides):
                    side.warmup(report.size)
                pairs = self._process_pairs(sides)
                for pair in range(pairs):
                    if pair:  # a fresh process for every side, its blocks after the others
                        for side in self._each(sides):
                            side.restart(limits, self.hardened, self.make, report.size)
                    self._timed_calls(sides, report, self.plan.budget / pairs)
                    if report.failure is not None:
                        break
                if report.failure is None:
                    for side in self._each(sides):
                        side.finish(report.size)
                    report.tampering = next(
                        (why for s in sides.values() if (why := s.clock_check())), None
                    )
                    if self.plan.profile is not None and report.tampering is None:
                        if on_phase:
                            on_phase("profiling")
                        self._current = sides.get("candidate", sides["reference"])
                        self._current.profile(report.size, self.plan.profile)
            except WorkerGone:
                report.fault = fault_of(self._current.channel.worker, "timing")
                report.fault_side = self._current.name
            except WireError as exc:
                report.fault = Fault("error", f"sent a malformed result during timing: {exc}")
                report.fault_side = self._current.name
            finally:
                report.output = "".join(s.close() for s in sides.values())[-2000:]
        return report

    def _each(self, sides: dict[str, _Side], reverse: bool = False):
        """The sides in turn, remembering which one is talking (a fault is that side's)."""
        for side in reversed(list(sides.values())) if reverse else list(sides.values()):
            self._current = side
            yield side

    def _process_pairs(self, sides: dict[str, _Side]) -> int:
        """How many processes each side's timed calls are spread over. A call shorter than
        SHORT_CALL keeps a time particular to its process (where its objects happen to lie,
        what the process did before): with 1 process per side, the same function measured
        0.95-1.08x itself from one job to the next. PROCESS_PAIRS processes a side, as pyperf
        does with its worker processes, when the budget leaves time for them."""
        short = max(s.timing.warmup for s in sides.values()) < SHORT_CALL
        if "candidate" in sides and short and self.plan.budget >= PAIRS_MIN_BUDGET:
            return PROCESS_PAIRS
        return 1

    def _timed_calls(self, sides: dict[str, _Side], report: TimingReport, budget: float) -> None:
        """Alternating blocks of calls on the same inputs (call k gets ``make(size, k)``, k
        counting on over processes) until this process's share of the budget is spent, or
        every side's median is known to about 1 % over enough blocks."""
        plan, tol = self.plan, self.tol or Tolerance()
        paired = "candidate" in sides
        first = len(sides["reference"].timing.times)
        k, turn, blocks, started = 0, 0, 0, time.perf_counter()
        per_call = max(max(s.timing.warmup for s in sides.values()), 1e-6)
        while True:
            count = min(self._block(budget, per_call), plan.max_repeats - k)
            outputs = {}
            # neither side always goes first (caches, clocks, thermal)
            for side in self._each(sides, reverse=bool(turn % 2)):
                outputs[side.name] = side.calls(report.size, first + k, count, outputs=paired)
                side.timing.blocks.append(count)
            if paired:
                for i, (expected, got) in enumerate(
                    zip(outputs["reference"], outputs["candidate"])
                ):
                    diff = compare(expected, got, tol)
                    if diff:
                        call = first + k + i + 1
                        report.failure = f"{diff} (timed call {call}, size {report.size})"
                        report.unverified = isinstance(diff, Unverified)
                        return
            k, turn, blocks = k + count, turn + 1, blocks + 1
            mine = {name: s.timing.times[first:] for name, s in sides.items()}
            per_call = max(max(median(times) for times in mine.values()), 1e-6)
            if k >= plan.max_repeats or (
                k >= plan.min_repeats
                and blocks >= MIN_BLOCKS
                and (
                    time.perf_counter() - started >= budget
                    or all(_stable(times) for times in mine.values())
                )
            ):
                for side in sides.values():
                    side.timing.runs.append(len(side.timing.times) - first)
                return

    def _block(self, budget: float, per_call: float) -> int:
        """Calls in a block: about a twentieth of the budget on the slower side, and few
        enough that a process reaching max_repeats has made 2 * MIN_BLOCKS blocks (the
        interval counts blocks, not calls: one slow moment slows a whole block)."""
        most = max(1, self.plan.max_repeats // (2 * MIN_BLOCKS))
        return max(1, min(most, int(max(0.02, budget / 20) / per_call)))


class _Side:
    """One program's worker inside a timing job."""

    def __init__(self, name: str, program: Program, timing: SideTiming) -> None:
        self.name, self.program, self.timing = name, program, timing
        self.channel: Channel | None = None
        self.output = ""  # what its earlier processes printed
        self.load_error: str | None = None
        self.blocks_ok = True

    def restart(self, limits: Limits, hardened: bool, make: bytes, size: int) -> None:
        self.output = self.close()
        self.start(limits, hardened, make)
        if self.load_error:  # it loaded a moment ago
            raise WireError(f"failed to load again: {self.load_error}")
        first_call = self.timing.warmup  # the first process's first call is the compile time
        self.warmup(size)
        self.timing.warmup = first_call

    def start(self, limits: Limits, hardened: bool, make: bytes) -> None:
        self.channel = _channel(limits, hardened)
        self.channel.send(self.program.job_message(_NO_CASES, _NO_CASES, make))
        msg = self.channel.recv()
        if msg["kind"] == "error":
            self.load_error = msg["error"]
        else:
            self.timing.load_seconds = float(msg.get("seconds", 0.0))

    def calibrate(self, plan: TimingPlan) -> int:
        self.channel.send(
            {
                "cmd": "calibrate",
                "size": plan.size,
                "target": plan.target,
                "max_size": plan.max_size,
                "max_seconds": plan.max_seconds,
            }
        )
        return int(self._expect("calibrated")["size"])

    def warmup(self, size: int) -> None:
        self.channel.send({"cmd": "warmup", "size": size})
        self.timing.warmup = float(self._expect("warmup")["seconds"])

    def calls(self, size: int, start: int, count: int, outputs: bool) -> list[Any]:
        sent = time.perf_counter()
        self.channel.send(
            {"cmd": "calls", "size": size, "start": start, "count": count, "outputs": outputs}
        )
        self._expect("block")
        self.timing.outside += time.perf_counter() - sent
        msg = self._expect("calls")
        if "error" in msg:
            raise WireError(msg["error"])
        times, cpus = [float(t) for t in msg["times"]], [float(c) for c in msg["cpu_times"]]
        self.timing.inside += float(msg["span"])
        if (
            len(times) != count
            or not math.isclose(sum(times), msg["total"], rel_tol=1e-6, abs_tol=1e-9)
            or not math.isclose(
                sum(x * x for x in times), msg["squares"], rel_tol=1e-6, abs_tol=1e-12
            )
        ):
            self.blocks_ok = False
        self.timing.times += times
        self.timing.cpu_times += cpus
        return list(msg["outputs"] or [])

    def finish(self, size: int) -> None:
        self.channel.send({"cmd": "finish", "size": size})
        msg = self._expect("finish")
        self.timing.peak_memory = msg.get("peak_memory")
        self.timing.gpu, self.timing.gpu_note = msg.get("gpu"), msg.get("gpu_note")

    def profile(self, size: int, options: dict[str, Any]) -> None:
        """The line profile; a worker lost here loses the profile, not the timings."""
        self.channel.send(
            {"cmd": "profile", "size": size, "times": self.timing.times, "options": options}
        )
        try:
            msg = self.channel.recv()
        except WorkerGone:
            fault = fault_of(self.channel.worker, "profiling")
            msg = {"kind": "profile", "note": f"the profiled call {fault.reason}: no line profile"}
        except WireError as exc:
            msg = {"kind": "profile", "note": f"the line profile was malformed ({exc})"}
        if not isinstance(msg, dict) or msg.get("kind") != "profile":
            msg = {"note": "no line profile came back"}
        self.timing.profile = msg

    def clock_check(self) -> str | None:
        """The timings must be consistent: with the job's own clock (a patched timer shows
        up here), and with the running totals the harness keeps where the program cannot
        write. The job's clock stops at the worker's end-of-block marker, so encoding and
        sending the outputs is not counted against the program."""
        if not self.blocks_ok:
            return "its recorded call times were rewritten while it ran (harness tampering)"
        inside, outside = self.timing.inside, self.timing.outside
        if inside < 0.5 * outside - 0.5:
            return (
                f"its timings do not add up: the worker reported {inside:.3f} s but the job "
                f"measured {outside:.3f} s (was the timer patched?)"
            )
        return None

    def _expect(self, kind: str) -> dict[str, Any]:
        msg = self.channel.recv()
        if not isinstance(msg, dict) or msg.get("kind") != kind:
            raise WireError(f"expected a {kind} message")
        return msg

    def close(self) -> str:
        """What the side's processes printed."""
        if self.channel is None:
            return self.output
        output = self.output + self.channel.worker.output_tail()
        self.channel.close()
        self.channel = None
        return output


def run_cases(
    program: Program, cases: list[tuple], limits: Limits, hardened: bool = False
) -> VerifyReport:
    """Run ``program`` on ``cases`` in a worker, here, and report what it returned (for the
    engine's own checks, e.g. the reference on derived inputs)."""
    labels = [f"case {i}" for i in range(len(cases))]
    return VerifyJob(
        program, dumps_by_value(list(cases)), _NO_CASES, 0, labels, limits, hardened
    ).run()


# -- shared ------------------------------------------------------------------------------------
_NO_CASES = __import__("pickle").dumps([])
_NO_MAKE = __import__("pickle").dumps(None)


SHORT_CALL = 1e-3  # seconds: calls shorter than this are timed in several processes
PROCESS_PAIRS = 3
PAIRS_MIN_BUDGET = 1.0  # seconds of budget a job needs to spread its calls so
MIN_BLOCKS = 5  # blocks of calls a side makes in a process before it may stop early

# glibc keeps freed memory in the worker: otherwise whether a call's arrays land on fresh pages
# (a page fault per 4 KiB: 2.3x the time of a 1 ms NumPy call here) depends on what the
# harness freed before the call, not on the program. Up to 32 MiB (glibc's largest mmap
# threshold) comes from the reused heap; larger arrays are mapped afresh, for every side alike.
STEADY_MALLOC = {"MALLOC_TRIM_THRESHOLD_": str(1 << 32), "MALLOC_MMAP_THRESHOLD_": str(1 << 25)}


def _channel(limits: Limits, hardened: bool) -> Channel:
    return Channel(WORKER, limits, hardened=hardened, extra_env=STEADY_MALLOC)


def explain(error: str, limits: Limits) -> tuple[str, str]:
    """Status and reason for an exception the program raised, naming the limit it hit."""
    if error.startswith("MemoryError"):
        return "oom", f"{error} (memory limit {limits.memory_mb:,} MiB)"
    if "[Errno 27]" in error:  # EFBIG: the file-size limit
        return "error", f"wrote a file over the {limits.disk_mb:,} MiB disk limit ({error})"
    return "error", error


def fault_of(worker: Worker, phase: str) -> Fault:
    """Why ``worker`` ended early, in one line."""
    try:
        worker.process.wait(timeout=2)
    except Exception:
        pass
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


def _stable(times: list[float]) -> bool:
    """The median is known to about 1 % (order-statistics standard error)."""
    n = len(times)
    if n < 10:
        return False
    s = sorted(times)
    median = s[n // 2]
    iqr = s[(3 * n) // 4] - s[n // 4]
    return median > 0 and 1.2533 * (iqr / 1.349) / (n**0.5) / median < 0.01
