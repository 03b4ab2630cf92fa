"""LLM candidates: VisPath-style multi-path generation, and feedback-driven refinement.

``propose`` asks the model for K distinct strategies, then for code along each of them (the
paths are asked at once; the server runs as many together as it has slots, which the
embedded model chooses from the cores). ``refine`` shows the model what happened
to the best and the failed candidates (the verifier's expected-vs-actual line, the error,
timings, the user's hint) and asks for better versions, recording the lineage. A candidate
that failed to compile, import or verify gets the cheap repair turn instead: its code, the
error and the failing input, "fix only that" (one reply, low temperature, no plan or
profile), so the first refinement round mostly repairs what nearly worked.

A reply without usable code still becomes a candidate: a one-line program that raises at
import with the extraction's reason, so the engine reports it as an error like any other, and
the reason goes back to the model in the next round. Every exchange is kept in ``exchanges``
(in order) for the session. The prompts show hot lines from a line profile: the reference's
in round 0 (``reference_hot_lines``, set by ``optimize``), the candidate's when refining.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType

from ..._errors import LLMError, UsageError
from ...llm._extract import extract_code
from ...llm._prompts import (
    FailingCase,
    Feedback,
    Inspiration,
    ReasoningPath,
    is_numeric,
    multipath_messages,
    parse_paths,
    path_code_messages,
    refine_messages,
    repair_messages,
)
from ...llm._types import Backend, Exchange, LLMCancelled, token_events
from .._results import CandidateResult, HotLine, candidate_id
from .._task import Task
from ._base import CandidateSpec

TARGETS = ("cpu", "gpu", "cupy", "numba-cuda")
_NO_CODE = "the model's reply had no usable code: "
#: statuses a repair turn can fix (a wrong approach, a timeout or out of memory, needs more)
REPAIRABLE = ("error", "failed", "crashed")


@dataclass
class Origin:
    """Where one LLM candidate came from: for refinement prompts and the session."""

    path: ReasoningPath | None
    exchange: int | None  # index into ``LLMStrategy.exchanges``
    reply: str = ""  # the model's raw reply
    no_code_reason: str | None = None  # set when the candidate is a no-code placeholder
    notes: list[str] = field(default_factory=list)  # what extraction repaired


class LLMStrategy:
    """Candidates written by a language model along ``paths`` distinct strategies.

    ``backend=None`` uses the active backend (``%wb llm``) at each call. ``per_path`` replies
    are sampled per path; ``target`` is what the code is for: ``"cpu"``, ``"cupy"`` (or
    ``"gpu"``) or ``"numba-cuda"``. ``refine_limit`` is how many earlier candidates one
    refinement round works on; ``repair=False`` sends failed ones the full refinement prompt
    instead of the repair turn.
    """

    name = "llm"

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        paths: int = 3,
        per_path: int = 1,
        target: str = "cpu",
        temperature: float = 0.7,
        max_tokens: int = 1024,
        plan_max_tokens: int = 300,
        hint: str | None = None,
        refine_limit: int = 3,
        seed: int | None = None,
        repair: bool = True,
        repair_temperature: float = 0.2,
    ) -> None:
        if not 1 <= paths <= 8:
            raise UsageError(f"paths must be between 1 and 8, not {paths}")
        if per_path < 1 or refine_limit < 1:
            raise UsageError("per_path and refine_limit must be at least 1")
        if target not in TARGETS:
            raise UsageError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
        if max_tokens < 16 or plan_max_tokens < 16:
            raise UsageError("max_tokens and plan_max_tokens must be at least 16")
        self.backend = backend
        self.paths = paths
        self.per_path = per_path
        self.target = target
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.plan_max_tokens = plan_max_tokens
        self.hint = hint
        self.refine_limit = refine_limit
        self.seed = seed
        self.repair = repair
        self.repair_temperature = repair_temperature
        #: every exchange with the model, in order: the reformulation, then the code requests
        self.exchanges: list[Exchange] = []
        #: candidate id -> where it came from
        self.origins: dict[str, Origin] = {}
        #: the reasoning paths of the last ``propose``
        self.last_paths: list[ReasoningPath] = []
        self._refined: set[str] = set()
        self._lock = threading.Lock()
        #: the reference's hot lines, for round 0's prompts (``optimize`` sets them)
        self.reference_hot_lines: list[HotLine] = []
        self._progress: Callable[[dict], None] | None = None
        self._cancel: threading.Event | None = None

    def watch(
        self, progress: Callable[[dict], None] | None, cancel: threading.Event | None = None
    ) -> None:
        """Report the model's text as it arrives to ``progress`` as ``{"kind": "tokens",
        "stream": name, "piece": text}`` events (the name is ``path NAME`` for a reasoning
        path, ``plan`` or ``refines ID``); setting ``cancel`` abandons the requests under way."""
        self._progress, self._cancel = progress, cancel

    def _streaming(self, stream: str) -> dict:
        """``on_token`` and ``cancel`` for one request, when someone watches."""
        watched = {"on_token": token_events(self._progress, stream), "cancel": self._cancel}
        return {key: value for key, value in watched.items() if value is not None}

    def _say(self, event: dict) -> None:
        if self._progress is not None:
            self._progress(event)

    @property
    def gpu(self) -> bool:
        return self.target != "cpu"

    @property
    def prompt_target(self) -> str:
        """The prompts' target: ``cpu``, ``cupy`` or ``numba-cuda``."""
        return "cupy" if self.target == "gpu" else self.target

    def _backend(self) -> Backend:
        if self.backend is not None:
            return self.backend
        from ...llm._active import get_backend

        return get_backend()

    # -- round 0: multi-path generation ----------------------------------------------------

    def propose(self, task: Task) -> list[CandidateSpec]:
        """Reformulate the task into ``paths`` strategies, then one request per path."""
        backend = self._backend()
        context = describe_context(task)
        self._say({"kind": "generate", "strategy": self.name, "round": 0})
        try:
            plan = backend.complete(
                multipath_messages(
                    task.source,
                    task.entry,
                    self.paths,
                    gpu=self.prompt_target,
                    context=context,
                    hint=self.hint,
                    hot_lines=self.reference_hot_lines,
                ),
                temperature=self.temperature,
                max_tokens=self.plan_max_tokens,
                seed=self.seed,
                **self._streaming("plan"),
            )
        except LLMCancelled:  # stopped by the user while the model was planning
            return []
        self._keep(plan)
        self.last_paths = parse_paths(
            _number_items(plan.texts[0]),
            self.paths,
            gpu=self.prompt_target,
            numeric=is_numeric(task.source),
        )

        def ask(path: ReasoningPath) -> Exchange:
            messages = path_code_messages(
                task.source,
                task.entry,
                path,
                gpu=self.prompt_target,
                context=context,
                hint=self.hint,
                hot_lines=self.reference_hot_lines,
            )
            return backend.complete(
                messages,
                n=self.per_path,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=self.seed,
                **self._streaming(f"path {path.name}"),
            )

        specs: list[CandidateSpec] = []
        for path, outcome in zip(self.last_paths, _concurrently(ask, self.last_paths)):
            note = _one_line(f"{path.name}: {path.approach}")
            specs += self._specs_from(task, outcome, path=path, note=note, parent=None, round=0)
        return specs

    # -- later rounds: refinement ----------------------------------------------------------

    def refine(
        self,
        task: Task,
        results: Sequence[CandidateResult],
        *,
        round: int,
        hint: str | None = None,
    ) -> list[CandidateSpec]:
        """Improved versions of the best passed and the failed candidates in ``results``.

        Each chosen candidate's feedback (status, the verifier's reason with expected vs
        actual, the output tail, timings, a no-code reason) and the user's ``hint`` go into
        one prompt; without a ``hint`` for this round, one that failed to compile, import or
        verify gets the cheap repair turn instead (:meth:`repairs`); the replies become candidates with ``parent`` the candidate's id, its
        path, and ``round``. A candidate is refined once; returns [] when none is left.
        """
        if round < 1:
            raise UsageError(f"refinement rounds count from 1, not {round}")
        chosen = self.choose_for_refinement(results)
        if not chosen:
            return []
        backend = self._backend()
        # a hint for this round is the user steering: they get the full prompt, not a repair
        repairing = self.repair and hint is None
        hint = hint if hint is not None else self.hint
        self._say({"kind": "generate", "strategy": self.name, "round": round})

        def ask(parent: CandidateResult) -> Exchange:
            return self._ask(backend, task, parent, repairing=repairing, hint=hint)

        specs: list[CandidateSpec] = []
        for parent, outcome in zip(chosen, _concurrently(ask, chosen)):
            with self._lock:
                self._refined.add(parent.id)
            specs += self._children(task, parent, outcome, repairing=repairing, round=round)
        return specs

    def expand(
        self,
        task: Task,
        parent: CandidateResult,
        inspiration: Sequence[CandidateResult] = (),
        *,
        round: int,
        hint: str | None = None,
    ) -> list[CandidateSpec]:
        """Tree search's step: children of ``parent`` (the repair turn when it failed), with
        ``inspiration`` (its siblings, the best elsewhere) shown in the refinement prompt.
        Unlike :meth:`refine`, a parent can be expanded again."""
        backend = self._backend()
        repairing = self.repair and hint is None
        hint = hint if hint is not None else self.hint
        self._say({"kind": "generate", "strategy": self.name, "round": round})
        shown = [
            Inspiration(c.code, f"{c.id} ({_status_words(c)}): {_one_line(c.note, 100)}")
            for c in inspiration
            if c.id != parent.id and c.code
        ]
        (outcome,) = _concurrently(
            lambda p: self._ask(
                backend, task, p, repairing=repairing, hint=hint, inspiration=shown
            ),
            [parent],
        )
        return self._children(task, parent, outcome, repairing=repairing, round=round)

    def _ask(
        self,
        backend: Backend,
        task: Task,
        parent: CandidateResult,
        *,
        repairing: bool,
        hint: str | None,
        inspiration: Sequence[Inspiration] = (),
    ) -> Exchange:
        """One request about ``parent``: the repair turn, or the refinement prompt."""
        origin = self.origins.get(parent.id)
        no_code = origin is not None and origin.no_code_reason is not None
        stream = {**self._streaming(f"refines {parent.id}"), "seed": self.seed}
        if repairing and self.repairs(parent, origin):
            return backend.complete(
                repair_messages(
                    task.source,
                    task.entry,
                    parent.code,
                    _error_of(parent),
                    failure=failing_case(parent),
                    gpu=self.prompt_target,
                    hint=hint,
                ),
                n=1,
                temperature=self.repair_temperature,
                max_tokens=self.max_tokens,
                **stream,
            )
        return backend.complete(
            refine_messages(
                task.source,
                task.entry,
                None if no_code else parent.code,
                feedback_from(parent, origin),
                path=self._path_of(parent),
                gpu=self.prompt_target,
                hint=hint,
                inspiration=inspiration,
            ),
            n=self.per_path,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            **stream,
        )

    def _children(
        self,
        task: Task,
        parent: CandidateResult,
        outcome: Exchange | BaseException,
        *,
        repairing: bool,
        round: int,
    ) -> list[CandidateSpec]:
        repaired = repairing and self.repairs(parent, self.origins.get(parent.id))
        verb = "repairs" if repaired else "refines"
        note = _one_line(f"{verb} {parent.id} ({_status_words(parent)})")
        return self._specs_from(
            task, outcome, path=self._path_of(parent), note=note, parent=parent.id, round=round
        )

    def repairs(self, result: CandidateResult, origin: Origin | None = None) -> bool:
        """Whether ``result`` gets the cheap repair turn: it has code that failed to compile,
        import or verify."""
        no_code = origin is not None and origin.no_code_reason is not None
        return self.repair and result.status in REPAIRABLE and not no_code and bool(result.code)

    def choose_for_refinement(self, results: Sequence[CandidateResult]) -> list[CandidateResult]:
        """Up to ``refine_limit`` candidates: the fastest passed ones and the failed ones
        (this strategy's, newest first) in turn, each at most once over all rounds."""
        fresh = [r for r in results if r.id not in self._refined]
        passed = sorted(
            (r for r in fresh if r.status == "passed"),
            key=lambda r: -(r.speedup if r.speedup is not None else 0.0),
        )
        failed = sorted(
            (r for r in fresh if r.status != "passed"),
            key=lambda r: (r.strategy != self.name, -r.round),
        )
        chosen: list[CandidateResult] = []
        while len(chosen) < self.refine_limit and (passed or failed):
            for pool in (passed, failed):
                if pool and len(chosen) < self.refine_limit:
                    chosen.append(pool.pop(0))
        return chosen

    # -- shared ---------------------------------------------------------------------------

    def _path_of(self, result: CandidateResult) -> ReasoningPath | None:
        origin = self.origins.get(result.id)
        if origin is not None and origin.path is not None:
            return origin.path
        if result.path:
            known = {p.name: p for p in self.last_paths}
            return known.get(result.path, ReasoningPath(result.path, result.path))
        return None

    def _keep(self, exchange: Exchange) -> int:
        with self._lock:
            self.exchanges.append(exchange)
            return len(self.exchanges) - 1

    def _specs_from(
        self,
        task: Task,
        outcome: Exchange | BaseException,
        *,
        path: ReasoningPath | None,
        note: str,
        parent: str | None,
        round: int,
    ) -> list[CandidateSpec]:
        path_name = path.name if path is not None else None
        where = f"path {path_name}" if path_name else "no path"
        if parent:
            where += f", refining {parent}"
        if isinstance(outcome, LLMCancelled):  # stopped by the user: no candidate
            return []
        if isinstance(outcome, BaseException):
            reason = f"the model could not be asked ({outcome})"
            code = no_code_program(reason, f"{where}, round {round}")
            self.origins[candidate_id(code)] = Origin(path, None, "", reason)
            return [_spec(code, note, path_name, parent, round)]
        index = self._keep(outcome)
        arity = _arity(task)
        specs = []
        for number, completion in enumerate(outcome.completions, 1):
            extraction = extract_code(completion.text, task.entry, arity=arity)
            if extraction.code is not None:
                code = extraction.code
                origin = Origin(path, index, completion.text, None, extraction.notes)
                idea = _idea(completion.text) if parent else ""
                if idea:  # what the model says it changed: the search view's hover
                    specs.append(_spec(code, f"{note}: {idea}", path_name, parent, round))
                    self.origins[candidate_id(code)] = origin
                    continue
            else:
                reason = extraction.reason or "no code found"
                if completion.finish_reason == "length":
                    reason += (
                        f" (the reply was cut off at {outcome.request.max_tokens} tokens: "
                        "write shorter code)"
                    )
                code = no_code_program(reason, f"{where}, round {round}, reply {number}")
                origin = Origin(path, index, completion.text, reason)
            self.origins[candidate_id(code)] = origin
            specs.append(_spec(code, note, path_name, parent, round))
        return specs


