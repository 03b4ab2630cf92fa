"""IPython magics: thin layers over the public API. Imported only by ``%load_ext workbench``."""

from __future__ import annotations

import os
import shlex
import sys
from datetime import datetime
from typing import Any

from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ._errors import LLMError, UsageError, WorkbenchError
from ._settings import configure, get_settings
from .optimizer._engine import optimize
from .optimizer._render import fmt_speedup


def _lookup(ns: dict[str, Any], name: str, option: str) -> Any:
    if name not in ns:
        raise UsageError(
            f"{option} {name}: no variable {name!r} in the notebook; define it in a cell above first"
        )
    return ns[name]


class _Printer:
    """One line per finished candidate (or message), where no progress widget can be drawn."""

    def __init__(self) -> None:
        self.out = sys.stdout

    def __call__(self, event: dict[str, Any] | str) -> None:
        if isinstance(event, str):  # generate and visualize say what they do in words
            print(event, file=self.out, flush=True)
            return
        kind = event["kind"]
        if kind == "generate":
            round_ = event.get("round", 0)
            print(
                f"workbench: {event.get('strategy', '?')} is writing candidates"
                + (f" (refinement round {round_})" if round_ else "")
                + "...",
                file=self.out,
                flush=True,
            )
        elif kind == "reference":
            print(
                "workbench: timing the reference, then checking the candidates one by one...",
                file=self.out,
                flush=True,
            )
        elif kind == "done":
            c = event["candidate"]
            what = fmt_speedup(c) if c.status == "passed" else c.reason
            print(
                f"  [{event['index'] + 1}/{event['total']}] {c.strategy:<24} {c.status:<8} {what}",
                file=self.out,
                flush=True,
            )


def _widgets_shown() -> bool:
    """A kernel whose front end can draw widgets (set WORKBENCH_PROGRESS=text for lines)."""
    from .views._display import widget_frontend

    return os.environ.get("WORKBENCH_PROGRESS", "").lower() != "text" and widget_frontend()


def _with_progress(title: str, function: Any, *args: Any, counting: bool = True, **kw: Any) -> Any:
    """``function(*args, progress=..., stop=..., **kw)`` with the progress widget and its
    Stop button where widgets are drawn, printed lines elsewhere. ``counting``: the run
    counts candidates (``optimize``) rather than saying its steps in words."""
    if not _widgets_shown():
        return function(*args, progress=_Printer(), **kw)
    from .views._progress import Progress

    def call(progress: Any, stop: Any) -> Any:
        return function(*args, progress=progress, stop=stop, **kw)

    return Progress(title=title, counting=counting).run_in_cell(call)


