"""Result records: plain data that renders itself (HTML in a notebook, text elsewhere)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import UsageError
from ..store import RunHandle

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
    speedup_low: float | None = None  # 95 % bootstrap interval of the speedup
    speedup_high: float | None = None
    noise_floor: float = 0.05  # "faster" needs the whole interval above 1 + this
    lower_precision: bool = False  # returns a narrower float dtype (the user allowed it)
    warnings: list[str] = field(default_factory=list)
    output: str = ""
    path: str | None = None
    parent: str | None = None
    round: int = 0
    seconds: float = 0.0  # what evaluating it cost the workbench
    hot_lines: list[HotLine] = field(default_factory=list)  # hottest first (line profile)
    profile_note: str = ""  # why lines are missing, e.g. compiled with Numba
    mismatch: Mismatch | None = None  # the input it got wrong: arguments, expected, actual
    order: int = 0  # when it was proposed in its run (they may finish in any order)

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
        """True when the speedup's interval clears 1 by the noise floor, either way."""
        if self.speedup_low is None or self.speedup_high is None:
            return False
        floor = 1.0 + self.noise_floor
        return self.speedup_low > floor or self.speedup_high < 1.0 / floor

    @property
    def faster(self) -> bool:
        """Passed, and significantly faster than the reference."""
        return self.status == "passed" and self.significant and (self.speedup or 0) > 1.0

    @property
    def complexity(self) -> int:
        """How much riskier machinery it uses (fastmath, parallel threads): the tie-breaker."""
        return sum(word in self.code for word in ("fastmath", "parallel=True", "prange"))

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
    #: how to accept and refine it (the session run, the engine that can go on); not data
    handle: RunHandle | None = field(default=None, repr=False, compare=False)

    def _handle(self) -> RunHandle:
        if self.handle is None:
            self.handle = RunHandle("optimize", self.run_id, self.store_path)
        self.handle.namespace = self.namespace
        return self.handle

    @property
    def best(self) -> CandidateResult | None:
        """The fastest candidate that is significantly faster than the reference; among those
        whose intervals overlap the fastest one's, the simplest (no fastmath or parallel
        threads unless they pay). None when no candidate is significantly faster."""
        faster = [c for c in self.candidates if c.faster]
        if not faster:
            return None
        top = max(faster, key=lambda c: c.speedup)
        tied = [c for c in faster if c.speedup_high >= top.speedup_low]
        return min(tied, key=lambda c: (c.complexity, -c.speedup))

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
                    "no candidate is significantly faster than your function, so there is "
                    "nothing to accept; look at the table, or accept one by id: accept(ID)"
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
        self.accepted = chosen.id
        self._handle().accept(
            chosen.code,
            chosen.id,
            header=f"{chosen.strategy}, {_speedup_text(chosen)}" if new_cell else None,
            namespace=namespace,
            bind=bind,
        )
        return chosen

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after a candidate is accepted, from a view or from code: a
        view of this result shown in another cell redraws."""
        self._handle().watchers.append(callback)

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
        return self._handle().refine(
            self, hint, candidate=candidate, rounds=rounds, progress=progress, stop=stop
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the user's namespace left out: it is not the result's to copy)."""
        data = dataclasses.asdict(dataclasses.replace(self, namespace=None, handle=None))
        data.pop("namespace")
        data.pop("handle")
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
            candidates=sorted(
                (CandidateResult.from_dict(c) for c in data.get("candidates", [])),
                key=lambda c: c.order,
            ),
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