def _spec(code: str, note: str, path: str | None, parent: str | None, round: int) -> CandidateSpec:
    return CandidateSpec(
        code=code, strategy="llm", note=note, path=path, parent=parent, round=round
    )


def no_code_program(reason: str, where: str) -> str:
    """A program that fails at import with ``reason``: the engine reports it as an error."""
    return f"# no usable code from the model ({where})\nraise RuntimeError({_NO_CODE + reason!r})\n"


def failing_case(result: CandidateResult) -> FailingCase | None:
    """The input ``result`` got wrong (or raised on), from the verifier's mismatch."""
    m = result.mismatch
    if m is None:
        return None
    arguments = f"{m.input}: " + ", ".join(m.arguments) if m.arguments else m.input
    if result.status != "failed":  # it raised: ``actual`` is the error
        return FailingCase(arguments, error=m.actual)
    return FailingCase(arguments, expected=m.expected, actual=m.actual)


def _error_of(result: CandidateResult) -> str:
    """The error line for a repair prompt: the verifier's reason, and the exception's last
    line from the output when it adds something."""
    reason = result.reason or result.status
    output = (result.output or "").strip()
    if "Traceback" in output:
        last = output.splitlines()[-1].strip()
        if last and last not in reason:
            reason += f"\n{last}"
    return reason


