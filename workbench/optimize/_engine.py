"""``optimize``: candidates in, verified and timed results out."""

from __future__ import annotations

import contextlib
import inspect
import math
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import InputsError, UsageError
from .._settings import Settings, get_settings
from .._timeline import Timeline, phase
from ..gpu._timing import split_medians
from ..sandbox._process import Limits
from ..sandbox._runner import Program, RunReport, run_program
from ..sandbox._scan import scan
from ..store._sessions import SessionStore
from ._inputs import prepare_inputs, stress_timings
from ._lineprofile import PROFILE_OPTIONS, hot_lines
from ._results import (
    CandidateResult,
    Mismatch,
    OptimizeResult,
    Reference,
    Timing,
    candidate_id,
)
from ._task import Task, task_from
from ._verify import Tolerance, Unverified, compare, compare_sketches, comparison_notes, preview
from .strategies import CandidateSpec, Strategy, resolve_strategies
from .strategies._base import dedupe

Progress = Callable[[dict[str, Any]], None]


def _prepare_inputs(
    inputs, sizes, timing_size, *, example=None, task=None, namespace=None, settings=None
):
    """Verification cases and the timing argument maker: see ``_inputs.prepare_inputs``."""
    limits = None
    if settings is not None:
        limits = Limits(
            timeout=settings.timeout,
            memory_mb=settings.memory_limit_mb,
            disk_mb=settings.disk_limit_mb,
            output_cap=settings.output_cap,
        )
    return prepare_inputs(
        inputs,
        example=example,
        sizes=sizes,
        timing_size=timing_size,
        task=task,
        namespace=namespace,
        limits=limits,
        hardened=bool(settings and settings.hardened),
    )


def _collect_tests(tests: Any) -> list[tuple[str, Callable]]:
    if tests is None:
        return []
    if callable(tests):
        tests = [tests]
    out = []
    for t in tests:
        if not callable(t):
            raise UsageError(f"tests must be functions (test_*), not {type(t).__name__}")
        out.append((getattr(t, "__name__", "test"), t))
    return out


