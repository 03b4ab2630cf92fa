"""Result records: plain data that renders itself (HTML in a notebook, text elsewhere)."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import UsageError

STATUSES = ("passed", "failed", "error", "timeout", "crashed", "oom")


def candidate_id(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()[:8]


@dataclass
class Timing:
    """Repeated timed calls at one input size (seconds)."""

    median: float
    q1: float
    q3: float
    repeats: int
    size: int | None = None
    warmup: float = 0.0  # first call at the timing size, after verification
    compile_time: float = 0.0  # first call ever (small input): JIT compilation, mostly
    cpu_ratio: float = 1.0  # CPU time / wall time: about the number of busy threads
    peak_memory: int | None = None  # bytes one call adds to resident memory
    times: list[float] = field(default_factory=list)
    # GPU candidates (medians, seconds; None on the CPU): device time of a call from CUDA
    # events, and the split a workbench-generated wrapper marks; ``median`` stays the host time
    device_time: float | None = None
    h2d_time: float | None = None
    kernel_time: float | None = None
    d2h_time: float | None = None
    gpu_clock: str | None = None  # "cuda-events", or "host (simulator)"

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return (self.q3 - self.q1) / self.median if self.median else 0.0

    @classmethod
    def from_times(cls, times: list[float], **extra: Any) -> Timing:
        s = sorted(times)
        n = len(s)

        def q(p: float) -> float:  # linear interpolation, like numpy's default
            x = p * (n - 1)
            lo = int(x)
            hi = min(lo + 1, n - 1)
            return s[lo] + (s[hi] - s[lo]) * (x - lo)

        return cls(median=q(0.5), q1=q(0.25), q3=q(0.75), repeats=n, times=list(times), **extra)


@dataclass(frozen=True)
class HotLine:
    """One line of a program from a line profile of one call: where its time goes."""

    lineno: int  # in the program's own source (1-based)
    share: float  # of the entry function's time, 0..1 (a call line includes its callee)
    text: str  # the line itself, stripped
    hits: int = 0
    seconds: float = 0.0
    function: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HotLine:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def hot_lines_from(items: Any) -> list[HotLine]:
    """Hot lines from stored dicts (sessions written before hot lines have none)."""
    return [h if isinstance(h, HotLine) else HotLine.from_dict(h) for h in items or []]


@dataclass(frozen=True)
class Mismatch:
    """The first input a candidate got wrong, for a person to compare side by side."""

    input: str  # which verification input, e.g. "n=10"
    arguments: list[str]  # each argument, previewed
    expected: str  # what the reference returned
    actual: str  # what the candidate returned, or the error it raised

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Mismatch | None:
        return None if not data else cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclass
class CandidateResult:
    """One candidate: its code, where it came from, and what happened to it."""

    id: str
    code: str
    strategy: str
    status: str = "error"
    reason: str = ""
    note: str = ""
    timing: Timing | None = None
    speedup: float | None = None
    speedup_low: float | None = None  # reference q1 / candidate q3
    speedup_high: float | None = None  # reference q3 / candidate q1
    warnings: list[str] = field(default_factory=list)
    output: str = ""
    path: str | None = None
    parent: str | None = None
    round: int = 0
    seconds: float = 0.0  # what evaluating it cost the workbench
    hot_lines: list[HotLine] = field(default_factory=list)  # hottest first (line profile)
    profile_note: str = ""  # why lines are missing, e.g. compiled with Numba
    mismatch: Mismatch | None = None  # the input it got wrong: arguments, expected, actual

    # conveniences the API names
    @property
    def median(self) -> float | None:
        return self.timing.median if self.timing else None

    @property
    def spread(self) -> float | None:
        return self.timing.spread if self.timing else None

    @property
    def repeats(self) -> int | None:
        return self.timing.repeats if self.timing else None

    @property
    def compile_time(self) -> float | None:
        return self.timing.compile_time if self.timing else None

    @property
    def peak_memory(self) -> int | None:
        return self.timing.peak_memory if self.timing else None

    @property
    def significant(self) -> bool:
        """False when the speedup's spread overlaps 1.0 (no significant change)."""
        if self.speedup_low is None or self.speedup_high is None:
            return False
        return self.speedup_low > 1.0 or self.speedup_high < 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateResult:
        data = dict(data)
        if data.get("timing"):
            data["timing"] = Timing(**data["timing"])
        data["hot_lines"] = hot_lines_from(data.get("hot_lines"))
        data["mismatch"] = Mismatch.from_dict(data.get("mismatch"))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Reference:
    """The reference's own run: its timing and which inputs it was checked on."""

    timing: Timing | None
    sizes: list[Any] = field(default_factory=list)  # sizes (or input indices) verified on
    skipped: list[str] = field(default_factory=list)  # inputs the reference itself fails on
    tests: dict[str, str | None] = field(default_factory=dict)  # test name -> error or None
    hot_lines: list[HotLine] = field(default_factory=list)  # hottest first (line profile)
    profile_note: str = ""