def feedback_from(result: CandidateResult, origin: Origin | None = None) -> Feedback:
    """What the next prompt says about ``result``."""
    feedback = Feedback(status=_FEEDBACK_STATUS.get(result.status, result.status))
    if origin is not None and origin.no_code_reason is not None:
        feedback.status = "no_code"
        feedback.extraction_error = origin.no_code_reason
        return feedback
    if result.status == "failed" and result.reason:
        feedback.message = f"The check against the original says: {result.reason}"
    elif result.status != "passed" and result.reason:
        feedback.message = f"The workbench says: {result.reason}"
    if result.status != "passed" and "Traceback" in (result.output or ""):
        feedback.traceback = result.output[result.output.rindex("Traceback") :]
    case = failing_case(result) if result.status != "passed" else None
    if case is not None:
        feedback.failures = [case]
    if result.timing is not None and result.speedup is not None and math.isfinite(result.speedup):
        feedback.candidate_s = result.timing.median
        feedback.reference_s = result.timing.median * result.speedup
    feedback.hot_lines = list(result.hot_lines)
    feedback.profile_note = result.profile_note or None
    return feedback


_FEEDBACK_STATUS = {"passed": "correct", "failed": "wrong", "crashed": "error"}


def describe_context(task: Task) -> str | None:
    """The names the function uses from outside it, for the prompt (candidates get them too)."""
    lines = []
    for name, value in sorted(task.context.items()):
        if isinstance(value, ModuleType):
            lines.append(f"- `{name}` is the module {value.__name__}")
        elif callable(value):
            lines.append(f"- `{name}` is a function defined outside the cell; call it as is")
        else:
            lines.append(f"- `{name}` = {_one_line(repr(value), 120)} (defined outside the cell)")
    if not lines:
        return None
    return "Names the function uses from outside the cell:\n" + "\n".join(lines)


