"""``visualize``: VisPath for the notebook. A plotting request becomes K reformulated paths,
a script per path, each executed to a PNG in an isolated worker and checked on its figure
object; the model then aggregates the paths and their feedback into a final script.

The data is described to the model (schema and a few rows), never sent whole. It reaches the
worker pickled by the kernel (trusted); what comes back (PNG bytes, figure facts) is read
from files and decoded with ``_wire``, never unpickled.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import os
import pickle
import re
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .._errors import UsageError
from .._settings import Settings, get_settings
from ..llm._types import LLMCancelled, abandoned_when_stopped, token_events
from ..store import RunHandle, SessionStore
from . import _checks

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CAP = 8 * 2**20  # bytes of PNG read back from a worker
SCRIPT_TIMEOUT = 60.0  # seconds for one plotting script, matplotlib import included
SAMPLE_ROWS = 5
DATA_FILE_CAP = 200 * 2**20  # bytes: a bigger file is summarised by the user first
DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".pq")
EXPECTATIONS_MAX_TOKENS = 120

CRITIQUE_MAX_TOKENS = 300
CRITIQUE_CAP = 1500  # characters of critique kept and fed back

SYSTEM_PLOTTER = (
    "You are an expert data visualisation engineer. You write short, correct Python scripts "
    "with matplotlib (pandas and numpy are available)."
)

SYSTEM_REVIEWER = (
    "You review charts for a data scientist. You look at the image and say briefly and "
    "concretely what a reader would find wrong or missing."
)

# interpretations used when the model proposes fewer than K
_DEFAULT_INTERPRETATIONS = (
    "the most direct chart for the request: pick the chart type that fits the data best",
    "a comparison view: bars or grouped bars that make differences between groups easy to read",
    "a trend view: lines over the ordered or time-like column, one line per group",
    "a distribution view: histograms or box plots of the numeric columns involved",
    "small multiples: one subplot per group with shared axes",
)

_KNOWN_IMPORTS = {
    "plt": "import matplotlib.pyplot as plt",
    "matplotlib": "import matplotlib",
    "np": "import numpy as np",
    "pd": "import pandas as pd",
    "mdates": "import matplotlib.dates as mdates",
    "ticker": "import matplotlib.ticker as ticker",
    "cm": "from matplotlib import cm",
}


# -- data description --------------------------------------------------------------------------
def describe_data(data: Any, name: str = "df", rows: int = SAMPLE_ROWS) -> str:
    """Schema and a few rows of ``data`` for the model: never the whole data."""
    if data is None:
        return (
            "No data is given: the script makes its own data, as the request describes it. "
            "Seed any randomness (np.random.seed(0) or np.random.default_rng(0)) so the plot "
            "is reproducible."
        )
    kind = type(data)
    module = kind.__module__.split(".")[0]
    if module == "pandas" and kind.__name__ == "DataFrame":
        columns = "\n".join(f"  {col!s}: {dtype}" for col, dtype in data.dtypes.items())
        return (
            f"`{name}` is a pandas DataFrame with {len(data)} rows and these columns:\n"
            f"{columns}\nFirst {min(rows, len(data))} rows:\n{data.head(rows).to_string()}"
        )
    if module == "pandas" and kind.__name__ == "Series":
        return (
            f"`{name}` is a pandas Series named {data.name!r} of dtype {data.dtype} with "
            f"{len(data)} values, index {data.index.dtype}. First values:\n"
            f"{data.head(rows).to_string()}"
        )
    if isinstance(data, dict):
        lines = [f"`{name}` is a dict with {len(data)} keys:"]
        for key, value in list(data.items())[:30]:
            lines.append(f"  {key!r}: {_describe_value(value, rows)}")
        return "\n".join(lines)
    if module == "numpy" and hasattr(data, "shape"):
        return f"`{name}` is a {_describe_value(data, rows)}"
    if isinstance(data, (list, tuple)):
        return f"`{name}` is a {_describe_value(data, rows)}"
    return f"`{name}` is a {kind.__name__}: {_short_repr(data)}"


def _describe_value(value: Any, rows: int) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        head = np.array2string(value[:rows], threshold=rows * 8, precision=4)
        return f"numpy array, shape {value.shape}, dtype {value.dtype}, first: {head}"
    if type(value).__name__ == "DataFrame":
        columns = ", ".join(f"{c!s}: {t}" for c, t in value.dtypes.items())
        return (
            f"pandas DataFrame with {len(value)} rows, columns {columns}; first rows:\n"
            f"{value.head(min(rows, 3)).to_string()}"
        )
    if isinstance(value, (list, tuple)):
        items = ", ".join(_short_repr(v, 40) for v in value[:rows])
        return f"{type(value).__name__} of {len(value)} items, first: [{items}]"
    return f"{type(value).__name__}: {_short_repr(value)}"


def _short_repr(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_data(path: str | os.PathLike[str]) -> Any:
    """A data file (CSV, TSV, JSON, JSON lines, Parquet) read by pandas in the kernel, or a
    folder of them as a dict of DataFrames keyed by file name."""
    from pathlib import Path

    import pandas as pd

    source = Path(path).expanduser()
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in DATA_SUFFIXES)
        if not files:
            raise UsageError(f"{source} holds no CSV, JSON or Parquet file to plot")
        return {p.name: load_data(p) for p in files[:10]}
    if not source.is_file():
        raise UsageError(f"no data file {str(source)!r}: give a CSV, JSON or Parquet path")
    if source.stat().st_size > DATA_FILE_CAP:
        raise UsageError(
            f"{source} is over {DATA_FILE_CAP // 2**20} MB: load and summarise it in a cell, "
            "then pass the DataFrame with --data NAME"
        )
    suffix = source.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(source)
        if suffix == ".tsv":
            return pd.read_csv(source, sep="\t")
        if suffix == ".jsonl":
            return pd.read_json(source, lines=True)
        if suffix == ".json":
            try:
                return pd.read_json(source)
            except ValueError:
                import json

                return json.loads(source.read_text())  # a nested document: plotted as a dict
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(source)
    except ImportError as exc:
        raise UsageError(f"reading {source.name} needs a package that is missing: {exc}") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{source.name} could not be read as {suffix[1:]}: {_one_line(exc)}"
        ) from None
    raise UsageError(f"{source.name}: a data file must be CSV, TSV, JSON, JSON lines or Parquet")


def _is_data_path(data: Any) -> bool:
    return isinstance(data, os.PathLike) or (
        isinstance(data, str) and ("/" in data or data.lower().endswith(DATA_SUFFIXES))
    )


def _load_line(data_name: str, source: str) -> str:
    """The statement that loads ``source`` as ``data_name`` in an accepted cell."""
    suffix = os.path.splitext(source)[1].lower()
    reader = {
        ".tsv": f"pd.read_csv({source!r}, sep='\\t')",
        ".json": f"pd.read_json({source!r})",
        ".jsonl": f"pd.read_json({source!r}, lines=True)",
        ".parquet": f"pd.read_parquet({source!r})",
        ".pq": f"pd.read_parquet({source!r})",
    }.get(suffix, f"pd.read_csv({source!r})")
    return f"import pandas as pd\n{data_name} = {reader}\n"


# -- figure facts ------------------------------------------------------------------------------
@dataclass
class FigureFacts:
    """What running a script produced and what the checks found on its figure."""

    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    n_figures: int = 0
    axes: list[dict[str, Any]] = field(default_factory=list)
    suptitle: str = ""
    png_bytes: int = 0
    stdout: str = ""
    figure_legends: list[dict[str, Any]] = field(default_factory=list)
    overflowing_texts: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # what the request asks of the figure
    unmet: list[str] = field(default_factory=list)  # which of those it does not show

    @property
    def executed(self) -> bool:
        """The script ran to the end and a figure was saved."""
        return self.error is None and self.png_bytes > 0

    @property
    def series(self) -> int:
        return sum(int(a.get("series", 0)) for a in self.axes)

    @property
    def problems(self) -> list[str]:
        """What a reader would find wrong, one short sentence each (empty: checks pass)."""
        return _checks.figure_findings(self)

    @property
    def passed(self) -> bool:
        return self.executed and not self.problems and not self.unmet

    def score(self, has_code: bool = True) -> tuple[int, ...]:
        """Higher is better: ran, then fewer unmet expectations, then fewer findings."""
        return _checks.score(self.executed, has_code, len(self.problems), len(self.unmet))

    def summary(self) -> str:
        """One line for tables and the HTML view."""
        if self.error is not None:
            return "error: " + self.error.splitlines()[-1][:120]
        met = f"; {len(self.expected)} expectation(s) met" if self.expected else ""
        if self.passed:
            return f"ok: {self.series} series on {len(self.axes)} axes{met}"
        return "; ".join([*self.problems, *self.unmet])

    def feedback(self) -> str:
        """The execution facts as the model reads them."""
        if self.error is not None:
            hints = [f"Hint: {h}." for h in _checks.error_hints(self.error)]
            return "\n".join(["Running the script failed:", self.error, *hints])
        lines = [
            f"The script ran and drew {self.series} series on {len(self.axes)} axes "
            f"({self.n_figures} figure(s))."
        ]
        lines += [f"- {p}" for p in self.problems] or ["- all figure checks pass"]
        if self.expected:
            lines.append("What the request asks of the figure:")
            lines += [f"- not met: {u}" for u in self.unmet] or [
                f"- met: {e}" for e in self.expected
            ]
        lines += [f"- warning: {w}" for w in self.warnings[:3]]
        return "\n".join(lines)

    @classmethod
    def from_worker(cls, data: Any, png_bytes: int) -> FigureFacts:
        if not isinstance(data, dict):
            return cls(error="the worker sent no readable facts", png_bytes=png_bytes)
        axes = [a for a in data.get("axes", []) if isinstance(a, dict)]
        return cls(
            error=data.get("error") if isinstance(data.get("error"), str) else None,
            warnings=[w for w in data.get("warnings", []) if isinstance(w, str)],
            n_figures=int(data.get("n_figures", 0) or 0),
            axes=axes,
            suptitle=str(data.get("suptitle", "") or ""),
            png_bytes=png_bytes,
            stdout=str(data.get("stdout", "") or ""),
            figure_legends=[g for g in data.get("figure_legends", []) if isinstance(g, dict)],
            overflowing_texts=[t for t in data.get("overflowing_texts", []) if isinstance(t, str)],
        )


# -- execution ---------------------------------------------------------------------------------
def render_script(
    script: str,
    data: Any,
    data_name: str = "df",
    *,
    settings: Settings | None = None,
    timeout: float = SCRIPT_TIMEOUT,
    dpi: int = 80,
) -> tuple[bytes | None, FigureFacts]:
    """Run ``script`` with ``data`` bound to ``data_name`` in an isolated worker.

    Returns the PNG bytes (None when no figure was saved) and the figure facts. A failing,
    hanging or memory-hungry script gives facts with an ``error``, never an exception.
    """
    from ..execute import executor_from
    from ..sandbox import Limits

    settings = settings or get_settings()
    try:
        data_bytes = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise UsageError(
            f"the data {data_name!r} cannot be pickled for the plotting worker ({exc}): "
            "pass a DataFrame, NumPy arrays or a dict of them"
        ) from None
    limits = Limits(
        timeout=min(timeout, settings.timeout),
        memory_mb=settings.memory_limit_mb,
        disk_mb=settings.disk_limit_mb,
        output_cap=settings.output_cap,
    )
    job = PlotJob(script, data_bytes, data_name, dpi, limits, settings.hardened)
    with executor_from(settings.executor, settings.workers) as executor:
        png, facts = executor.submit(job).result()
    if png is None and facts.error is None and facts.n_figures:
        facts.error = "the figure could not be saved as PNG"
    return png, facts


@dataclass
class PlotJob:
    """One plotting script in a sandboxed worker: data in, the PNG and its facts out."""

    script: str
    data: bytes  # pickled
    data_name: str
    dpi: int
    limits: Any
    hardened: bool = False
    kind: str = "verify"
    gpu: bool = False

    def run(self, on_phase: Any = None) -> tuple[bytes | None, FigureFacts]:
        from ..execute import verification_slot
        from ..sandbox._channel import Channel, WorkerGone
        from ..sandbox._wire import WireError

        job = {"script": self.script, "data_name": self.data_name, "dpi": self.dpi}
        with (
            verification_slot() as register,
            Channel(
                "workbench.sandbox._plot_worker", self.limits, hardened=self.hardened
            ) as channel,
        ):
            worker = channel.worker
            register(worker)
            try:
                channel.send_bytes(
                    pickle.dumps({**job, "data": pickle.loads(self.data)}, pickle.HIGHEST_PROTOCOL)
                )
                answer = channel.recv()
            except WorkerGone:
                worker.process.wait()
                if worker.verdict is not None:
                    return None, FigureFacts(
                        error=f"the script was stopped: {worker.verdict.reason}"
                    )
                tail = worker.output_tail().strip()[-1500:]
                return None, FigureFacts(
                    error=f"the plotting worker {worker.exit_description()}"
                    + (f":\n{tail}" if tail else "")
                )
            except WireError as exc:
                return None, FigureFacts(error=f"the worker's facts do not decode: {exc}")
        if not isinstance(answer, dict) or not isinstance(answer.get("facts"), dict):
            return None, FigureFacts(error="the plotting worker sent something else than facts")
        png = answer.get("png")
        if not isinstance(png, bytes) or len(png) > PNG_CAP or not png.startswith(PNG_SIGNATURE):
            png = None  # whatever the script wrote there, it is not our figure
        return png, FigureFacts.from_worker(answer["facts"], len(png or b""))


# -- prompts and parsing -----------------------------------------------------------------------
def reformulate_messages(request: str, description: str, k: int) -> list[dict[str, str]]:
    """Ask for K distinct interpretations of an under-specified plotting request."""
    user = (
        f"The data:\n{description}\n\nThe plotting request: {request}\n\n"
        f"The request can be read in several ways. Propose {k} DISTINCT interpretations, each "
        "fixing the chart type, which columns go on which axis or colour, and what to "
        f"emphasise. Answer with exactly {k} numbered lines and nothing else, each as\n"
        "N. short-name: one or two sentences describing the chart"
    )
    return [
        {"role": "system", "content": SYSTEM_PLOTTER},
        {"role": "user", "content": user},
    ]


_NUMBERED = re.compile(r"^\s*(?:[-*]\s*)?\(?(\d{1,2})[.):]\s*(.+?)\s*$")


def parse_interpretations(reply: str, k: int) -> list[str]:
    """K distinct interpretations from a numbered reply; defaults fill what is missing."""
    found: list[str] = []
    for line in (reply or "").splitlines():
        match = _NUMBERED.match(line)
        if not match:
            continue
        text = re.sub(r"\*\*|__|`", "", match.group(2)).strip()
        if len(text) >= 8 and text.lower() not in {f.lower() for f in found}:
            found.append(text[:400])
    for default in _DEFAULT_INTERPRETATIONS:
        if len(found) >= k:
            break
        found.append(default)
    return found[:k]


def _rules(data_name: str, has_data: bool = True, expected: list[str] | None = None) -> str:
    must = "The figure must show: " + "; ".join(expected) + ".\n" if expected else ""
    data = (
        f"the variable `{data_name}` already holds the data; do not create, load or "
        f"overwrite `{data_name}`, and read no file."
        if has_data
        else "make the data in the script, seeded so that it is reproducible."
    )
    # the groupby example only where there is a table to group: without data, small models
    # copied it into scripts that had no `df` and failed
    groups = (
        "(for name, g in df.groupby(col): ax.plot(..., label=name))"
        if has_data
        else "(one plotting call per series, each with label=...)"
    )
    return (
        f"{must}Rules: {data} Import what you use (import matplotlib.pyplot as plt). Draw "
        "ONE figure with a title, axis labels, and a legend when there are several series; "
        f"draw each group as its own series {groups}, never one line through all groups; "
        "rotate or thin crowded tick labels. "
        "Do not call plt.show() or savefig. Answer with one ```python block."
    )


def path_script_messages(
    request: str,
    interpretation: str,
    description: str,
    data_name: str,
    *,
    has_data: bool = True,
    expected: list[str] | None = None,
) -> list[dict[str, str]]:
    """Ask for the script of one path."""
    user = (
        f"The data:\n{description}\n\nThe plotting request: {request}\n"
        f"Interpretation to draw: {interpretation}\n\n{_rules(data_name, has_data, expected)}"
    )
    return [
        {"role": "system", "content": SYSTEM_PLOTTER},
        {"role": "user", "content": user},
    ]


def aggregate_messages(
    request: str,
    paths: list[PlotAttempt],
    description: str,
    data_name: str,
    *,
    has_data: bool = True,
    expected: list[str] | None = None,
) -> list[dict[str, str]]:
    """Ask for one final script that takes the best of the paths and fixes their problems."""
    parts = [f"The data:\n{description}\n\nThe plotting request: {request}\n"]
    parts.append(f"{len(paths)} attempts were made, each with feedback:")
    for i, path in enumerate(paths, 1):
        parts.append(
            f"Attempt {i} ({path.interpretation}):\n```python\n{path.code or '# no code'}\n```\n"
            f"Feedback:\n{path.feedback_text()}"
        )
    parts.append(
        "Write the final script: keep what works best for the request, combine the good ideas, "
        f"and fix every problem in the feedback. {_rules(data_name, has_data, expected)}"
    )
    return [
        {"role": "system", "content": SYSTEM_PLOTTER},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def refine_script_messages(
    request: str,
    attempt: PlotAttempt,
    description: str,
    data_name: str,
    hint: str | None = None,
    *,
    has_data: bool = True,
    expected: list[str] | None = None,
) -> list[dict[str, str]]:
    """Ask for a corrected script from one attempt, its feedback and the user's words."""
    parts = [
        f"The data:\n{description}\n\nThe plotting request: {request}",
        f"The current script:\n```python\n{attempt.code or '# no code'}\n```",
        f"Feedback:\n{attempt.feedback_text()}",
    ]
    if hint:
        parts.append(f"The user asks: {hint}")
    parts.append(
        "Rewrite the whole script so that it does this. " + _rules(data_name, has_data, expected)
    )
    return [
        {"role": "system", "content": SYSTEM_PLOTTER},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def critique_messages(
    request: str, png: bytes, interpretation: str | None = None
) -> list[dict[str, Any]]:
    """Ask a vision model to judge the image against the request, in a few bullet points."""
    from ..llm._types import image_part, text_part

    aim = f"\nThe chart was meant to show: {interpretation}" if interpretation else ""
    text = (
        f"This chart was drawn for the plotting request: {request}{aim}\n\n"
        "Judge the image against the request: is it readable (text size, overlapping or "
        "crowded labels, clutter)? Are the title, axis labels, units and legend present and "
        "right? Does it show what was asked? Answer with at most 4 short bullet points, most "
        "important first, each naming a concrete fix; answer '- looks good' if nothing needs "
        "changing."
    )
    return [
        {"role": "system", "content": SYSTEM_REVIEWER},
        {"role": "user", "content": [text_part(text), image_part(png)]},
    ]


def extract_script(
    reply: str, data_name: str = "df", *, protect: bool = True
) -> tuple[str | None, list[str]]:
    """The plotting script in ``reply``, cleaned: (code or None, notes on what was changed).

    Module-level statements are the script here, so this keeps them (``extract_code`` drops
    them as example calls); it removes ``plt.show()`` and lines that rebind ``data_name`` (the
    model invents data when unsure) and adds the usual imports.
    """
    import ast

    from ..llm._extract import _THINK, _candidate_blocks, _parse

    text = _THINK.sub("", reply or "").strip()
    blocks = [b for b in (_parse(s) for s in _candidate_blocks(text)) if b.tree is not None]
    if not blocks:
        return None, ["the reply holds no parseable Python code"]
    plotting = [b for b in blocks if re.search(r"\b(plt|matplotlib|\.plot\()", b.source)]
    chosen = (plotting or blocks)[-1]
    tree = chosen.tree
    lines = chosen.source.splitlines()
    notes: list[str] = []
    drop: set[int] = set()
    for node in tree.body:  # type: ignore[union-attr]
        if _is_show_call(node):
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            notes.append("removed plt.show()")
        elif protect and _rebinds(node, data_name):
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            notes.append(f"removed a line that overwrote {data_name}")
    code = "\n".join(line for i, line in enumerate(lines, 1) if i not in drop).strip()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None, [*notes, "the script does not parse after cleaning"]
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    bound = {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    missing = [stmt for name, stmt in _KNOWN_IMPORTS.items() if name in loaded - bound]
    if missing:
        code = "\n".join([*missing, code])
        notes.append("added " + "; ".join(missing))
    if not code.strip():
        return None, [*notes, "the script is empty"]
    return code + "\n", notes


def _is_show_call(node: Any) -> bool:
    import ast

    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "show"
        and isinstance(node.value.func.value, ast.Name)
        and node.value.func.value.id in {"plt", "pyplot"}
    )


def _rebinds(node: Any, name: str) -> bool:
    import ast

    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    return isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == name


# -- results -----------------------------------------------------------------------------------
@dataclass
class PlotAttempt:
    """One script, its picture and what was found about it (a path, the final, a refinement)."""

    id: str
    interpretation: str
    code: str | None
    png: bytes | None
    facts: FigureFacts
    reply: str = ""
    notes: list[str] = field(default_factory=list)
    critique: str | None = None  # the vision model's words, when the backend sees images
    hint: str | None = None  # the user's words that led to this attempt
    critique_error: str | None = None  # why the vision model gave no critique (plot kept)

    @property
    def passed(self) -> bool:
        return self.code is not None and self.facts.passed

    def score(self) -> tuple[int, ...]:
        """Higher is better (see ``_checks.score``)."""
        return self.facts.score(self.code is not None)

    def feedback_text(self) -> str:
        """Everything known about this attempt, as the model reads it."""
        parts = [self.facts.feedback()]
        if self.critique:
            parts.append(f"A reviewer looking at the image says: {self.critique}")
        if self.hint:
            parts.append(f"The user asked for: {self.hint}")
        return "\n".join(parts)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> PlotAttempt:
        """An attempt as the session stored it (``to_record``)."""
        names = {f.name for f in dataclasses.fields(FigureFacts)}
        facts = FigureFacts(**{k: v for k, v in (data.get("facts") or {}).items() if k in names})
        png = data.get("png_base64")
        return cls(
            id=data["id"],
            interpretation=data.get("interpretation", ""),
            code=data.get("code"),
            png=base64.b64decode(png) if png else None,
            facts=facts,
            notes=list(data.get("notes") or []),
            critique=data.get("critique"),
            hint=data.get("hint"),
            critique_error=data.get("critique_error"),
        )

    def to_record(self) -> dict[str, Any]:
        """What the session stores (the PNG as base64)."""
        return {
            "id": self.id,
            "interpretation": self.interpretation,
            "code": self.code,
            "png_base64": base64.b64encode(self.png).decode() if self.png else None,
            "facts": asdict(self.facts),
            "passed": self.passed,
            "feedback": self.feedback_text(),
            "notes": self.notes,
            "critique": self.critique,
            "critique_error": self.critique_error,
            "hint": self.hint,
        }


@dataclass
class _Context:
    """What an attempt needs to be made again: the run's request, data and model."""

    request: str
    data: Any
    data_name: str
    description: str
    backend: Any
    settings: Settings
    store_path: str
    run_id: str
    max_tokens: int
    temperature: float
    seed: int | None
    has_data: bool = True
    schema: _checks.Schema = field(default_factory=_checks.Schema)
    expectations: list[_checks.Expectation] = field(default_factory=list)
    data_source: str | None = None  # the file the data was read from

    @property
    def expected(self) -> list[str]:
        return [e.text() for e in self.expectations]


@dataclass
class VisualizeResult:
    """K paths (reformulated request, code, PNG, facts, feedback) and the aggregated plot."""

    request: str
    data_name: str
    paths: list[PlotAttempt]
    final: PlotAttempt | None
    rounds: list[PlotAttempt] = field(default_factory=list)  # refinements of the final
    aggregated: PlotAttempt | None = None  # the script written from the paths, before repairs
    run_id: str = ""
    store_path: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data_source: str | None = None  # the file the data was read from, if any
    namespace: MutableMapping[str, Any] | None = field(default=None, repr=False)
    #: how to accept and refine it (the session run, the model and data); not data
    handle: RunHandle | None = field(default=None, repr=False, compare=False)

    def _handle(self) -> RunHandle:
        if self.handle is None:
            self.handle = RunHandle("visualize", self.run_id or None, self.store_path or None)
        self.handle.namespace = self.namespace if self.namespace is not None else _user_namespace()
        return self.handle

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the request, every attempt as the session stores it, the notes."""
        return {
            "kind": "visualize",
            "run_id": self.run_id,
            "request": self.request,
            "data_name": self.data_name,
            "paths": [p.to_record() for p in self.paths],
            "final": self.final.to_record() if self.final is not None else None,
            "rounds": [r.to_record() for r in self.rounds],
            "notes": list(self.notes),
            "seconds": self.seconds,
        }

    def _choose(self, which: int | str | None) -> PlotAttempt:
        if which is None:
            if self.final is not None and self.final.facts.executed:
                return self.final
            ranked = sorted(
                (p for p in self.paths if p.code),
                key=lambda p: (not p.passed, not p.facts.executed, len(p.facts.problems)),
            )
            if not ranked:
                raise UsageError("no path produced code: refine the request and run it again")
            return ranked[0]
        if which == "final":
            if self.final is None:
                raise UsageError("there is no final plot: accept a path by its number instead")
            return self.final
        if isinstance(which, int) and 0 <= which < len(self.paths):
            return self.paths[which]
        raise UsageError(f"choose a path number 0..{len(self.paths) - 1} or 'final', not {which!r}")

    def accept(self, path_or_final: int | str | None = None, *, new_cell: bool = True) -> str:
        """Offer the chosen script as the next cell and run it in the user namespace.

        ``None`` takes the final plot when it ran (else the best path); an int picks a path.
        ``new_cell=False`` offers no cell (a button click has no cell to add one after).
        Returns the code.
        """
        chosen = self._choose(path_or_final)
        if chosen.code is None:
            raise UsageError(f"{chosen.id} has no code to accept: pick another path")
        code = chosen.code
        if self.data_source is not None:  # the data came from a file: the cell reads it itself
            code = _load_line(self.data_name, self.data_source) + code
        handle = self._handle()
        handle.accept(
            code,
            chosen.id,
            header=chosen.id if new_cell else None,
            bind=handle.namespace is not None,
        )
        return code

    def refine(self, hint: str, path: int | str | None = None) -> VisualizeResult:
        """Ask the model to change a plot (the final by default) the way ``hint`` says.

        Returns a new result whose final is the refined plot; the paths stay.
        """
        if not hint or not hint.strip():
            raise UsageError("say what to change, e.g. result.refine('log scale, larger font')")
        return self._handle().refine(self, hint, path=path)

    # -- display -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        lines = [f"visualize {self.request!r}: {len(self.paths)} path(s)"]
        for p in self.paths:
            lines.append(f"  [{p.id}] {p.facts.summary()} | {p.interpretation[:70]}")
        if self.final is not None:
            lines.append(f"  [final] {self.final.facts.summary()}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(_attempt_html(p, f"Path {i}") for i, p in enumerate(self.paths))
        parts = [
            f"<div class='wb-visualize'><h4>visualize: {html.escape(self.request)}</h4>",
            "<div style='display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start'>",
            cells,
            "</div>",
        ]
        if self.final is not None:
            parts.append(
                "<h4>Aggregated plot</h4><div style='display:flex'>"
                + _attempt_html(self.final, "Final", width="60%")
                + "</div>"
            )
        if self.notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
            parts.append(f"<ul>{items}</ul>")
        parts.append(
            "<p style='color:#666'>result.accept() puts the final script in the next cell and "
            "runs it; result.accept(i) takes path i; result.refine('log scale, larger font') "
            "asks for changes.</p></div>"
        )
        return "".join(parts)


def _attempt_html(attempt: PlotAttempt, title: str, width: str = "31%") -> str:
    mark = "&#10004;" if attempt.passed else ("&#9888;" if attempt.facts.executed else "&#10008;")
    image = (
        f"<img src='data:image/png;base64,{base64.b64encode(attempt.png).decode()}' "
        "style='max-width:100%'/>"
        if attempt.png
        else "<div style='padding:2em;background:#f5f5f5'>no image</div>"
    )
    problems = attempt.facts.problems
    facts = (
        "<ul style='margin:0;padding-left:1.2em'>"
        + "".join(f"<li>{html.escape(p)}</li>" for p in problems)
        + "</ul>"
        if problems
        else f"<div>{html.escape(attempt.facts.summary())}</div>"
    )
    if attempt.facts.expected and attempt.facts.executed:
        unmet = attempt.facts.unmet
        met = len(attempt.facts.expected) - len(unmet)
        facts += (
            f"<div class='wb-expected'><i>the request asks for:</i> {met} of "
            f"{len(attempt.facts.expected)} shown<ul style='margin:0;padding-left:1.2em'>"
            + "".join(f"<li style='color:#a40'>{html.escape(u)}</li>" for u in unmet)
            + "</ul></div>"
        )
    critique = ""
    if attempt.critique:
        critique = (
            "<div><i>critique (vision model):</i><div style='white-space:pre-wrap'>"
            f"{html.escape(attempt.critique)}</div></div>"
        )
    elif attempt.critique_error:
        critique = (
            "<div style='color:#a60'><i>no critique:</i> "
            f"{html.escape(attempt.critique_error)}</div>"
        )
    code = html.escape(attempt.code or "# no code: " + "; ".join(attempt.notes))
    return (
        f"<div style='flex:0 0 {width};border:1px solid #ddd;padding:6px'>"
        f"<b>{mark} {html.escape(title)}</b> <small>({html.escape(attempt.id)})</small>"
        f"<div style='font-size:90%;color:#333'>{html.escape(attempt.interpretation)}</div>"
        f"{image}<div style='font-size:85%'>{facts}{critique}</div>"
        f"<details><summary>code</summary><pre style='font-size:80%'>{code}</pre></details>"
        "</div>"
    )


def _user_namespace() -> MutableMapping[str, Any] | None:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell.user_ns if shell is not None else None


# -- the engine --------------------------------------------------------------------------------
def critique_image(
    backend: Any,
    png: bytes | None,
    request: str,
    *,
    interpretation: str | None = None,
    seed: int | None = None,
    on_exchange: Callable[[Any], None] | None = None,
) -> str | None:
    """A vision model's critique of the image, or None when the backend sees no images.

    Errors of the call (``LLMError``: timeout, a server refusing images) propagate; the caller
    decides what a missing critique means. ``on_exchange`` receives the exchange (to store it).
    """
    if png is None or not getattr(backend, "supports_images", False):
        return None
    exchange = backend.complete(
        critique_messages(request, png, interpretation),
        max_tokens=CRITIQUE_MAX_TOKENS,
        temperature=0.2,
        seed=seed,
    )
    if on_exchange is not None:
        on_exchange(exchange)
    text = (exchange.texts[0] if exchange.texts else "").strip()
    return text[:CRITIQUE_CAP] or None


def _ask(
    ctx: _Context,
    messages: list[dict[str, str]],
    stream: str,
    emit: Progress | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """The model's reply; ``emit`` sees its text arrive under the name ``stream``; setting
    ``cancel`` abandons it (``LLMCancelled``)."""
    exchange = ctx.backend.complete(
        messages,
        max_tokens=ctx.max_tokens,
        temperature=ctx.temperature,
        seed=ctx.seed,
        on_token=token_events(emit, stream),
        cancel=cancel,
    )
    _store_exchange(ctx, exchange)
    return exchange.texts[0] if exchange.texts else ""


def _ask_short(
    ctx: _Context,
    messages: list[dict[str, str]],
    stream: str,
    emit: Progress | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """A short, near-deterministic answer (the expectations)."""
    exchange = ctx.backend.complete(
        messages,
        max_tokens=EXPECTATIONS_MAX_TOKENS,
        temperature=0.0,
        seed=ctx.seed,
        on_token=token_events(emit, stream),
        cancel=cancel,
    )
    _store_exchange(ctx, exchange)
    return exchange.texts[0] if exchange.texts else ""


def _store_exchange(ctx: _Context, exchange: Any) -> None:
    # images go in as their sha256: the attempt's record already holds the PNG
    SessionStore(ctx.store_path).add_event(ctx.run_id, "llm_exchange", exchange.to_json())


def _critique(
    ctx: _Context, png: bytes | None, interpretation: str
) -> tuple[str | None, str | None]:
    """(critique, why there is none): a failing vision call must not cost the plot."""
    try:
        critique = critique_image(
            ctx.backend,
            png,
            ctx.request,
            interpretation=interpretation,
            seed=ctx.seed,
            on_exchange=lambda exchange: _store_exchange(ctx, exchange),
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the reviewer leaves the plot as is
        return None, f"the vision model's critique failed: {_one_line(exc)}"
    return critique, None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _attempt(
    ctx: _Context, attempt_id: str, interpretation: str, reply: str, hint: str | None = None
) -> PlotAttempt:
    code, notes = extract_script(reply, ctx.data_name, protect=ctx.has_data)
    if code is None:
        facts = FigureFacts(error="no usable script: " + "; ".join(notes))
        return PlotAttempt(attempt_id, interpretation, None, None, facts, reply, notes, hint=hint)
    png, facts = render_script(code, ctx.data, ctx.data_name, settings=ctx.settings)
    facts.expected = ctx.expected
    facts.unmet = _checks.unmet(ctx.expectations, facts, ctx.schema)
    critique, critique_error = _critique(ctx, png, interpretation)
    return PlotAttempt(
        attempt_id,
        interpretation,
        code,
        png,
        facts,
        reply,
        notes,
        critique=critique,
        hint=hint,
        critique_error=critique_error,
    )


def _refine_attempt(
    ctx: _Context,
    base: PlotAttempt,
    attempt_id: str,
    hint: str | None,
    emit: Progress | None = None,
    cancel: threading.Event | None = None,
) -> PlotAttempt:
    messages = refine_script_messages(
        ctx.request,
        base,
        ctx.description,
        ctx.data_name,
        hint,
        has_data=ctx.has_data,
        expected=ctx.expected,
    )
    reply = _ask(ctx, messages, f"repairs {base.id}", emit, cancel)
    return _attempt(ctx, attempt_id, base.interpretation, reply, hint=hint)


def load_visualize_result(
    run_id: str, home: str | None = None, *, namespace: MutableMapping[str, Any] | None = None
) -> VisualizeResult:
    """Rebuild a ``VisualizeResult`` from the session database (nothing runs again)."""
    store = SessionStore(home or get_settings().home)
    data = store.run(run_id)
    if data["kind"] != "visualize":
        raise UsageError(f"session {run_id} is a {data['kind']} run, not a visualize run")
    attempts = [PlotAttempt.from_record(c) for c in data.get("candidates", [])]
    paths = [a for a in attempts if a.id.startswith("path")]
    finals = [a for a in attempts if not a.id.startswith("path")]
    rounds = [a for a in finals if a.id.startswith("refine")]
    final = next((a for a in reversed(finals) if a.id == data.get("accepted")), None)
    return VisualizeResult(
        request=data["source"] or "",
        data_name=data.get("entry") or "df",
        paths=paths,
        # as the run chose: the user's last refinement, else the best-scoring final or
        # repair (the earliest of equals: a repair replaces only when it scores better)
        final=final or (rounds[-1] if rounds else max(finals, key=PlotAttempt.score, default=None)),
        rounds=rounds,
        run_id=run_id,
        store_path=str(store.path),
        notes=data.get("notes") or [],
        namespace=namespace,
    )


@dataclass
class _Refiner:
    """Draws a plot again with the user's words (``RunHandle.refiner`` of a result)."""

    context: _Context

    def refine(
        self, result: VisualizeResult, hint: str | None, path: Any = None
    ) -> VisualizeResult:
        base = result._choose(path)
        attempt = _refine_attempt(self.context, base, f"refine-{len(result.rounds) + 1}", hint)
        _record_attempt(self.context, attempt)
        return replace(result, final=attempt, rounds=[*result.rounds, attempt])


def _better_path(ctx: _Context, aggregated: PlotAttempt, paths: list[PlotAttempt]) -> PlotAttempt:
    """The aggregated script, or a path's that scores better on the checks (recorded as a
    final of its own): small models' aggregations often break a script that ran."""
    best = max(paths, key=PlotAttempt.score, default=None)
    if best is None or best.score() <= aggregated.score():
        return aggregated
    kept = replace(best, id=f"final-{best.id}", notes=[*best.notes])
    _record_attempt(ctx, kept)
    return kept


def _record_attempt(ctx: _Context, attempt: PlotAttempt) -> None:
    SessionStore(ctx.store_path).add_candidate(ctx.run_id, attempt.id, attempt.to_record())


#: what the run does, in words, and ``{"kind": "tokens", ...}`` events as the model writes
Progress = Callable[[str | dict[str, Any]], None]


def visualize(
    request: str,
    *,
    data: Any = None,
    data_name: str = "df",
    backend: Any = None,
    paths: int = 3,
    refine_rounds: int = 1,
    aggregate: bool = True,
    expect: bool = True,
    settings: Settings | None = None,
    namespace: MutableMapping[str, Any] | None = None,
    max_tokens: int = 700,
    temperature: float = 0.7,
    seed: int | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> VisualizeResult:
    """Plot ``data`` as ``request`` asks, along ``paths`` reformulated interpretations.

    ``data`` is a DataFrame, arrays, a dict, or the path of a CSV/JSON/Parquet file (read
    here); without it (and without ``data_name`` in ``namespace``) the scripts make their own
    data, seeded. The request's expectations of the figure are read from its words and, with
    ``expect``, proposed by the model and kept when the request or the data backs them.
    Each path's script runs in an isolated worker (``data`` bound to ``data_name``), is saved
    as a PNG and checked on its figure object and against the expectations; with
    ``aggregate`` the model then writes a final script from the paths and their feedback,
    repaired up to ``refine_rounds`` times while its checks fail; the best-scoring of these
    is the final. Nothing in ``namespace`` changes until ``result.accept()``.
    Setting ``stop`` keeps the paths already drawn and skips the rest; set while the paths
    are written, it abandons the run (``LLMCancelled``).
    """
    started = time.perf_counter()
    if not request or not request.strip():
        raise UsageError("say what to plot, e.g. visualize('revenue by month', data=df)")
    if not data_name.isidentifier():
        raise UsageError(f"data_name must be a Python name, not {data_name!r}")
    if paths < 1:
        raise UsageError("paths must be at least 1")
    if refine_rounds < 0:
        raise UsageError("refine_rounds must be 0 or more")
    if data is None and namespace is not None and data_name in namespace:
        data = namespace[data_name]
    data_source = None
    if _is_data_path(data):
        data_source = os.fspath(data)
        data = load_data(data_source)
    settings = settings or get_settings()
    say = progress or (lambda message: None)
    if backend is None:
        from ..llm import get_backend

        backend = get_backend()
    request = request.strip()
    store = SessionStore(settings.home)
    options = {
        "paths": paths,
        "refine_rounds": refine_rounds,
        "aggregate": aggregate,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": seed,
        "backend": backend.kind,
        "model": backend.model,
        "vision": bool(getattr(backend, "supports_images", False)),  # plots were critiqued
        "data": data_source or ("given" if data is not None else "made by the script"),
    }
    run_id = store.new_run("visualize", entry=data_name, source=request, options=options)
    ctx = _Context(
        request=request,
        data=data,
        data_name=data_name,
        description=describe_data(data, data_name),
        backend=backend,
        settings=settings,
        store_path=str(store.path),
        run_id=run_id,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        has_data=data is not None,
        schema=_checks.Schema.of(data),
        data_source=data_source,
    )
    notes: list[str] = []
    with store.recording(run_id, notes):
        say(f"asking {backend.model} for {paths} interpretations")
        with abandoned_when_stopped(notes):
            interpretations = (
                parse_interpretations(
                    _ask(
                        ctx,
                        reformulate_messages(request, ctx.description, paths),
                        "interpretations",
                        progress,
                        stop,
                    ),
                    paths,
                )
                if paths > 1
                else [request]
            )
            store.add_event(run_id, "interpretations", {"paths": interpretations})
            wanted = _checks.from_request(request, ctx.schema)
            if expect:
                say("asking what the figure must show")
                reply = _ask_short(
                    ctx,
                    _checks.expectations_messages(request, ctx.schema, SYSTEM_PLOTTER),
                    "expectations",
                    progress,
                    stop,
                )
                _checks.parse_expectations(reply, request, ctx.schema, wanted)
            ctx.expectations = wanted.items
            store.add_event(
                run_id,
                "expectations",
                {
                    "expected": [{**asdict(e), "text": e.text()} for e in wanted.items],
                    "dropped": wanted.dropped,
                },
            )
            say(f"writing and running {paths} script(s)")

            def make_path(index: int) -> PlotAttempt:
                messages = path_script_messages(
                    request,
                    interpretations[index],
                    ctx.description,
                    data_name,
                    has_data=ctx.has_data,
                    expected=ctx.expected,
                )
                reply = _ask(ctx, messages, f"path {index}", progress, stop)
                return _attempt(ctx, f"path-{index}", interpretations[index], reply)

            workers = max(1, min(paths, os.cpu_count() or 1, 4))
            with ThreadPoolExecutor(workers) as pool:
                made = list(pool.map(make_path, range(paths)))
        for attempt in made:
            _record_attempt(ctx, attempt)
        final: PlotAttempt | None = None
        aggregated: PlotAttempt | None = None
        rounds: list[PlotAttempt] = []
        try:
            if aggregate and not (stop is not None and stop.is_set()):
                say("aggregating the paths into a final script")
                messages = aggregate_messages(
                    request,
                    made,
                    ctx.description,
                    data_name,
                    has_data=ctx.has_data,
                    expected=ctx.expected,
                )
                reply = _ask(ctx, messages, "final", progress, stop)
                final = aggregated = _attempt(ctx, "final", "aggregated from the paths", reply)
                _record_attempt(ctx, final)
                final = _better_path(ctx, final, made)
                for round_no in range(1, refine_rounds + 1):
                    if final.passed:
                        break
                    say(f"repair round {round_no}: {final.facts.summary()}")
                    # repair the best so far: a worse repair is never the base of the next
                    repaired = _refine_attempt(
                        ctx, final, f"final-r{round_no}", None, progress, stop
                    )
                    _record_attempt(ctx, repaired)
                    rounds.append(repaired)
                    if repaired.score() > final.score():
                        final = repaired
        except LLMCancelled:
            pass
        if final is not None and final.id.startswith("final-path"):
            notes.append(
                f"the final is {final.id.removeprefix('final-')}'s script: the aggregated "
                "script and its repairs did not score better on the checks"
            )
        elif rounds and final is not None and final is not rounds[-1]:
            notes.append(
                f"kept {final.id}: the repairs after it did not score better on the checks"
            )
        if stop is not None and stop.is_set():
            notes.append("stopped by the user: the plots drawn so far are kept, the rest skipped")
        if not any(p.facts.executed for p in made) and (final is None or not final.facts.executed):
            notes.append("no script ran: look at the errors, then refine the request")
        result = VisualizeResult(
            request=request,
            data_name=data_name,
            paths=made,
            final=final,
            rounds=rounds,
            aggregated=aggregated,
            run_id=run_id,
            store_path=str(store.path),
            notes=notes,
            seconds=time.perf_counter() - started,
            namespace=namespace,
            data_source=data_source,
            handle=RunHandle("visualize", run_id, str(store.path), namespace, _Refiner(ctx)),
        )
    return result
