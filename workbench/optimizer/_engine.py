"""``optimize``: candidates in, verified and timed results out."""

from __future__ import annotations

import contextlib
import inspect
import queue
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any

from .._errors import InputsError, UsageError
from .._settings import Settings, get_settings
from .._timeline import Timeline, phase
from ..execute import Executor, executor_from
from ..gpu._timing import split_medians
from ..sandbox._channel import dumps_by_value
from ..sandbox._process import Limits
from ..sandbox._scan import scan
from ..store import RunHandle, SessionStore
from ._inputs import prepare_inputs, stress_timings
from ._jobs import Program, TimingJob, TimingPlan, TimingReport, VerifyJob, VerifyReport, explain
from ._lineprofile import PROFILE_OPTIONS, hot_lines
from ._options import Refinement, RunControl, Verification, merged
from ._results import (
    CandidateResult,
    Mismatch,
    OptimizeResult,
    Reference,
    Timing,
    candidate_id,
)
from ._search import check_search, tokens_used, tree_search
from ._stats import noise_floor, speedup_interval
from ._task import Task, task_from
from ._verify import Tolerance, Unverified, compare, comparison_notes, preview
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
    search: str = "rounds",
    candidate_budget: int | None = None,
    stop: threading.Event | None = None,
    namespace: MutableMapping[str, Any] | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
    executor: Any = None,
    precision: str = "same",
    verification: Verification | None = None,
    refinement: Refinement | None = None,
    control: RunControl | None = None,
) -> OptimizeResult:
    """Make a function faster without changing its results.

    ``precision="any"`` lets a candidate return a narrower float dtype than the reference
    (float32 for float64), flagged on the candidate; by default it fails.

    The options come in three groups, ``verification=Verification(...)``,
    ``refinement=Refinement(...)`` and ``control=RunControl(...)``; the keywords of the same
    names fill them in or override them.

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
    ``search="tree"`` grows a candidate tree instead of rounds: each step refines the parent
    with the best verified speedup (its interval's lower bound) and diversity, showing the
    model its siblings, until ``candidate_budget`` candidates (in all), ``time_limit`` or
    ``token_budget`` is used up, ``rounds - 1`` levels are reached, or ``stop``; each child
    records its ``parent``. Stop keeps every candidate that finished.

    ``executor`` says where the jobs run (default: the ``executor`` setting, "local"):
    "local", "serial", a Dask scheduler address, a ``distributed.Client`` or an ``Executor``.
    """
    started = time.perf_counter()
    check = merged(
        verification or Verification(),
        dict(
            tests=tests, rtol=rtol, atol=atol, sizes=sizes, timing_size=timing_size, stress=stress
        ),
    )
    tests, rtol, atol, sizes = check.tests, check.rtol, check.atol, check.sizes
    timing_size, stress = check.timing_size, check.stress
    more = merged(
        refinement or Refinement(),
        dict(
            rounds=rounds,
            patience=patience,
            hint=hint,
            token_budget=token_budget,
            time_limit=time_limit,
            search=search,
            candidate_budget=candidate_budget,
        ),
    )
    rounds, patience, hint = more.rounds, more.patience, more.hint
    token_budget, time_limit = more.token_budget, more.time_limit
    check_search(more)
    run_control = merged(
        control or RunControl(),
        dict(time_budget=time_budget, executor=executor, stop=stop, progress=progress),
    )
    time_budget, executor = run_control.time_budget, run_control.executor
    stop, progress = run_control.stop, run_control.progress
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
    if precision not in ("same", "any"):
        raise UsageError(f"precision is 'same' or 'any', not {precision!r}")
    tol = Tolerance(rtol, atol, device=target != "cpu", lower_precision=precision == "any")
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
    strategy_objects = resolve_strategies(strategies, target=target)
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
            "search": more.search,
            "candidate_budget": more.candidate_budget,
            "hint": hint,
            "inputs_source": prepared.source,
            "stress": stress,
            "inputs": prepared.to_dict(),
        },
    )
    if executor is not None:
        settings = settings.replace(executor=executor)
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
            run.ref_cases, result.reference = run.run_reference(timing_size)
        store.update_run(run_id, reference=_reference_dict(result.reference))
        result.notes.extend(_reference_notes(result.reference))
        result.notes.extend(
            comparison_notes([c["output"] for c in run.ref_cases.values() if "output" in c])
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
        if more.search == "tree":
            tree_search(run, strategy_objects, more, started)
            rounds = 0  # the tree replaces the rounds below
        for round_ in range(1, rounds):
            refiners = [s for s in strategy_objects if hasattr(s, "refine")]
            if not refiners or run.stopped() or stale >= patience:
                break
            spent = tokens_used(strategy_objects)
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
                    run.program("reference", task.source),
                    [(c, run.program("candidate", c.code)) for c in passed],
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
    # what refine() needs to go on: the reference's outputs, the strategies
    result.handle = RunHandle("optimize", run_id, str(store.path), namespace, _Refiner(run))
    return result


@dataclass
class _Refiner:
    """Refines an ``OptimizeResult`` made in this kernel (``RunHandle.refiner``)."""

    run: _Run

    def refine(self, result: OptimizeResult, hint: str | None, **options: Any) -> OptimizeResult:
        return refine_result(result, hint, _run=self.run, **options)


def refine_result(
    result: OptimizeResult,
    hint: str | None = None,
    candidate: str | None = None,
    rounds: int = 1,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    *,
    _run: _Run,
) -> OptimizeResult:
    """One or more further LLM rounds of the same session run (``OptimizeResult.refine``)."""
    run = _run
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

        refiners = [LLMStrategy(target=run.target)]
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
    make: Callable[[int, int | None], tuple]
    tol: Tolerance
    limits: Limits
    settings: Settings
    store: SessionStore
    result: OptimizeResult
    emit: Progress
    device_note: str | None
    stop: threading.Event | None
    target: str = "cpu"
    ref_cases: dict[int, dict[str, Any]] = field(default_factory=dict)
    seeded: bool = False  # the reference is not deterministic: every call is seeded alike
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

    # -- the data every job of this run shares, pickled once ------------------------------
    def __post_init__(self) -> None:
        self.cases_bytes = dumps_by_value(list(self.cases))
        self.tests_bytes = dumps_by_value(list(self.tests))
        self.make_bytes = dumps_by_value(self.make)
        self.context_bytes = dumps_by_value(dict(self.task.context))
        self.arguments = [[preview(a) for a in args] for args in self.cases]

    def executor(self) -> Executor:
        executor = executor_from(self.settings.executor, self.settings.workers)
        for note in getattr(executor, "notes", ()):
            if note not in self.result.notes:
                self.result.notes.append(note)
        return executor

    def program(self, role: str, code: str, gpu: str | None = None, marks: bool = False):
        return Program(
            role, code, self.task.entry, self.context_bytes, gpu, marks, True, self.seeded
        )

    def _deterministic(self, report: VerifyReport) -> bool:
        again = report.again or {}
        first = report.cases.get(again.get("index", -1), {})
        if "output" not in again or "output" not in first:
            return True
        diff = compare(first["output"], again["output"], Tolerance(0.0, 0.0))
        return diff is None or isinstance(diff, Unverified)  # incomparable: cannot tell

    def verify_job(self, program: Program, expected: dict | None) -> VerifyJob:
        return VerifyJob(
            program,
            self.cases_bytes,
            self.tests_bytes,
            len(self.tests),
            self.labels,
            self.limits,
            self.settings.hardened,
            expected=expected,
            arguments=self.arguments,
            tol=self.tol,
        )

    def timing_plan(self, size: int, calibrate: bool, max_repeats: int) -> TimingPlan:
        return TimingPlan(
            size=size,
            calibrate=calibrate,
            target=self.settings.timing_target,
            max_seconds=max(2.0, 5 * self.settings.timing_target),
            budget=self.settings.time_budget,
            max_repeats=max_repeats,
            profile=PROFILE_OPTIONS,
        )

    def run_reference(self, timing_size: int | None) -> tuple[dict, Reference]:
        """Verify the reference (its outputs are what candidates must match), then calibrate
        the timing size and time it alone (the table's reference row)."""
        task, labels = self.task, self.labels
        program = self.program("reference", task.source)
        with self.executor() as executor:
            job = replace(self.verify_job(program, None), again=True)
            report: VerifyReport = executor.submit(job).result()
            if not report.load_error and not self._deterministic(report):
                # seed random and numpy.random alike before every call, of every program
                self.seeded = True
                program = self.program("reference", task.source)
                job = replace(self.verify_job(program, None), again=True)
                report = executor.submit(job).result()
                if not self._deterministic(report):
                    raise UsageError(
                        "your function returns different results on the same input, even with "
                        "random and numpy.random seeded alike: seed its own generator (e.g. "
                        "np.random.default_rng(0)) so its results can be checked"
                    )
                self.result.notes.append(
                    "your function returned different results on the same input: random and "
                    "numpy.random are seeded alike before every call of it and of every candidate"
                )
            if report.load_error:
                raise UsageError(f"the cell's code fails when run on its own: {report.load_error}")
            ok = [i for i, c in report.cases.items() if "output" in c]
            skipped = [
                f"{labels[i]} ({c['error']})"
                for i, c in sorted(report.cases.items())
                if "output" not in c
            ]
            if report.fault and not ok:
                if report.fault.reason.startswith("could not start"):  # the sandbox's fault
                    raise UsageError(f"the worker {report.fault.reason}")
                raise UsageError(
                    f"the reference {report.fault.reason}; try smaller inputs or a larger "
                    "timeout (%wb config timeout=...)"
                )
            if not ok:
                raise InputsError(
                    f"the reference raised on every input ({skipped[0]}): check the inputs function"
                )
            plan = self.timing_plan(timing_size or 64, timing_size is None, max_repeats=30)
            job = TimingJob(
                program, None, self.make_bytes, plan, self.limits, self.settings.hardened
            )
            timed: TimingReport = executor.submit(job).result()
        if timed.fault or timed.load_error or not timed.reference.times:
            why = timed.fault.reason if timed.fault else timed.load_error or "no timing came back"
            raise UsageError(
                f"timing the reference failed: it {why}; give a smaller timing_size (magic: --sizes)"
            )
        first = report.cases[min(ok)].get("seconds", 0.0)
        tests_status = {r["name"]: (None if r["ok"] else r.get("error")) for r in report.tests}
        reference = Reference(
            timing=_timing(timed.reference, timed.size, first),
            sizes=[labels[i] for i in ok],
            skipped=skipped,
            tests=tests_status,
        )
        reference.hot_lines, reference.profile_note = hot_lines(
            timed.reference.profile, task.source
        )
        return report.cases, reference

    # -- candidates -----------------------------------------------------------------------
    def evaluate_all(self, specs: list[CandidateSpec]) -> None:
        """Verify every candidate (in parallel where the executor allows), then time each one
        that passed against the reference; each finished candidate is saved at once."""
        result = self.result
        base, total = len(result.candidates), len(result.candidates) + len(specs)
        compile_times: dict[int, float] = {}
        events: queue.Queue = queue.Queue()  # from job threads; emitted from this one

        def finish(index: int, cand: CandidateResult) -> None:
            result.candidates.append(cand)
            self.store.add_candidate(result.run_id, cand.id, cand.to_dict())
            self.emit({"kind": "done", "index": index, "total": total, "candidate": cand})

        with self.executor() as executor:
            pending: dict[Future, tuple[str, int, CandidateSpec, CandidateResult]] = {}
            for offset, spec in enumerate(specs):
                index = base + offset
                if self.stopped():
                    break
                self.emit(
                    {"kind": "candidate", "index": index, "total": total, "strategy": spec.strategy}
                )
                cand = _new_candidate(spec)
                cand.order = index
                if self.device_note and spec.strategy in GPU_STRATEGIES:
                    cand.reason = f"not run here: {self.device_note}"
                    finish(index, cand)
                    continue
                gpu = None if self.target == "cpu" else self.target
                program = self.program(
                    "candidate", spec.code, gpu, marks=spec.strategy in GPU_STRATEGIES
                )
                job = self.verify_job(program, self.ref_cases)
                on_phase = (
                    _phase_events(events, index, self.stopped) if executor.reports_phases else None
                )
                pending[executor.submit(job, on_phase)] = ("verify", index, spec, cand)
            phases = _PhaseTimeline(self.timeline)
            while pending:
                if self.stopped():
                    executor.cancel(pending)
                done, _ = wait(list(pending), timeout=0.1, return_when=FIRST_COMPLETED)
                while not events.empty():
                    index, name = events.get()
                    phases.enter(index, name)
                    self.emit({"kind": "phase", "index": index, "phase": name})
                for future in done:
                    step, index, spec, cand = pending.pop(future)
                    if future.cancelled() or isinstance(future.exception(), _Stopped):
                        continue
                    if self.stopped():  # finished on a cluster after Stop: not waited for
                        continue
                    try:
                        report = future.result()
                    except Exception as exc:  # noqa: BLE001 - the executor's failure, not the candidate's
                        cand.status = "error"
                        cand.reason = f"the executor lost this job: {exc}"
                        finish(index, cand)
                        continue
                    if step == "verify" and report.cases:
                        compile_times[index] = report.cases[min(report.cases)].get("seconds", 0.0)
                    if step == "verify" and self._verified(cand, report):
                        plan = self.timing_plan(result.reference.timing.size, False, 200)
                        program = self.program(
                            "candidate", spec.code, gpu, marks=spec.strategy in GPU_STRATEGIES
                        )
                        job = TimingJob(
                            self.program("reference", self.task.source),
                            program,
                            self.make_bytes,
                            plan,
                            self.limits,
                            self.settings.hardened,
                            tol=self.tol,
                        )
                        on_phase = (
                            _phase_events(events, index, self.stopped)
                            if executor.reports_phases
                            else None
                        )
                        pending[executor.submit(job, on_phase)] = ("timing", index, spec, cand)
                        continue
                    if step == "timing":
                        self._timed(cand, report, spec, compile_times.get(index, 0.0))
                    finish(index, cand)
            phases.close()
        # the table lists candidates in the order they were proposed, whatever finished first
        result.candidates.sort(key=lambda c: c.order)

    def _verified(self, cand: CandidateResult, report: VerifyReport) -> bool:
        """Fill in why ``cand`` failed verification; True when it passed."""
        cand.output = report.output
        if report.load_error:
            cand.status, cand.reason = explain(report.load_error, self.limits)
        elif report.fault:
            cand.status, cand.reason = report.fault.status, report.fault.reason
        elif report.verdict:
            cand.status, cand.reason = report.verdict.status, report.verdict.reason
            cand.mismatch = Mismatch.from_dict(report.verdict.mismatch)
        else:
            cand.lower_precision = report.lower_precision
            return True
        return False

    def _timed(
        self, cand: CandidateResult, report: TimingReport, spec: CandidateSpec, compile_time: float
    ) -> None:
        cand.output = (cand.output + report.output)[-2000:]
        if report.load_error or report.fault:
            who = "the reference" if report.fault_side == "reference" else "it"
            if report.load_error:
                cand.status, cand.reason = explain(report.load_error, self.limits)
            else:
                cand.status, cand.reason = report.fault.status, report.fault.reason
            if report.fault_side == "reference":  # not the candidate's doing
                cand.status, cand.reason = "error", f"timing {who} failed: {cand.reason}"
            return
        if report.failure:
            cand.status = "unverified" if report.unverified else "failed"
            cand.reason = report.failure
            return
        if report.tampering:
            cand.status, cand.reason = "error", report.tampering
            return
        side = report.candidate
        cand.timing = _timing(side, report.size, compile_time)
        ref_times = report.reference.times
        cand.speedup, cand.speedup_low, cand.speedup_high = speedup_interval(
            ref_times, side.times, blocks=side.blocks, runs=side.runs
        )
        cand.noise_floor = noise_floor(min(cand.timing.median, median(ref_times)))
        cand.status = "passed"
        cand.reason = _passed_reason(cand, len(self.result.reference.sizes), len(self.tests))
        if cand.lower_precision:
            cand.reason += "; LOWER PRECISION than your function's results (allowed)"
        if side.gpu_note:
            cand.reason += f"; {str(side.gpu_note)[:200]}"
        cand.hot_lines, cand.profile_note = hot_lines(side.profile, spec.code)


def _new_candidate(spec: CandidateSpec) -> CandidateResult:
    return CandidateResult(
        id=candidate_id(spec.code),
        code=spec.code,
        strategy=spec.strategy,
        note=spec.note,
        path=spec.path,
        parent=spec.parent,
        round=spec.round,
        warnings=scan(spec.code),
    )


class _Stopped(Exception):
    """Raised into a job at its next phase once the user pressed Stop: it ends there."""


def _phase_events(events: queue.Queue, index: int, stopped: Callable[[], bool]):
    def on_phase(name: str) -> None:
        if stopped():
            raise _Stopped()
        events.put((index, name))

    return on_phase


class _PhaseTimeline:
    """Phase names from the jobs as NVTX ranges and timeline entries, one tracker per
    candidate (several run at once)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.trackers: dict[int, _PhaseTracker] = {}

    def enter(self, index: int, name: str) -> None:
        tracker = self.trackers.get(index)
        if tracker is None:
            tracker = self.trackers[index] = _PhaseTracker(self.timeline, str(index))
        tracker.enter(name)

    def close(self) -> None:
        for tracker in self.trackers.values():
            tracker.close()


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


def _hardening_in_force(settings: Settings) -> tuple[Settings, str | None]:
    if not settings.hardened:
        return settings, None
    from ..sandbox._hardening import hardening_note, hardening_status

    available, why = hardening_status()
    if not available:
        return settings.replace(hardened=False), (
            f"hardened mode is not available here ({why}); ran with the default isolation"
        )
    return settings, hardening_note()


def _reference_notes(reference: Reference) -> list[str]:
    notes = []
    if reference.skipped:
        notes.append(
            "your function raises on "
            + "; ".join(reference.skipped)
            + ": candidates must raise the same exception type there"
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


def _timing(side, size: int, compile_time: float) -> Timing:
    """A ``Timing`` from one side of a timing job."""
    wall = sum(side.times)
    return Timing.from_times(
        side.times,
        size=size,
        warmup=side.warmup,
        compile_time=compile_time,
        cpu_ratio=sum(side.cpu_times) / wall if wall > 0 else 1.0,
        peak_memory=side.peak_memory,
        **split_medians(side.gpu, side.times),
    )


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