@magics_class
class WorkbenchMagics(Magics):
    @magic_arguments()
    @argument(
        "--inputs",
        metavar="NAME",
        help="function n -> tuple of arguments, or (n, seed) -> tuple (or a list of argument"
        " tuples); without it, --example, else the function's last call in this notebook",
    )
    @argument(
        "--example",
        metavar="CALL",
        help='one real call, in quotes, e.g. --example "f(X, k=3)": its arguments from the'
        " notebook are the timing input; smaller and generated inputs are derived from them",
    )
    @argument(
        "--tests", metavar="NAME[,NAME...]", help="test functions to run against every candidate"
    )
    @argument(
        "--strategies",
        metavar="S[,S...]",
        help="candidate generators: numba, llm, cupy (default: numba, or cupy for --target cupy,"
        " plus llm when a model is available); 'none' runs only --candidates",
    )
    @argument(
        "--candidates", metavar="NAME", help="variable holding a code string or a list of them"
    )
    @argument(
        "--entry", metavar="NAME", help="the function to optimize when the cell defines several"
    )
    @argument(
        "--rtol",
        type=float,
        help="relative tolerance for floating-point results (default by dtype)",
    )
    @argument(
        "--atol",
        type=float,
        help="absolute tolerance for floating-point results (default by dtype)",
    )
    @argument(
        "--allow-lower-precision",
        action="store_true",
        help="let a candidate return float32 where your function returns float64 (flagged)",
    )
    @argument(
        "--time-budget",
        type=float,
        metavar="S",
        help="seconds of timed calls per candidate (default 2)",
    )
    @argument(
        "--sizes",
        metavar="N[,N...]",
        help="input sizes to verify on; the largest is the timing size",
    )
    @argument(
        "--target",
        default="cpu",
        choices=("cpu", "cupy", "numba-cuda"),
        help="where the candidates run: cpu (default), cupy or numba-cuda (GPU)",
    )
    @argument(
        "--rounds",
        type=int,
        metavar="N",
        help="rounds of LLM refinement with the results as feedback (default 2 with an LLM)",
    )
    @argument("--hint", metavar="TEXT", help="your advice for the LLM's next round, in quotes")
    @argument(
        "--search",
        default="rounds",
        choices=("rounds", "tree"),
        help="rounds (default): refine the best and failed ones round by round; tree: grow a"
        " candidate tree from the fastest verified ones until --budget candidates",
    )
    @argument(
        "--budget",
        type=int,
        metavar="N",
        help="tree search: candidates in all (default 20)",
    )
    @argument(
        "--stress",
        action="store_true",
        help="also time the passed candidates on the input shape (sorted, duplicate-heavy) that"
        " slows the reference most",
    )
    @argument("--accept", action="store_true", help="bind the best verified candidate right away")
    @line_cell_magic
    def optimize(self, line: str, cell: str | None = None) -> Any:
        """Make the function in this cell faster without changing its results.

        As a line magic, ``%optimize f(X, k=3) [options]`` optimizes the notebook's ``f`` on
        that call's arguments (as ``--example``).

        The cell runs as usual (its function is defined), then candidates (Numba variants,
        LLM-written ones along several reasoning paths when a model is available — see
        ``%wb llm`` — and any you give) each run in an isolated process, are checked against
        the cell's function on inputs of several sizes and by your tests, and the ones that
        pass are timed against it. Nothing in your namespace changes until you accept one:
        ``res = _`` then ``res.accept()``, or ``--accept``.

        Example::

            %%optimize --inputs make_inputs
            def pairwise_dist(X): ...
        """
        ns = self.shell.user_ns
        try:
            call = None
            if cell is None:  # %optimize f(X, k=3) [options]
                call, line = _split_call(line)
            args = parse_argstring(self.optimize, line)
            if call is not None:
                if args.example:
                    raise UsageError("%optimize f(...) is the example already: drop --example")
                subject: Any = _lookup(ns, _called_name(call), "%optimize")
                args.example = call
            else:
                if not cell.strip():
                    raise UsageError(
                        "the cell is empty: put the function to optimize below %%optimize"
                    )
                subject = cell
            inputs = _lookup(ns, args.inputs, "--inputs") if args.inputs else None
            tests = (
                [_lookup(ns, n.strip(), "--tests") for n in args.tests.split(",")]
                if args.tests
                else None
            )
            candidates = _lookup(ns, args.candidates, "--candidates") if args.candidates else ()
            if args.strategies is None:
                strategies = _default_strategies(args.target)
            elif args.strategies.strip().lower() in ("none", ""):
                strategies = []
            else:
                strategies = args.strategies
            sizes = _int_list(args.sizes, "--sizes") if args.sizes else None
            if cell is not None:
                ran = self.shell.run_cell(cell, store_history=False, silent=True)
                if not ran.success:
                    raise UsageError(
                        "the cell itself raised an error (shown above): fix it, then run %%optimize again"
                    )
            result = _with_progress(
                "%%optimize",
                optimize,
                subject,
                inputs=inputs,
                example=args.example,
                stress=args.stress,
                tests=tests,
                strategies=strategies,
                candidates=candidates,
                entry=args.entry,
                rtol=args.rtol,
                atol=args.atol,
                precision="any" if args.allow_lower_precision else "same",
                time_budget=args.time_budget,
                sizes=sizes,
                target=args.target,
                # a tree without --rounds grows as deep as its budget lets it
                rounds=args.rounds
                or (2 if strategies and "llm" in strategies and args.search != "tree" else 1),
                hint=args.hint,
                search=args.search,
                candidate_budget=args.budget,
                namespace=ns,
            )
            if args.accept and result.best is not None:
                result.accept()
            elif args.accept:
                result.notes.append(
                    "--accept: no candidate is significantly faster than yours; nothing was "
                    "bound (res.accept(ID) takes any passed one)"
                )
            return result
        except (UsageError, LLMError) as exc:  # one line, no traceback
            raise IPythonUsageError(str(exc)) from None

    @magic_arguments()
    @argument(
        "--n-codes", type=int, default=8, metavar="N", help="implementations to sample (default 8)"
    )
    @argument(
        "--n-tests", type=int, default=8, metavar="N", help="test completions to sample (default 8)"
    )
    @argument(
        "--ranker",
        default="b4",
        choices=("b4", "codet", "mbr_exec", "maxpass"),
        help="how candidates are ranked by their agreement with the tests (default b4)",
    )
    @argument("--entry", metavar="NAME", help="the function's name, when the spec is prose")
    @argument(
        "--labels",
        type=int,
        default=3,
        metavar="N",
        help="at most N tests to ask you about (default 3)",
    )
    @argument("--accept", action="store_true", help="bind the leading candidate right away")
    @cell_magic
    def generate(self, line: str, cell: str) -> Any:
        """Write a function from a spec: a signature with a docstring, or prose with --entry.

        The model writes several implementations and several tests; each implementation runs
        against each test in an isolated process; the implementations are ranked by how they
        agree with the tests (B4 by default), and you are asked about the few tests whose
        answer tells most about which implementation is right. Answer with
        ``res = _`` then ``res.label(test, True/False)``; accept with ``res.accept()``.

        Example::

            %%generate --n-codes 6
            def count_vowels(s: str) -> int:
                \"\"\"Number of vowels (a, e, i, o, u, either case) in s.\"\"\"
        """
        args = parse_argstring(self.generate, line)
        try:
            if not cell.strip():
                raise UsageError(
                    "the cell is empty: write the function's signature and docstring below %%generate"
                )
            from .generator._engine import generate

            result = _with_progress(
                "%%generate",
                generate,
                cell,
                counting=False,
                entry=args.entry,
                n_codes=args.n_codes,
                n_tests=args.n_tests,
                ranker=args.ranker,
                label_budget=args.labels,
                namespace=self.shell.user_ns,
            )
        except (UsageError, LLMError) as exc:  # one line, no traceback
            raise IPythonUsageError(str(exc)) from None
        if args.accept and result.best is not None:
            result.accept()
            return result
        from .views._display import widget_frontend

        question = result.next_test_to_label()
        if question is not None and not widget_frontend():  # the labeller asks it itself
            from IPython.display import display

            display(result)
            display(question)
            return None
        return result

    @magic_arguments()
    @argument(
        "--data",
        metavar="NAME|FILE",
        default=None,
        help="the variable to plot (DataFrame, arrays, dict) or a CSV/JSON/Parquet file; "
        "described to the model, never sent whole (default: df if defined, else the script "
        "makes its own data)",
    )
    @argument(
        "--paths",
        type=int,
        default=3,
        metavar="K",
        help="interpretations of the request (default 3)",
    )
    @argument(
        "--refine-rounds",
        type=int,
        default=1,
        metavar="N",
        help="rounds of repair while the figure checks fail (default 1)",
    )
    @argument(
        "--no-aggregate", action="store_true", help="skip the final script that combines the paths"
    )
    @cell_magic
    def visualize(self, line: str, cell: str) -> Any:
        """Draw a plot from a request in words, along several interpretations (VisPath).

        The model reformulates the request into K interpretations (chart type, encoding,
        emphasis) and writes a script for each; every script runs in an isolated process and
        is drawn to a PNG; the figure is checked (errors, empty axes, missing labels or legend,
        groups joined into one line, series drawn alike, legend entries, cut or overlapping labels,
        log-worthy ranges) and held against what the request asks for; a final script combines
        the paths and is repaired while checks fail, keeping the best-scoring attempt. Then ``res = _``; ``res.refine("log scale, larger font")``;
        ``res.accept()`` (or ``res.accept(1)`` for path 1) puts the code in a new cell and runs it.

        Without ``--data`` the scripts use ``df`` when it is defined, else make their own
        (seeded) data; ``--data sales.csv`` reads a CSV, JSON or Parquet file.

        Example::

            %%visualize --data df
            monthly revenue by region, highlight the region that grew fastest
        """
        args = parse_argstring(self.visualize, line)
        ns = self.shell.user_ns
        try:
            if not cell.strip():
                raise UsageError("the cell is empty: describe the plot you want below %%visualize")
            from .visualizer._engine import _is_data_path, visualize

            data, data_name = None, "df"
            if args.data is not None:
                name = args.data.strip("'\"")
                if name.isidentifier() and name in ns:
                    data_name = name
                elif _is_data_path(name) or os.path.exists(name):
                    data = name  # read by the engine, described like a DataFrame
                else:
                    raise UsageError(
                        f"--data {name}: no variable {name!r} in the notebook and no such file; "
                        "define it in a cell above, or give a CSV, JSON or Parquet path"
                    )
            return _with_progress(
                "%%visualize",
                visualize,
                cell.strip(),
                counting=False,
                data=data,
                data_name=data_name,
                namespace=ns,
                paths=args.paths,
                refine_rounds=args.refine_rounds,
                aggregate=not args.no_aggregate,
            )
        except (UsageError, LLMError) as exc:
            raise IPythonUsageError(str(exc)) from None

    @line_magic
    def wb(self, line: str) -> Any:
        """Workbench configuration and sessions.

        %wb sessions          list the saved sessions (runs) in this directory
        %wb show ID           show a saved session's results
        %wb resume ID         bring a saved session back (then: res = _; res.accept())
        %wb load [ID]         replace this cell with the code you accepted (in the newest
                              session, or session ID), as %load does; run it to keep it
        %wb llm               the active LLM backend, model, endpoint and tokens used
        %wb llm local         the embedded model (the default when installed)
        %wb llm openai --base-url URL --model M --api-key-env VAR [--vision]
                              any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp);
                              --vision: the model takes images (%%visualize critiques plots)
        %wb llm replay PATH   serve recorded exchanges (reproducible demos)
        %wb llm off           no LLM
        %wb config            show the settings
        %wb config NAME=VALUE [NAME=VALUE ...]
                              change settings, e.g. %wb config memory_limit_mb=8192 time_budget=5
        """
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise IPythonUsageError(f"%wb: {exc}") from None
        command, rest = (words[0], words[1:]) if words else ("help", [])
        try:
            if command == "sessions":
                return _sessions_table()
            if command in ("show", "resume"):
                if len(rest) != 1:
                    raise UsageError(f"%wb {command} takes one session id: see %wb sessions")
                return _load_any(rest[0], self.shell.user_ns if command == "resume" else None)
            if command == "load":
                if len(rest) > 1:
                    raise UsageError("%wb load takes at most one session id: see %wb sessions")
                from .store._sessions import SessionStore

                run_id, candidate, code = SessionStore(get_settings().home).accepted(
                    rest[0] if rest else None
                )
                self.shell.set_next_input(
                    f"# accepted from workbench session {run_id}: {candidate}\n{code}",
                    replace=True,
                )
                return None
            if command == "llm":
                return _llm_command(rest)
            if command == "config":
                if not rest:
                    return _settings_table()
                changes = {}
                for item in rest:
                    if "=" not in item:
                        raise UsageError(f"%wb config: write NAME=VALUE, not {item!r}")
                    key, value = item.split("=", 1)
                    changes[key.strip()] = value.strip()
                configure(**changes)
                return _settings_table()
            if command == "help":
                print(self.wb.__doc__)
                return None
            raise UsageError(
                f"%wb: unknown command {command!r}; try sessions, show ID, resume ID, load,"
                " llm, config"
            )
        except WorkbenchError as exc:
            raise IPythonUsageError(str(exc)) from None


