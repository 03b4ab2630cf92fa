"""``generate``: write a function from a spec, with generated tests that rank the candidates.

The model samples ``n_codes`` implementations and ``n_tests`` test completions (``assert``
lines, at most five kept per completion as in CodeT). Every candidate runs against every test
in isolated workers (``build_pass_matrix``), a ranker (B4 by default) orders the candidates by
how well codes and tests agree, and a ``Labeller`` asks the user about the few tests that best
separate the leading groups. Everything (the replies, the matrix, each label the moment it is
given, the accepted candidate) goes to the session database, so ``load_generate_result``
brings a result back after a kernel restart.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import html
import os
import re
import threading
import time
from collections.abc import Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import UsageError
from .._settings import Settings, get_settings
from ..execute import executor_from
from ..llm._types import abandoned_when_stopped, token_events
from ..optimizer._render import fmt_seconds
from ..optimizer._results import candidate_id
from ..store import RunHandle
from ..store._sessions import SessionStore
from ._labelling import Labeller, Question
from ._passmatrix import PassMatrix, build_pass_matrix
from ._ranking import RANKERS, Ranking

if TYPE_CHECKING:
    from ..llm import Backend, Exchange, Extraction

ASSERTS_PER_SAMPLE = 5  # CodeT keeps the first five asserts of each test completion
SYSTEM_PROGRAMMER = (
    "You are an expert Python programmer. You write correct, simple, self-contained Python "
    "functions that follow their specification exactly, edge cases included."
)
_DEF_LINE = re.compile(r"\bdef[ \t]+[A-Za-z_]\w*[ \t]*\([^()\n]*\)[^:\n]*:")
_FENCE = re.compile(r"```[\w+.-]*[^\n]*\n(.*?)(?:```|\Z)", re.S)
_BUILTIN_NAMES = frozenset(dir(builtins))
_PREVIEW = 60
_SALVAGE_LINES = 30  # how far back a cut-off reply is trimmed to find a whole function


# -- the spec -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What to implement: the user's text, the entry point and its number of parameters."""

    text: str
    entry: str
    arity: int | None  # positional parameters, when a signature was found


def parse_spec(spec: str, entry: str | None = None) -> Spec:
    """The entry point of ``spec``: a ``def`` stub with a docstring, or prose with a signature.

    A ``def NAME(ARGS):`` anywhere in the text names the function (the first one, unless
    ``entry`` says which); prose without one needs ``entry``.
    """
    text = (spec or "").strip()
    if not text:
        raise UsageError("the spec is empty: write a signature and a docstring, e.g. def f(xs):")
    if entry is not None and not entry.isidentifier():
        raise UsageError(f"entry must be a function name, not {entry!r}")
    functions = _stub_functions(text)
    if entry is not None:
        chosen = functions.get(entry)
        return Spec(text, entry, _arity(chosen) if chosen else None)
    if not functions:
        raise UsageError(
            "the spec has no signature: start it with def NAME(ARGS): or give entry='NAME'"
        )
    name, node = next(iter(functions.items()))
    return Spec(text, name, _arity(node))