@dataclass
class OptimizeResult:
    """What ``optimize`` found. ``best`` is the fastest passed candidate; ``accept()`` uses it."""

    entry: str
    source: str
    reference: Reference
    candidates: list[CandidateResult]
    run_id: str | None = None
    store_path: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    accepted: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # where the inputs came from, sizes
    namespace: MutableMapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def best(self) -> CandidateResult | None:
        passed = [c for c in self.candidates if c.status == "passed" and c.speedup is not None]
        return max(passed, key=lambda c: c.speedup) if passed else None

    def __getitem__(self, key: int | str) -> CandidateResult:
        if isinstance(key, int):
            return self.candidates[key]
        for c in self.candidates:
            if c.id == key or c.strategy == key:
                return c
        raise KeyError(key)

    def accept(
        self,
        candidate: CandidateResult | str | int | None = None,
        *,
        namespace: MutableMapping[str, Any] | None = None,
        new_cell: bool = True,
        bind: bool = True,
    ) -> CandidateResult:
        """Bind the chosen (default: best) candidate under the original name in the user's
        namespace, record it in the session, and offer its code as the next cell.
        ``bind=False`` only records the choice (``%wb load`` then brings its code)."""
        if candidate is None:
            chosen = self.best
            if chosen is None:
                raise UsageError(
                    "no candidate passed verification, so there is nothing to accept; "
                    "look at the reasons in the table, or give candidates=[...]"
                )
        elif isinstance(candidate, CandidateResult):
            chosen = candidate
        else:
            chosen = self[candidate]
        if chosen.status != "passed":
            raise UsageError(
                f"candidate {chosen.id} did not pass verification ({chosen.status}: "
                f"{chosen.reason}); accept a passed one"
            )
        bind_accepted(
            chosen.code,
            chosen.id,
            namespace if namespace is not None else self.namespace,
            run_id=self.run_id,
            store_path=self.store_path,
            header=f"{chosen.strategy}, {_speedup_text(chosen)}" if new_cell else None,
            bind=bind,
        )
        self.accepted = chosen.id
        for callback in self.__dict__.get("_watchers", ()):
            callback()
        return chosen

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after a candidate is accepted, from a view or from code: a
        view of this result shown in another cell redraws."""
        self.__dict__.setdefault("_watchers", []).append(callback)

    def refine(
        self,
        hint: str | None = None,
        candidate: str | None = None,
        rounds: int = 1,
        *,
        progress: Any = None,
        stop: threading.Event | None = None,
    ) -> OptimizeResult:
        """More LLM rounds in the same session run, with your ``hint``: on ``candidate`` (an
        id) alone, or on the best and failed ones. New candidates are added to this result
        (children of what they refine) and recorded; returns this result. ``progress``
        receives the same events as ``optimize``'s; setting ``stop`` skips what is left."""
        from ._engine import refine_result

        return refine_result(
            self, hint=hint, candidate=candidate, rounds=rounds, progress=progress, stop=stop
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the user's namespace left out: it is not the result's to copy)."""
        data = dataclasses.asdict(dataclasses.replace(self, namespace=None))
        data.pop("namespace")
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any], store_path: str | None = None) -> OptimizeResult:
        """The result of a run as ``SessionStore.run(run_id)`` returns it."""
        ref = data.get("reference") or {}
        reference = Reference(
            timing=Timing(**ref["timing"]) if ref.get("timing") else None,
            sizes=ref.get("sizes", []),
            skipped=ref.get("skipped", []),
            tests=ref.get("tests", {}),
            hot_lines=hot_lines_from(ref.get("hot_lines")),
            profile_note=ref.get("profile_note", ""),
        )
        return cls(
            entry=data.get("entry") or "",
            source=data.get("source") or "",
            reference=reference,
            candidates=[CandidateResult.from_dict(c) for c in data.get("candidates", [])],
            run_id=data.get("id"),
            store_path=store_path,
            notes=data.get("notes") or [],
            accepted=data.get("accepted"),
            inputs=(data.get("options") or {}).get("inputs") or {},
        )

    def _repr_html_(self) -> str:
        from ._render import result_html

        return result_html(self)

    def __repr__(self) -> str:
        from ._render import result_text

        return result_text(self)


def _speedup_text(c: CandidateResult) -> str:
    if c.speedup is None:
        return c.status
    if not c.significant:
        return f"{c.speedup:.2f}x (no significant change)"
    return f"{c.speedup:.1f}x faster" if c.speedup >= 1 else f"{1 / c.speedup:.1f}x slower"


def bind_accepted(
    code: str,
    candidate: str,
    namespace: MutableMapping[str, Any] | None,
    *,
    run_id: str | None,
    store_path: str | None,
    header: str | None,
    bind: bool = True,
) -> None:
    """Run accepted code in the user's namespace, record the choice in the session, and
    (when ``header`` is given) offer the code as the next cell. ``bind=False`` records the
    choice only: no code runs here (the standalone dashboard's server)."""
    if bind:
        if namespace is None:
            raise UsageError(
                "accept() needs namespace=globals() when the result was not made in a notebook"
            )
        exec(compile(code, f"<accepted {candidate}>", "exec"), namespace)  # noqa: S102 - the user accepts it
    if run_id and store_path:
        from ..store._sessions import SessionStore

        SessionStore(store_path).update_run(run_id, accepted=candidate)
    elif not bind:
        raise UsageError("this result has no session to record the choice in")
    if bind and header is not None:
        _offer_next_cell(f"# accepted from workbench session {run_id}: {header}\n{code}")


def _offer_next_cell(code: str) -> None:
    """Put ``code`` into the next notebook cell, when running under IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        shell.set_next_input(code, replace=False)