def _concurrently(
    ask: Callable[[object], Exchange], items: Sequence
) -> list[Exchange | BaseException]:
    """``ask(item)`` for each item in threads; results (or the LLM error) in item order."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="wb-llm") as pool:
        futures = [pool.submit(ask, item) for item in items]
        outcomes: list[Exchange | BaseException] = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except LLMError as exc:
                outcomes.append(exc)
    if all(isinstance(o, BaseException) for o in outcomes) and not all(
        isinstance(o, LLMCancelled) for o in outcomes
    ):
        raise outcomes[0]  # type: ignore[misc] - nothing answered: the backend itself is down
    return outcomes


_PLACEHOLDER_ITEM = re.compile(r"^(\s*)N\s*[.)]\s+", re.M)


def _number_items(reply: str) -> str:
    """Small models copy the prompt's "N. name: ..." template literally: number those lines."""
    count = iter(range(1, 100))
    return _PLACEHOLDER_ITEM.sub(lambda m: f"{m.group(1)}{next(count)}. ", reply)


def _arity(task: Task) -> int:
    return len(task.entry_node.args.args) + len(task.entry_node.args.posonlyargs)


def _idea(reply: str) -> str:
    """The reply's first line of prose before its code block: what the model changed."""
    before = reply.split("```", 1)[0] if "```" in reply else ""
    lines = [line.strip(" #*-") for line in before.splitlines() if line.strip(" #*-")]
    return _one_line(lines[0], 120) if lines else ""


def _status_words(result: CandidateResult) -> str:
    if result.status == "passed" and result.speedup is not None:
        return f"passed, {result.speedup:.2f}x"
    return result.status


def _one_line(text: str, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