def _llm_command(words: list[str]) -> Any:
    from .llm import describe_backend, set_backend

    if not words:
        return _Text(describe_backend())
    kind, rest = words[0], words[1:]
    options: dict[str, Any] = {}
    if kind == "replay":
        if len(rest) != 1:
            raise UsageError("%wb llm replay takes the path of a recorded exchanges file")
        options["path"] = rest[0]
    else:
        while rest:
            flag = rest.pop(0)
            if flag == "--vision":  # a switch: the model takes images
                options["vision"] = True
                continue
            if not flag.startswith("--") or not rest:
                raise UsageError(f"%wb llm {kind}: write options as --name value, not {flag!r}")
            options[flag[2:].replace("-", "_")] = rest.pop(0)
    set_backend(kind, **options)
    return _Text(describe_backend())


class _Text(str):
    def __repr__(self) -> str:
        return str(self)


def _split_call(line: str) -> tuple[str, str]:
    """``f(X, k=3) --opt ...`` -> the call and the options (the call may hold ``--``)."""
    import ast

    text = line.strip()
    if not text:
        raise UsageError(
            "%optimize needs an example call, e.g. %optimize f(X, k=3) (or use %%optimize on a cell)"
        )
    cuts = [
        i
        for i in range(len(text))
        if text.startswith("--", i) and (i == 0 or text[i - 1].isspace())
    ]
    for cut in [*cuts, len(text)]:
        head = text[:cut].strip()
        try:
            node = ast.parse(head, mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return head, text[cut:]
    raise UsageError(
        f"%optimize {text.split(' --')[0]!r}: write one call of the function, e.g. %optimize f(X, k=3)"
    )


def _called_name(call: str) -> str:
    return call.split("(", 1)[0].strip()


def _default_strategies(target: str) -> list[str]:
    """Mechanical candidates for the target, plus the LLM's when one is available."""
    from .llm import llm_available

    base = {"cpu": ["numba"], "cupy": ["cupy"], "numba-cuda": []}[target]
    return [*base, "llm"] if llm_available() else base


def _load_any(run_id: str, namespace: dict[str, Any] | None) -> Any:
    """A saved run of any kind, rebuilt from the session database."""
    from ._load import load

    return load(run_id, namespace=namespace)


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(
            f"{option} takes whole numbers separated by commas, e.g. {option} 10,100,1000"
        ) from None
    if not values or min(values) < 0:
        raise UsageError(f"{option} takes non-negative whole numbers")
    return values


class _Table:
    def __init__(self, headers: list[str], rows: list[list[str]], title: str) -> None:
        self.headers, self.rows, self.title = headers, rows, title

    def __repr__(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
            for i, h in enumerate(self.headers)
        ]
        lines = [self.title, "  ".join(h.ljust(w) for h, w in zip(self.headers, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in self.rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r)
            + "</tr>"
            for r in self.rows
        )
        return f"<p><b>{html.escape(self.title)}</b></p><table><tr>{head}</tr>{body}</table>"


def _sessions_table() -> _Table:
    from .store._sessions import SessionStore

    store = SessionStore(get_settings().home)
    rows = [
        [
            r["id"],
            r["kind"],
            r["entry"] or "",
            r["status"],
            str(r["candidates"]),
            r["accepted"] or "",
            r.get("inputs") or "",
            datetime.fromtimestamp(r["created"]).strftime("%Y-%m-%d %H:%M"),
        ]
        for r in store.runs()
    ]
    return _Table(
        ["id", "kind", "entry", "status", "candidates", "accepted", "inputs", "created"],
        rows,
        f"{len(rows)} session(s) in {store.path}",
    )


def _settings_table() -> _Table:
    import dataclasses

    settings = get_settings()
    rows = [[f.name, str(getattr(settings, f.name))] for f in dataclasses.fields(settings)]
    return _Table(["setting", "value"], rows, "workbench settings")


def register(ipython: Any) -> None:
    ipython.register_magics(WorkbenchMagics)
    from .views._display import register_display

    # results show as their widget views where a front end draws widgets, else as tables
    register_display(ipython)