def optimize(
    source_or_function: Any,
    *,
    inputs: Callable[[int], tuple] | Sequence[tuple] | None = None,
    example: Any = None,
    stress: bool = False,
    tests: Iterable[Callable] | Callable | None = None,
    strategies: Iterable[str | Strategy] | None = None,
    candidates: Iterable[str] = (),
    entry: str | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    time_budget: float | None = None,
    sizes: Sequence[int] | None = None,
    timing_size: int | None = None,
    target: str = "cpu",
    rounds: int = 1,
    patience: int = 2,
    hint: str | None = None,
    token_budget: int | None = None,
    time_limit: float | None = None,
    stop: threading.Event | None = None,
    namespace: MutableMapping[str, Any] | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> OptimizeResult:
    """Make a function faster without changing its results.

    Candidates (from ``strategies`` and the code strings in ``candidates``) each run in an
    isolated worker process, are checked against the reference on inputs of several sizes and
    by the user's ``tests``, and the ones that pass are timed against the reference on fresh
    inputs of one large size. ``inputs(n)`` (or ``inputs(n, seed)``) must return a tuple of
    arguments for size ``n`` (deterministically: seed from ``n``); instead of it, ``example``
    is one real call, ``"f(X, k=3)"`` or ``((X, 3), {"k": 3})``, from which verification
    inputs are derived (subsets, generated edge cases) and timing inputs resampled; with
    neither, the last call of the function in the notebook's history is used. ``stress``:
    also time the passed candidates on the input shape (sorted, duplicate-heavy) that slows
    the reference most, and fail those wrong on it. ``sizes`` overrides the verification sizes and the
    largest of them is then the timing size (else it is calibrated so that one reference call
    takes about ``settings.timing_target`` seconds). ``time_budget`` is the seconds of timed
    calls per candidate. ``target`` is ``cpu``, ``cupy`` or ``numba-cuda``: GPU targets get
    GPU candidates (default strategy ``cupy`` for ``cupy``) and float32-friendly tolerances;
    without a usable device they are listed, not run, and the notes say why. Returns an
    ``OptimizeResult``; nothing in the caller's namespace changes until ``result.accept()``.

    Strategies that can refine (the LLM) get ``rounds - 1`` more rounds with the results so
    far (failures with expected vs actual, timings) and the user's ``hint``; refinement stops
    early after ``patience`` rounds without a better speedup, when the model exchanges have
    used ``token_budget`` tokens, when ``time_limit`` seconds have passed, or when ``stop`` is set.
    """
    started = time.perf_counter()
    settings = settings or get_settings()
    if time_budget is not None:
        if time_budget <= 0:
            raise UsageError("time_budget must be a positive number of seconds")
        settings = settings.replace(time_budget=float(time_budget))
    if namespace is None:
        namespace = _caller_namespace(source_or_function)
    task = task_from(source_or_function, entry=entry, namespace=namespace)
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if strategies is None:
        strategies = {"cpu": ("numba",), "cupy": ("cupy",), "numba-cuda": ("numba-cuda",)}[target]
    tol = Tolerance(rtol, atol, device=target != "cpu")
    device_note = _device_note(target)
    prepared = _prepare_inputs(
        inputs,
        sizes,
        timing_size,
        example=example,
        task=task,
        namespace=namespace,
        settings=settings,
    )
    cases, labels, make, timing_size = (
        prepared.cases,
        prepared.labels,
        prepared.make,
        prepared.timing_size,
    )
    test_fns = _collect_tests(tests)
    strategy_objects = resolve_strategies(strategies)
    user_specs = _user_specs(candidates)
    emit = progress or (lambda event: None)
    for strategy in strategy_objects:  # the LLM's text as it streams in, and Stop mid-request
        if hasattr(strategy, "watch"):
            strategy.watch(progress, stop)

    store = SessionStore(settings.home)
    run_id = store.new_run(
        "optimize",
        entry=task.entry,
        source=task.source,
        options={
            "strategies": [s.name for s in strategy_objects],
            "rtol": rtol,
            "atol": atol,
            "time_budget": settings.time_budget,
            "sizes": labels,
            "timing_size": timing_size,
            "tests": [n for n, _ in test_fns],
            "user_candidates": len(user_specs),
            "target": target,
            "rounds": rounds,
            "hint": hint,
            "inputs_source": prepared.source,
            "stress": stress,
            "inputs": prepared.to_dict(),
        },
    )
    settings, hardened_note = _hardening_in_force(settings)
    limits = Limits(
        timeout=settings.timeout,
        memory_mb=settings.memory_limit_mb,
        disk_mb=settings.disk_limit_mb,
        output_cap=settings.output_cap,
    )
    result = OptimizeResult(
        entry=task.entry,
        source=task.source,
        reference=Reference(None),
        candidates=[],
        run_id=run_id,
        store_path=str(store.path),
        namespace=namespace,
        inputs=prepared.to_dict(),
    )
    result.notes.extend(n for n in (hardened_note, device_note) if n)
    result.notes.extend(prepared.notes)
    run = _Run(
        task,
        cases,
        labels,
        test_fns,
        make,
        tol,
        limits,
        settings,
        store,
        result,
        emit,
        device_note,
        stop,
        target=target,
    )
    with store.recording(run_id, result.notes):
        emit({"kind": "reference", "total": len(user_specs)})
        with phase("reference", timeline=run.timeline, run=run_id):
            run.ref_report, result.reference = _run_reference(
                task, cases, labels, test_fns, make, timing_size, limits, settings
            )
        store.update_run(run_id, reference=_reference_dict(result.reference))
        result.notes.extend(_reference_notes(result.reference))
        result.notes.extend(
            comparison_notes([c["output"] for c in run.ref_report.cases.values() if "output" in c])
        )
        specs = list(user_specs)
        for strategy in strategy_objects:
            if hasattr(strategy, "reference_hot_lines"):  # the LLM: where the original is slow
                strategy.reference_hot_lines = list(result.reference.hot_lines)
            with phase("generate", timeline=run.timeline, strategy=strategy.name, round=0):
                specs = [*strategy.propose(task), *specs]
            if getattr(strategy, "note", None):  # why a mechanical strategy proposed nothing
                result.notes.append(strategy.note)
            run.store_exchanges(strategy)
        run.evaluate_all(dedupe(specs))
        stale = 0
        for round_ in range(1, rounds):
            refiners = [s for s in strategy_objects if hasattr(s, "refine")]
            if not refiners or run.stopped() or stale >= patience:
                break
            spent = _tokens_used(strategy_objects)
            if token_budget is not None and spent >= token_budget:
                result.notes.append(
                    f"refinement stopped: {spent:,} tokens used, budget {token_budget:,}"
                )
                break
            if time_limit is not None and time.perf_counter() - started >= time_limit:
                result.notes.append(
                    f"refinement stopped: the time limit of {time_limit:g} s was reached"
                )
                break
            best_before = result.best.speedup if result.best else 0.0
            if not run.refine_round(refiners, round_, hint, list(result.candidates)):
                break
            stale = 0 if (result.best.speedup if result.best else 0.0) > best_before else stale + 1
        if run.stopped():
            result.notes.append("stopped by the user: the candidates not yet run were skipped")
        elif stress and result.reference.timing is not None:
            passed = [c for c in result.candidates if c.status == "passed"]
            with phase("stress", timeline=run.timeline):
                data, stress_notes = stress_timings(
                    task,
                    passed,
                    make,
                    result.reference.timing.size,
                    result.reference.timing.median,
                    settings,
                    limits,
                    tol,
                )
            result.inputs["stress"] = data
            result.notes.extend(stress_notes)
            store.add_event(run_id, "stress", data)
            for c in passed:
                if c.status != "passed":
                    store.add_candidate(run_id, c.id, c.to_dict())
        result.seconds = time.perf_counter() - started
        store.add_event(run_id, "timeline", {"phases": run.timeline.records()})
    run.strategies = strategy_objects
    result._live = run  # what refine() needs to go on: the reference's outputs, the strategies
    return result


def refine_result(
    result: OptimizeResult,
    hint: str | None = None,
    candidate: str | None = None,
    rounds: int = 1,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> OptimizeResult:
    """One or more further LLM rounds of the same session run (``OptimizeResult.refine``)."""
    run = getattr(result, "_live", None)
    if run is None:
        raise UsageError(
            "this result was loaded from the session without its inputs: run %%optimize "
            "again (with --hint) to refine it"
        )
    if rounds < 1:
        raise UsageError(f"rounds must be at least 1, not {rounds}")
    chosen = None
    if candidate is not None:
        try:
            chosen = result[candidate]
        except (KeyError, IndexError):
            raise UsageError(
                f"no candidate {candidate!r} in this result; pick an id from the table"
            ) from None
    refiners = [s for s in run.strategies if hasattr(s, "refine")]
    if not refiners or any(getattr(s, "backend", 0) is None for s in refiners):
        from ..llm import llm_available

        if not llm_available():
            raise UsageError(
                "refining needs an LLM: configure one with %wb llm local (or %wb llm openai"
                " --base-url URL --model M), then refine again"
            )
    if not refiners:
        from .strategies import LLMStrategy

        refiners = [LLMStrategy()]
        run.strategies = [*run.strategies, *refiners]
    # events go to this call's progress and Stop, not to those of the first run (which may
    # have been stopped)
    run.emit = progress or (lambda event: None)
    run.stop = stop
    for strategy in run.strategies:
        if hasattr(strategy, "watch"):
            strategy.watch(progress, run.stop)
    started = time.perf_counter()
    store = run.store
    store.update_run(result.run_id, status="running", finished=None)
    with store.recording(result.run_id, result.notes):
        for _ in range(rounds):
            round_ = max((c.round for c in result.candidates), default=0) + 1
            if chosen is not None:
                # the user asked for this one: refine it again even if a round already did
                for strategy in refiners:
                    refined = getattr(strategy, "_refined", None)
                    if isinstance(refined, set):
                        refined.discard(chosen.id)
                base = [chosen]
            else:
                base = list(result.candidates)
            if not run.refine_round(refiners, round_, hint, base):
                result.notes.append(f"refinement round {round_}: the model proposed nothing new")
                break
            if run.stopped():
                result.notes.append("stopped by the user: the candidates not yet run were skipped")
                break
        result.seconds += time.perf_counter() - started
    return result


@dataclass
class _Run:
    """The state one ``optimize`` call shares between its rounds."""

    task: Task
    cases: list[tuple]
    labels: list[str]
    tests: list[tuple[str, Callable]]
    make: Callable[[int], tuple]
    tol: Tolerance
    limits: Limits
    settings: Settings
    store: SessionStore
    result: OptimizeResult
    emit: Progress
    device_note: str | None
    stop: threading.Event | None
    target: str = "cpu"
    ref_report: RunReport | None = None
    timeline: Timeline = field(default_factory=Timeline)
    strategies: list[Strategy] = field(default_factory=list)
    _exchanges_seen: dict[int, int] = field(default_factory=dict)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def refine_round(
        self,
        refiners: list[Strategy],
        round_: int,
        hint: str | None,
        results: list[CandidateResult],
    ) -> int:
        """Ask each refiner about ``results``, run what is new; returns how many ran."""
        specs: list[CandidateSpec] = []
        for strategy in refiners:
            with phase("generate", timeline=self.timeline, strategy=strategy.name, round=round_):
                specs.extend(strategy.refine(self.task, results, round=round_, hint=hint))
            self.store_exchanges(strategy)
        known = {c.code.strip() for c in self.result.candidates}
        specs = [s for s in dedupe(specs) if s.code.strip() not in known]
        if specs:
            self.evaluate_all(specs)
        return len(specs)

    def store_exchanges(self, strategy: Strategy) -> None:
        """Every model exchange a strategy made goes into the session, prompts included."""
        exchanges = getattr(strategy, "exchanges", None) or []
        seen = self._exchanges_seen.get(id(strategy), 0)
        for exchange in exchanges[seen:]:
            data = exchange.to_json() if hasattr(exchange, "to_json") else exchange
            self.store.add_event(self.result.run_id, "llm_exchange", data)
        self._exchanges_seen[id(strategy)] = len(exchanges)

    def evaluate_all(self, specs: list[CandidateSpec]) -> None:
        result, total = self.result, len(self.result.candidates) + len(specs)
        for spec in specs:
            if self.stopped():
                return
            index = len(result.candidates)
            self.emit(
                {"kind": "candidate", "index": index, "total": total, "strategy": spec.strategy}
            )
            if self.device_note and spec.strategy in GPU_STRATEGIES:
                cand = CandidateResult(
                    id=candidate_id(spec.code),
                    code=spec.code,
                    strategy=spec.strategy,
                    note=spec.note,
                    status="error",
                    reason=f"not run here: {self.device_note}",
                    warnings=scan(spec.code),
                    path=spec.path,
                    parent=spec.parent,
                    round=spec.round,
                )
            else:
                phases = _PhaseTracker(self.timeline, candidate_id(spec.code))

                def on_phase(name: str, i: int = index, tracker: _PhaseTracker = phases) -> None:
                    tracker.enter(name)
                    self.emit({"kind": "phase", "index": i, "phase": name})

                try:
                    cand = _evaluate(
                        spec,
                        self.task,
                        self.cases,
                        self.labels,
                        self.tests,
                        self.make,
                        self.ref_report,
                        result.reference,
                        self.tol,
                        self.limits,
                        self.settings,
                        on_phase,
                        gpu=None if self.target == "cpu" else self.target,
                        marks=spec.strategy in GPU_STRATEGIES,  # code the workbench wrote
                    )
                finally:
                    phases.close()
            result.candidates.append(cand)
            self.store.add_candidate(result.run_id, cand.id, cand.to_dict())
            self.emit({"kind": "done", "index": index, "total": total, "candidate": cand})


class _PhaseTracker:
    """Turns the runner's phase names into NVTX ranges and timeline entries."""

    _NAMES = (
        ("loading", "compile"),
        ("verification", "verify"),
        ("test", "verify"),
        ("timing", "time"),
    )

    def __init__(self, timeline: Timeline, candidate: str) -> None:
        self.timeline, self.candidate = timeline, candidate
        self._stack = contextlib.ExitStack()
        self._current: str | None = None

    def enter(self, runner_phase: str) -> None:
        name = next(
            (n for prefix, n in self._NAMES if runner_phase.startswith(prefix)), runner_phase
        )
        if name != self._current:
            self.close()
            self._current = name
            self._stack.enter_context(phase(name, timeline=self.timeline, candidate=self.candidate))

    def close(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._current = None


def _tokens_used(strategies: list[Strategy]) -> int:
    return sum(
        (getattr(e, "prompt_tokens", 0) or 0) + (getattr(e, "completion_tokens", 0) or 0)
        for s in strategies
        for e in getattr(s, "exchanges", None) or []
    )


def _hardening_in_force(settings: Settings) -> tuple[Settings, str | None]:
    if not settings.hardened:
        return settings, None
    from ..sandbox._hardening import hardening_status

    available, why = hardening_status()
    if not available:
        return settings.replace(hardened=False), (
            f"hardened mode is not available here ({why}); ran with the default isolation"
        )
    return settings, "hardened mode: workers had no network and could not see your home directory"


def _reference_notes(reference: Reference) -> list[str]:
    notes = []
    if reference.skipped:
        notes.append(
            "the reference itself fails on "
            + "; ".join(reference.skipped)
            + ": those inputs are skipped"
        )
    for name, error in reference.tests.items():
        if error:
            notes.append(
                f"{name} fails on the reference too ({error}): candidates are still held to it"
            )
    return notes


TARGETS = ("cpu", "cupy", "numba-cuda")
GPU_STRATEGIES = frozenset({"cupy", "numba-cuda"})


def _device_note(target: str) -> str | None:
    """None when ``target`` can run here; otherwise what is missing, in one line."""
    if target == "cpu":
        return None
    from ..gpu._device import detect_device

    device = detect_device()
    if target in device.targets and (device.has_device or target == "numba-cuda"):
        return None
    status = device.cupy if target == "cupy" else device.numba_cuda
    return f"--target {target} needs a CUDA device: {status.reason or device.summary()}"


def _caller_namespace(source_or_function: Any) -> MutableMapping[str, Any] | None:
    if callable(source_or_function) and hasattr(source_or_function, "__globals__"):
        return source_or_function.__globals__
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame and frame.f_back else None
    return caller.f_globals if caller else None


def _user_specs(candidates: Iterable[str]) -> list[CandidateSpec]:
    if isinstance(candidates, str):
        candidates = [candidates]
    specs = []
    for code in candidates:
        if not isinstance(code, str):
            raise UsageError("candidates must be code strings")
        specs.append(CandidateSpec(code=code, strategy="user", note="supplied by the user"))
    return specs


def _run_reference(task, cases, labels, tests, make, timing_size, limits, settings):
    calibrate = timing_size is None
    start = timing_size if timing_size else 64

    def decide(report: RunReport) -> dict | None:
        if not any("output" in c for c in report.cases.values()):
            return None
        return {
            "size": start,
            "calibrate": calibrate,
            "target": settings.timing_target,
            "max_size": 1 << 26,
            "max_seconds": max(2.0, 5 * settings.timing_target),
            "budget": settings.time_budget,
            "min_repeats": 5,
            "max_repeats": 30,
            "sketch_calls": 30,
            "profile": PROFILE_OPTIONS,
        }

    program = Program("reference", task.source, task.entry, dict(task.context), profile=True)
    report = run_program(program, cases, tests, make, decide, limits, settings.hardened)
    if report.load_error:
        raise UsageError(f"the cell's code fails when run on its own: {report.load_error}")
    ok = [i for i, c in report.cases.items() if "output" in c]
    skipped = [
        f"{labels[i]} ({c['error']})" for i, c in sorted(report.cases.items()) if "output" not in c
    ]
    if report.fault and not ok:
        raise UsageError(
            f"the reference {report.fault.reason}; try smaller inputs or a larger timeout (%wb config timeout=...)"
        )
    if not ok:
        raise InputsError(
            f"the reference raised on every input ({skipped[0]}): check the inputs function"
        )
    if report.fault or report.timing is None:
        why = report.fault.reason if report.fault else "no timing came back"
        raise UsageError(
            f"timing the reference failed: it {why}; give a smaller timing_size (magic: --sizes)"
        )
    t = report.timing
    timing = _timing(t, report)
    tests_status = {r["name"]: (None if r["ok"] else r.get("error")) for r in report.tests}
    reference = Reference(
        timing=timing, sizes=[labels[i] for i in ok], skipped=skipped, tests=tests_status
    )
    reference.hot_lines, reference.profile_note = hot_lines(report.profile, task.source)
    return report, reference


def _timing(t: dict, report: RunReport) -> Timing:
    first = report.cases[min(report.cases)].get("seconds", 0.0) if report.cases else 0.0
    return Timing.from_times(
        t["times"],
        size=t["size"],
        warmup=t["warmup"],
        compile_time=first,
        cpu_ratio=_ratio(t),
        peak_memory=t.get("peak_memory"),
        **split_medians(t.get("gpu"), t["times"]),
    )


def _ratio(t: dict) -> float:
    wall = sum(t["times"])
    return sum(t["cpu_times"]) / wall if wall > 0 else 1.0


def _evaluate(
    spec,
    task,
    cases,
    labels,
    tests,
    make,
    ref_report,
    reference,
    tol,
    limits,
    settings,
    on_phase,
    gpu: str | None = None,
    marks: bool = False,
) -> CandidateResult:
    started = time.perf_counter()
    cand = CandidateResult(
        id=candidate_id(spec.code),
        code=spec.code,
        strategy=spec.strategy,
        note=spec.note,
        path=spec.path,
        parent=spec.parent,
        round=spec.round,
        warnings=scan(spec.code),
    )
    ref_cases = ref_report.cases
    ref_sketches = ref_report.timing["sketches"]
    verdict: dict[str, str] = {}

    def wrong_on(i: int, actual: str) -> None:  # what the explorer shows side by side
        cand.mismatch = Mismatch(
            input=labels[i],
            arguments=[preview(a) for a in cases[i]],
            expected=preview(ref_cases[i]["output"]),
            actual=actual,
        )

    def decide(report: RunReport) -> dict | None:
        for i in sorted(ref_cases):
            expected = ref_cases[i]
            if "output" not in expected:
                continue
            got = report.cases.get(i)
            if got is None:
                verdict.update(status="error", reason=f"no result for {labels[i]}")
                return None
            if "output" not in got:
                status, why = _explain(got["error"], limits)
                verdict.update(status=status, reason=f"{why} (on input {labels[i]})")
                wrong_on(i, why)
                return None
            diff = compare(expected["output"], got["output"], tol)
            if diff:
                status = "unverified" if isinstance(diff, Unverified) else "failed"
                verdict.update(status=status, reason=f"{diff} (input {labels[i]})")
                wrong_on(i, preview(got["output"]))
                return None
            for j, (before_ref, after) in enumerate(
                zip(expected["inputs_after"], got["inputs_after"])
            ):
                moved = compare(before_ref, after, Tolerance(0.0, 0.0))
                if moved and not isinstance(moved, Unverified):  # unreadable: cannot tell
                    verdict.update(
                        status="failed",
                        reason=f"changes its argument {j + 1} in place differently from "
                        f"the reference (input {labels[i]})",
                    )
                    return None
            extra_alias = set(got.get("aliases", [])) - set(expected.get("aliases", []))
            if extra_alias:
                verdict.update(
                    status="failed",
                    reason=f"returns a view of argument {min(extra_alias) + 1}; the "
                    "reference returns a new array",
                )
                return None
        for test in report.tests:
            if not test["ok"]:
                verdict.update(status="failed", reason=f"{test['name']} failed: {test['error']}")
                return None
        return {
            "size": reference.timing.size,
            "calibrate": False,
            "budget": settings.time_budget,
            "min_repeats": 5,
            "max_repeats": 200,
            "sketch_calls": len(ref_sketches),
            "profile": PROFILE_OPTIONS,
        }

    report = run_program(
        Program("candidate", spec.code, task.entry, dict(task.context), gpu, marks, profile=True),
        cases,
        tests,
        make,
        decide,
        limits,
        settings.hardened,
        on_phase,
    )
    cand.output = report.output[-2000:]
    cand.seconds = time.perf_counter() - started
    if report.load_error:
        cand.status, cand.reason = _explain(report.load_error, limits)
        return cand
    if report.fault:
        cand.status, cand.reason = report.fault.status, report.fault.reason
        return cand
    if verdict:
        cand.status, cand.reason = verdict["status"], verdict["reason"]
        return cand
    t = report.timing
    for k, (ref_s, got_s) in enumerate(zip(ref_sketches, t["sketches"])):
        if ref_s is None or got_s is None:
            continue
        diff = compare_sketches(ref_s, got_s, tol)
        if diff:
            cand.status, cand.reason = "failed", f"{diff} (timed call {k + 1})"
            return cand
    tampering = _clock_check(report)
    if tampering:
        cand.status, cand.reason = "error", tampering
        return cand
    cand.timing = _timing(t, report)
    ref = reference.timing
    cand.speedup = ref.median / cand.timing.median if cand.timing.median > 0 else float("inf")
    cand.speedup_low = ref.q1 / cand.timing.q3 if cand.timing.q3 > 0 else float("inf")
    cand.speedup_high = ref.q3 / cand.timing.q1 if cand.timing.q1 > 0 else float("inf")
    cand.status = "passed"
    cand.reason = _passed_reason(cand, len(reference.sizes), len(tests))
    if t.get("gpu_note"):
        cand.reason += f"; {str(t['gpu_note'])[:200]}"
    cand.hot_lines, cand.profile_note = hot_lines(report.profile, spec.code)
    return cand


def _explain(error: str, limits: Limits) -> tuple[str, str]:
    """Status and reason for an exception the program raised, naming the limit it hit."""
    if error.startswith("MemoryError"):
        return "oom", f"{error} (memory limit {limits.memory_mb:,} MiB)"
    if "[Errno 27]" in error:  # EFBIG: the file-size limit
        return "error", f"wrote a file over the {limits.disk_mb:,} MiB disk limit ({error})"
    return "error", error


def _clock_check(report: RunReport) -> str | None:
    """The timings must be consistent: with the kernel's own clock (a patched timer shows up
    here), and with the running totals the harness keeps where the program cannot write."""
    t = report.timing
    inside = t["warmup"] + t["span"]
    outside = report.wall_timing or 0.0
    if inside < 0.5 * outside - 0.5:
        return (
            f"its timings do not add up: the worker reported {inside:.3f} s but the kernel measured "
            f"{outside:.3f} s (was the timer patched?)"
        )
    times = t["times"]
    if (
        len(times) != t["calls"]
        or not math.isclose(sum(times), t["total"], rel_tol=1e-6, abs_tol=1e-9)
        or not math.isclose(sum(x * x for x in times), t["squares"], rel_tol=1e-6, abs_tol=1e-12)
    ):
        return "its recorded call times were rewritten while it ran (harness tampering)"
    return None


def _passed_reason(cand: CandidateResult, n_inputs: int, n_tests: int) -> str:
    checks = f"matches the reference on {n_inputs} inputs"
    if n_tests:
        checks += f" and passes {n_tests} test(s)"
    if not cand.significant:
        return checks + "; no significant change in speed"
    return checks


def _reference_dict(reference: Reference) -> dict:
    import dataclasses

    return dataclasses.asdict(reference)


def load_result(run_id: str, home: str | None = None) -> OptimizeResult:
    """Rebuild an ``OptimizeResult`` from the session database (e.g. after a kernel restart)."""
    store = SessionStore(home or get_settings().home)
    return OptimizeResult.from_record(store.run(run_id), str(store.path))