def _stub_functions(text: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions of the spec, whether it is code or prose holding ``def`` lines."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        tree = None
    if tree is not None:
        return {
            n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for match in _DEF_LINE.finditer(text):
        try:
            node = ast.parse(match.group(0).strip() + " ...").body[0]
        except SyntaxError:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.setdefault(node.name, node)
    return found


def _arity(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return len(node.args.posonlyargs) + len(node.args.args)


# -- prompts and what is taken from the replies -------------------------------------------


def code_messages(spec: Spec) -> list[dict[str, str]]:
    """Ask for one implementation of the spec."""
    user = (
        f"Implement this Python function `{spec.entry}`:\n\n```python\n{spec.text}\n```\n\n"
        "Reply with ONE ```python block holding the complete code: the imports, any helper "
        f"functions, and `def {spec.entry}(...)` with exactly this signature. No example calls, "
        "no tests, no explanations after the block."
    )
    return [{"role": "system", "content": SYSTEM_PROGRAMMER}, {"role": "user", "content": user}]


def test_messages(spec: Spec) -> list[dict[str, str]]:
    """Ask for test cases of the spec as ``assert entry(...) == ...`` lines (CodeT's form)."""
    user = (
        f"Here is the specification of a Python function `{spec.entry}`:\n\n"
        f"```python\n{spec.text}\n```\n\n"
        f"Write {ASSERTS_PER_SAMPLE} test cases that check the correctness of `{spec.entry}`, "
        f"one per line, each of the form\nassert {spec.entry}(ARGUMENTS) == EXPECTED\n"
        "with literal arguments and the exact expected result worked out from the "
        "specification. Do not implement the function. Reply with one ```python block holding "
        "only the assert lines."
    )
    return [{"role": "system", "content": SYSTEM_PROGRAMMER}, {"role": "user", "content": user}]


def extract_asserts(reply: str, entry: str, limit: int = ASSERTS_PER_SAMPLE) -> list[str]:
    """The first ``limit`` self-contained asserts in ``reply`` that call ``entry``.

    An assert must call ``entry`` and use no other names than ``entry`` and builtins (a line
    like ``assert result == 3`` means nothing on its own); its message is dropped and its text
    normalised, so equal tests written differently deduplicate.
    """
    blocks = _FENCE.findall(reply or "") or [reply or ""]
    found: list[str] = []
    for block in blocks:
        for node in _assert_nodes(block):
            test = _self_contained(node, entry)
            if test is not None and test not in found:
                found.append(test)
            if len(found) >= limit:
                return found
    return found


def _assert_nodes(block: str) -> list[ast.Assert]:
    try:
        tree = ast.parse(block)
    except SyntaxError:  # a reply cut off at max_tokens: take the lines that parse
        nodes = []
        for line in block.splitlines():
            try:
                nodes.extend(ast.parse(line.strip()).body)
            except SyntaxError:
                continue
        return [n for n in nodes if isinstance(n, ast.Assert)]
    return [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]


def _self_contained(node: ast.Assert, entry: str) -> str | None:
    names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
    calls_entry = any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == entry
        for n in ast.walk(node.test)
    )
    if not calls_entry or names - {entry} - _BUILTIN_NAMES:
        return None
    return ast.unparse(ast.Assert(test=node.test, msg=None))


# -- results ------------------------------------------------------------------------------


@dataclass
class GeneratedCandidate:
    """One distinct implementation: its code and where the ranking puts it."""

    id: str
    code: str
    samples: int  # how many replies gave this code
    runs: bool  # the code loads without error (candidates that do not are out of play)
    group: int | None = None  # 1 = the leading group; None when out of play
    score: float | None = None
    passes: int = 0  # tests it passes (of those not labelled wrong)

    def preview(self, entry: str) -> str:
        """The first statement of ``entry``'s body after its docstring, on one line."""
        try:
            tree = ast.parse(self.code)
        except SyntaxError:
            return ""
        body = next(
            (
                n.body
                for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == entry
            ),
            [],
        )
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if not body:
            return ""
        text = " ".join(ast.unparse(body[0]).split())
        return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


@dataclass(frozen=True)
class RejectedReply:
    """A reply that gave nothing usable, and why (shown, never fatal)."""

    kind: str  # "code" or "tests"
    index: int  # which completion of its request
    reason: str


@dataclass
class LabelQuestion:
    """A test for the user to label; renders as text and as HTML."""

    question: Question
    candidates: list[GeneratedCandidate]

    @property
    def test(self) -> int:
        return self.question.test

    @property
    def source(self) -> str:
        return self.question.source

    def render_text(self) -> str:
        return self.question.render_text()

    def __str__(self) -> str:
        return self.render_text()

    def __repr__(self) -> str:
        return self.render_text()

    def _repr_html_(self) -> str:
        q, e = self.question, html.escape
        rows = []
        for a in q.answers:
            ids = ", ".join(self.candidates[i].id for i in a.codes[:3])
            more = f" +{len(a.codes) - 3}" if len(a.codes) > 3 else ""
            verdict = "passes" if a.passes == 1 else "fails" if a.passes == 0 else f"{a.passes:.0%}"
            rows.append(
                f"<tr><td>#{a.rank}</td><td>{e(ids + more)}</td><td>{a.weight:.0%}</td>"
                f"<td><code>{e(a.returned if a.returned is not None else '-')}</code></td>"
                f"<td>{verdict}</td></tr>"
            )
        call = f" with <code>{e(q.call)}</code>" if q.call else ""
        return (
            f"<div class='wb-question'><p><b>Is this test right?</b> (question {q.asked + 1} of "
            f"at most {q.budget}; the answer is worth {q.information:.2f} bits)</p>"
            f"<pre>{e(q.source)}</pre><p>What the leading candidate groups do{call}:</p>"
            "<table><tr><th>group</th><th>candidates</th><th>weight</th><th>returns</th>"
            f"<th>test</th></tr>{''.join(rows)}</table>"
            f"<p>Answer with <code>.label({q.test}, True)</code> if right, "
            f"<code>.label({q.test}, False)</code> if not.</p></div>"
        )


@dataclass
class GenerateResult:
    """What ``generate`` produced: candidates ranked by their agreement with generated tests.

    ``best`` is a candidate of the leading group; ``next_test_to_label()`` asks about the test
    that tells most, ``label(test, correct)`` records the answer and re-ranks, ``accept()``
    binds the winner in the namespace.
    """

    spec: str
    entry: str
    candidates: list[GeneratedCandidate]  # one per matrix row, in matrix order
    matrix: PassMatrix
    labeller: Labeller
    rejected: list[RejectedReply] = field(default_factory=list)
    run_id: str | None = None
    store_path: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    accepted: str | None = None
    namespace: MutableMapping[str, Any] | None = field(default=None, repr=False, compare=False)
    #: how to accept and refine it (the session run, the engine that can go on); not data
    handle: RunHandle | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._update_candidates()

    def _handle(self) -> RunHandle:
        if self.handle is None:
            self.handle = RunHandle("generate", self.run_id, self.store_path)
        self.handle.namespace = self.namespace
        return self.handle

    def refine(self, hint: str | None = None, **options: Any) -> GenerateResult:
        """Generate again with ``hint`` added to the spec (same options, labels carried over
        where the tests recur); returns the new result, recorded as a new session run."""
        return self._handle().refine(self, hint, **options)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the spec, the candidates with their groups, the tests, the labels."""
        return {
            "kind": "generate",
            "run_id": self.run_id,
            "spec": self.spec,
            "entry": self.entry,
            "candidates": [dataclasses.asdict(c) for c in self.candidates],
            "tests": list(self.tests),
            "labels": self.labels,
            "notes": list(self.notes),
            "accepted": self.accepted,
            "seconds": self.seconds,
        }

    @property
    def tests(self) -> list[str]:
        return self.matrix.tests

    @property
    def ranking(self) -> Ranking:
        return self.labeller.ranking

    @property
    def labels(self) -> dict[str, bool]:
        """The user's labels so far, by test source."""
        return {self.matrix.tests[j]: v for j, v in self.labeller.labels.items()}

    @property
    def best(self) -> GeneratedCandidate | None:
        index = self.ranking.best
        return self.candidates[index] if index is not None else None

    def leading(self, k: int = 5) -> list[list[GeneratedCandidate]]:
        """The first ``k`` groups in play, best first, as lists of candidates."""
        return [[self.candidates[i] for i in g.codes] for g in self.ranking.in_play()[:k]]

    def __getitem__(self, key: int | str) -> GeneratedCandidate:
        if isinstance(key, int):
            return self.candidates[key]
        for c in self.candidates:
            if c.id == key:
                return c
        raise KeyError(key)

    def next_test_to_label(self) -> LabelQuestion | None:
        """The test whose label best separates the leading groups, or None when done
        (``stop_reason`` says why)."""
        question = self.labeller.next_test_to_label()
        return LabelQuestion(question, self.candidates) if question is not None else None

    @property
    def stop_reason(self) -> str | None:
        return self.labeller.stop_reason

    def label(self, test: int | str, correct: bool) -> GenerateResult:
        """Record that ``test`` (its number or source) is right or wrong; saved to the session
        at once, then the candidates are re-ranked. Returns the result, for display."""
        if not isinstance(correct, (bool, np.bool_)):
            raise UsageError("label(test, correct) takes True (the test is right) or False")
        j = self.matrix.test_index(test)
        if self.run_id and self.store_path:
            store = SessionStore(self.store_path)
            store.set_label(self.run_id, self.matrix.tests[j], bool(correct))
        self.labeller.label(j, bool(correct))
        self._update_candidates()
        return self

    def accept(
        self,
        candidate: GeneratedCandidate | int | str | None = None,
        *,
        namespace: MutableMapping[str, Any] | None = None,
        new_cell: bool = True,
        bind: bool = True,
    ) -> GeneratedCandidate:
        """Bind the chosen (default: best) candidate's ``entry`` in the namespace, record it in
        the session, and offer its code as the next cell. ``bind=False`` only records the
        choice (``%wb load`` then brings its code)."""
        if candidate is None:
            chosen = self.best
            if chosen is None:
                raise UsageError(
                    "no candidate runs, so there is nothing to accept; see the notes, or "
                    "generate again with a clearer spec"
                )
        elif isinstance(candidate, GeneratedCandidate):
            chosen = candidate
        else:
            chosen = self[candidate]
        if not chosen.runs:
            raise UsageError(f"candidate {chosen.id} does not even load; accept one that runs")
        self._handle().accept(
            chosen.code,
            chosen.id,
            header=f"candidate {chosen.id}, passes {chosen.passes} of {len(self.tests)} generated tests"
            if new_cell
            else None,
            namespace=namespace,
            bind=bind,
        )
        self.accepted = chosen.id
        return chosen

    def _update_candidates(self) -> None:
        for c in self.candidates:
            c.group, c.score = None, None
        wrong = [j for j, v in self.labeller.labels.items() if not v]
        counted = self.matrix.passed.copy()
        if wrong and counted.size:
            counted[:, wrong] = False
        for rank, group in enumerate(self.ranking.in_play(), 1):
            for i in group.codes:
                self.candidates[i].group, self.candidates[i].score = rank, group.score
        for i, c in enumerate(self.candidates):
            c.passes = int(counted[i].sum()) if counted.size else 0

    # -- display --------------------------------------------------------------------------
    def _rows(self, k: int = 5) -> list[list[str]]:
        rows = []
        counted = len(self.tests) - sum(not v for v in self.labeller.labels.values())
        for rank, group in enumerate(self.leading(k), 1):
            first = group[0]
            rows.append(
                [
                    f"#{rank}",
                    f"{first.score:.4g}" if first.score is not None else "-",
                    str(sum(c.samples for c in group)),
                    f"{first.passes}/{counted}",
                    first.id + (f" +{len(group) - 1}" if len(group) > 1 else ""),
                    first.preview(self.entry),
                ]
            )
        return rows

    def _header(self) -> str:
        n_runs = sum(c.runs for c in self.candidates)
        return (
            f"generate {self.entry}: {len(self.candidates)} distinct candidate(s) "
            f"({n_runs} run), {len(self.tests)} test(s), ranked by {self.ranking.method}"
            f"{f', {len(self.labels)} label(s)' if self.labels else ''} "
            f"[session {self.run_id}, {fmt_seconds(self.seconds)}]"
        )

    def _out_of_play(self) -> str | None:
        out = sum(c.group is None for c in self.candidates)
        if not out:
            return None
        why = "do not load or contradict your labels" if self.labels else "do not load"
        return f"{out} candidate(s) out of play ({why})"

    def _footer(self) -> str:
        if self.accepted:
            return f"accepted {self.accepted}"
        if self.best is None:
            return "no candidate runs: nothing to accept"
        if self.labeller.done:
            return f"labelling done ({self.stop_reason}); take the leader with .accept()"
        return "sharpen the ranking with .next_test_to_label(), or take the leader with .accept()"

    _HEADERS = ("group", "score", "samples", "tests passed", "candidate", "preview")

    def __repr__(self) -> str:
        rows = self._rows()
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(self._HEADERS)]
        lines = [self._header(), "  ".join(h.ljust(w) for h, w in zip(self._HEADERS, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines += [f"note: {n}" for n in [self._out_of_play(), *self.notes] if n]
        lines.append(self._footer())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        head = "".join(f"<th>{e(h)}</th>" for h in self._HEADERS)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:left'>{f'<code>{e(c)}</code>' if i == 5 else e(c)}</td>"
                for i, c in enumerate(r)
            )
            + "</tr>"
            for r in self._rows()
        )
        notes = "".join(f"<p>note: {e(n)}</p>" for n in [self._out_of_play(), *self.notes] if n)
        best = self.best
        code = (
            f"<details><summary>code of the leader ({e(best.id)})</summary>"
            f"<pre>{e(best.code)}</pre></details>"
            if best is not None
            else ""
        )
        return (
            f"<div class='wb-generate'><p><b>{e(self._header())}</b></p>"
            f"<table><tr>{head}</tr>{body}</table>{notes}<p>{e(self._footer())}</p>{code}</div>"
        )


# -- the pipeline -------------------------------------------------------------------------

#: what the run does, in words, and ``{"kind": "tokens", ...}`` events as the model writes
Progress = Callable[[str | dict[str, Any]], None]


def generate(
    spec: str,
    *,
    entry: str | None = None,
    backend: Backend | None = None,
    n_codes: int = 8,
    n_tests: int = 8,
    ranker: str = "b4",
    label_budget: int = 3,
    settings: Settings | None = None,
    namespace: MutableMapping[str, Any] | None = None,
    temperature: float = 0.8,
    max_tokens: int = 512,
    seed: int | None = None,
    test_timeout: float = 0.1,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> GenerateResult:
    """Write ``entry`` from ``spec`` (a ``def`` stub with a docstring, or prose plus ``entry``).

    The model (``backend``; the embedded local model by default) samples ``n_codes``
    implementations and ``n_tests`` test completions; every candidate runs against every test
    in isolated workers (``test_timeout`` seconds per test), ``ranker`` (one of random,
    maxpass, mbr_exec, codet, b4) orders them, and the result asks for at most
    ``label_budget`` test labels. Nothing in ``namespace`` changes until ``result.accept()``.
    Setting ``stop`` while the model writes abandons the run (``LLMCancelled``).
    """
    started = time.perf_counter()
    parsed = parse_spec(spec, entry)
    if ranker not in RANKERS:
        raise UsageError(f"unknown ranker {ranker!r}; choose one of {', '.join(RANKERS)}")
    if n_codes < 1 or n_tests < 1:
        raise UsageError("n_codes and n_tests must be at least 1")
    if label_budget < 0:
        raise UsageError("label_budget must be 0 or more")
    settings = settings or get_settings()
    say = progress or (lambda message: None)
    if backend is None:
        from ..llm import get_backend

        backend = get_backend()

    store = SessionStore(settings.home)
    options = {
        "n_codes": n_codes,
        "n_tests": n_tests,
        "ranker": ranker,
        "label_budget": label_budget,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "seed": seed,
        "test_timeout": test_timeout,
        "backend": backend.kind,
        "model": backend.model,
    }
    run_id = store.new_run("generate", entry=parsed.entry, source=parsed.text, options=options)
    notes: list[str] = []
    with store.recording(run_id, notes):
        say(f"asking {backend.model} for {n_codes} implementations and {n_tests} test sets")
        ask = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "cancel": stop}
        with ThreadPoolExecutor(2) as pool:  # both requests at once: a local server batches them
            codes_job = pool.submit(
                backend.complete,
                code_messages(parsed),
                n=n_codes,
                on_token=token_events(progress, lambda i: f"code {i + 1}"),
                **ask,
            )
            tests_job = pool.submit(
                backend.complete,
                test_messages(parsed),
                n=n_tests,
                on_token=token_events(progress, lambda i: f"tests {i + 1}"),
                **ask,
            )
            with abandoned_when_stopped(notes):
                code_exchange, test_exchange = codes_job.result(), tests_job.result()
        for exchange in (code_exchange, test_exchange):
            store.add_event(run_id, "llm_exchange", exchange.to_json())
        codes, tests, rejected = _take_replies(parsed, code_exchange, test_exchange)
        for r in rejected:
            notes.append(f"{r.kind} reply {r.index + 1} was not used: {r.reason}")
        if not codes:
            notes.append("no reply held usable code: make the spec clearer, or ask for more")
        if codes and not tests:
            notes.append("no usable test came back: the ranking only sees which codes load")

        say(f"running {len(set(codes))} candidate(s) against {len(set(tests))} test(s)")
        with executor_from(settings.executor, settings.workers) as executor:
            matrix = build_pass_matrix(
                codes,
                tests,
                entry=parsed.entry,
                timeout=test_timeout,
                memory_mb=settings.memory_limit_mb,
                cache_dir=settings.home / "passmatrix",
                workers=settings.workers or os.cpu_count() or 1,
                executor=executor,
            )
        candidates = _candidates(matrix)
        for c in candidates:
            store.add_candidate(run_id, c.id, {"code": c.code, "samples": c.samples})
        store.add_event(run_id, "pass_matrix", _matrix_to_json(matrix))
        labeller = Labeller(matrix, ranker=RANKERS[ranker], budget=label_budget)
        result = GenerateResult(
            spec=parsed.text,
            entry=parsed.entry,
            candidates=candidates,
            matrix=matrix,
            labeller=labeller,
            rejected=rejected,
            run_id=run_id,
            store_path=str(store.path),
            notes=notes,
            seconds=time.perf_counter() - started,
            namespace=namespace,
        )
    again = dict(
        entry=parsed.entry,
        backend=backend,
        n_codes=n_codes,
        n_tests=n_tests,
        ranker=ranker,
        label_budget=label_budget,
        settings=settings,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        test_timeout=test_timeout,
    )
    result.handle = RunHandle("generate", run_id, str(store.path), namespace, _Refiner(spec, again))
    return result


@dataclass
class _Refiner:
    """Generates again with the user's hint (``RunHandle.refiner`` of a ``GenerateResult``)."""

    spec: str
    options: dict[str, Any]

    def refine(self, result: GenerateResult, hint: str | None, **options: Any) -> GenerateResult:
        if not hint or not hint.strip():
            raise UsageError("say what to change, e.g. result.refine('empty input returns 0')")
        spec = f"{self.spec.rstrip()}\n# also: {' '.join(hint.split())}\n"
        new = generate(spec, namespace=result.namespace, **{**self.options, **options})
        for test, correct in result.labels.items():  # answers already given still hold
            if test in new.tests and new.labeller.stop_reason is None:
                new.label(test, correct)
        return new


def _take_replies(
    spec: Spec, code_exchange: Exchange, test_exchange: Exchange
) -> tuple[list[str], list[str], list[RejectedReply]]:
    from ..llm import extract_code

    codes, tests, rejected = [], [], []
    for index, completion in enumerate(code_exchange.completions):
        extraction = extract_code(completion.text, spec.entry, arity=spec.arity)
        if not extraction.ok and completion.finish_reason == "length":
            extraction = _salvage(completion.text, spec, extraction)
        if extraction.ok:
            codes.append(extraction.code)
        else:
            rejected.append(RejectedReply("code", index, extraction.reason or "no code"))
    for index, text in enumerate(test_exchange.texts):
        found = extract_asserts(text, spec.entry)
        if found:
            tests.extend(found)
        else:
            rejected.append(
                RejectedReply("tests", index, f"no self-contained `assert {spec.entry}(...)` line")
            )
    return codes, tests, rejected


def _salvage(text: str, spec: Spec, failed: Extraction) -> Extraction:
    """A reply cut off at max_tokens often ends in a half-written example call after a whole
    function: drop its last lines until what is left gives code."""
    from ..llm import extract_code

    lines = text.splitlines()
    for cut in range(1, min(len(lines), _SALVAGE_LINES) + 1):
        extraction = extract_code("\n".join(lines[:-cut]), spec.entry, arity=spec.arity)
        if extraction.ok:
            extraction.notes.append(f"dropped {cut} unfinished line(s) at the end of the reply")
            return extraction
    return failed


def _candidates(matrix: PassMatrix) -> list[GeneratedCandidate]:
    return [
        GeneratedCandidate(
            id=candidate_id(code),
            code=code,
            samples=int(matrix.code_counts[i]),
            runs=bool(matrix.loaded[i]),
        )
        for i, code in enumerate(matrix.codes)
    ]


# -- the session record -------------------------------------------------------------------


def _matrix_to_json(matrix: PassMatrix) -> dict[str, Any]:
    return {
        "codes": matrix.codes,
        "tests": matrix.tests,
        "outcomes": matrix.outcomes.tolist(),
        "loaded": matrix.loaded.tolist(),
        "returned": matrix.returned.tolist(),
        "test_inputs": matrix.test_inputs,
        "code_counts": matrix.code_counts.tolist(),
        "test_counts": matrix.test_counts.tolist(),
        "entry": matrix.entry,
        "timeout": matrix.timeout,
        "seconds": matrix.seconds,
        "details": [[i, j, text] for (i, j), text in matrix.details.items()],
    }


def _matrix_from_json(data: dict[str, Any]) -> PassMatrix:
    n, m = len(data["codes"]), len(data["tests"])
    outcomes = np.array(data["outcomes"], dtype="<U7").reshape(n, m)
    returned = np.full((n, m), None, dtype=object)
    for i, row in enumerate(data["returned"]):
        for j, value in enumerate(row):
            returned[i, j] = value
    return PassMatrix(
        codes=list(data["codes"]),
        tests=list(data["tests"]),
        passed=outcomes == "passed",
        outcomes=outcomes,
        loaded=np.array(data["loaded"], dtype=bool).reshape(n),
        returned=returned,
        test_inputs=list(data["test_inputs"]),
        code_counts=np.array(data["code_counts"], dtype=np.int64).reshape(n),
        test_counts=np.array(data["test_counts"], dtype=np.int64).reshape(m),
        entry=data["entry"],
        timeout=float(data["timeout"]),
        seconds=float(data["seconds"]),
        details={(i, j): text for i, j, text in data["details"]},
    )


def load_generate_result(
    run_id: str,
    home: str | None = None,
    *,
    namespace: MutableMapping[str, Any] | None = None,
) -> GenerateResult:
    """Rebuild a ``GenerateResult`` from the session database, labels included (nothing runs
    again: the pass matrix was stored)."""
    store = SessionStore(home or get_settings().home)
    data = store.run(run_id)
    if data["kind"] != "generate":
        raise UsageError(f"session {run_id} is a {data['kind']} run, not a generate run")
    stored = [e["data"] for e in store.events(run_id) if e["kind"] == "pass_matrix"]
    if not stored:
        raise UsageError(
            f"session {run_id} ended before its candidates were run ({data['status']}); "
            "generate again"
        )
    matrix = _matrix_from_json(stored[-1])
    options = data.get("options") or {}
    ranker = RANKERS.get(options.get("ranker", "b4"), RANKERS["b4"])
    labeller = Labeller(matrix, ranker=ranker, budget=int(options.get("label_budget", 3)))
    for test, correct in data["labels"].items():
        if correct is not None and test in matrix.tests:
            labeller.label(test, correct)  # in turn, so the budget counts them
    return GenerateResult(
        spec=data["source"],
        entry=data["entry"],
        candidates=_candidates(matrix),
        matrix=matrix,
        labeller=labeller,
        run_id=run_id,
        store_path=str(store.path),
        notes=data.get("notes") or [],
        accepted=data.get("accepted"),
        namespace=namespace,
    )
