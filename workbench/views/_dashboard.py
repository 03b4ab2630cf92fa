"""Standalone dashboard (Panel): any saved session database in a browser.

``%%optimize`` runs show their candidates, code and timings; ``%%generate`` runs show the test
labeller (the same ``LabellingModel`` as the notebook's), whose answers are saved in the
database at once; ``read_only`` hides its buttons. ``workbench dashboard [SESSION_DB]`` calls
``main_dashboard``; ``serve_dashboard`` is the same from Python.
"""

from __future__ import annotations

import argparse
import datetime
import html
from pathlib import Path
from typing import Any

from .._errors import UsageError, WorkbenchError, require
from ..optimizer._engine import load_result
from ..optimizer._render import fmt_seconds
from ..store._sessions import SessionStore
from ._html import code_html, detail_html, diff_html, legend_html, recorded_html
from ._labeller import LabellingModel
from ._model import ExplorerModel, build_model


def _session_path(db_path: str | Path) -> Path:
    path = Path(db_path)
    path = path / "sessions.db" if path.is_dir() else path
    if not path.is_file():
        raise UsageError(
            f"no session database at {path}: give the sessions.db file (or the .workbench "
            "folder beside your notebook)"
        )
    return path


def _run_label(run: dict[str, Any]) -> str:
    when = datetime.datetime.fromtimestamp(run["created"]).strftime("%Y-%m-%d %H:%M")
    accepted = f", accepted {run['accepted']}" if run["accepted"] else ""
    inputs = f"inputs: {run['inputs']} · " if run.get("inputs") else ""
    return (
        f"{when} · {run['kind']} {run['entry'] or ''} · {run['candidates']} candidate(s) · {inputs}"
        f"{run['status']}{accepted} · {run['id']}"
    )


_COLUMNS = ("candidate", "made by", "result", "median", "reason")


def _candidate_rows(model: ExplorerModel) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {column: [] for column in _COLUMNS}
    for node in model.nodes():
        rows["candidate"].append(node.id)
        rows["made by"].append(("  " * node.depth) + node.label.split(" · ")[0])
        rows["result"].append(("★ accepted, " if node.accepted else "") + node.status_text)
        rows["median"].append(fmt_seconds(node.timing.median) if node.timing else "-")
        rows["reason"].append(node.reason)
    return rows


def _labelling_panel(pn: Any, db_path: Path, run_id: str, read_only: bool) -> Any:
    """The test labeller for one generate run: the question, Right / Wrong / Skip, the ranking
    and the pass matrix; each answer goes to the session database at once."""
    from ..generator._engine import load_generate_result
    from ._matrix_plot import legend_html as matrix_legend_html
    from ._matrix_plot import matrix_figure

    try:
        result = load_generate_result(run_id, str(db_path))
    except WorkbenchError as exc:
        return pn.pane.HTML(f"<p>{html.escape(str(exc))}</p>", sizing_mode="stretch_width")
    model = LabellingModel(result)
    question = pn.pane.HTML(sizing_mode="stretch_width", css_classes=["wb-question"])
    message = pn.pane.HTML(sizing_mode="stretch_width", css_classes=["wb-message"])
    ranking = pn.pane.HTML(sizing_mode="stretch_width", css_classes=["wb-ranking"])
    matrix = pn.Column(sizing_mode="stretch_width")

    def button(name: str, kind: str, tooltip: str, action: Any) -> Any:
        made = pn.widgets.Button(
            label=name,
            color=kind,
            description=tooltip,
            css_classes=[f"wb-{name.lower()}"],
            width=110,
        )
        made.on_click(lambda _event: (action(), draw()))
        return made

    right = button("Right", "success", "the test is right", lambda: model.answer(True))
    wrong = button("Wrong", "danger", "the test is wrong", lambda: model.answer(False))
    skip = button("Skip", "default", "not sure: ask another test", model.skip)
    accept = button(
        "Accept",
        "primary",
        "record the leading candidate as your choice; %wb load in the notebook brings its code",
        lambda: model.accept(bind=False),
    )

    def draw() -> None:
        for b in (right, wrong, skip):
            b.disabled = not model.asking
        accept.disabled = result.best is None
        prompt = model.prompt_html()
        if read_only:
            prompt = prompt.replace(
                "Press <b>Accept</b> to take the leading candidate",
                "Accept the leading candidate in the notebook: <code>%wb resume "
                f"{html.escape(run_id)}</code>, then <code>_.accept()</code>",
            )
        question.object = prompt
        message.object = model.message
        ranking.object = model.ranking_html()
        matrix.objects = [pn.pane.HTML(matrix_legend_html()), pn.pane.Bokeh(matrix_figure(result))]

    draw()
    if read_only:
        note = (
            "<div style='color:#57606a'>read-only: start the dashboard without --read-only "
            "to answer.</div>"
        )
        controls = pn.pane.HTML(note)
    else:
        controls = pn.Row(right, wrong, skip, accept)
    return pn.Column(
        pn.pane.HTML(model.intro_html(), sizing_mode="stretch_width"),
        question,
        controls,
        message,
        ranking,
        matrix,
        sizing_mode="stretch_width",
        css_classes=["wb-labeller"],
    )


def dashboard_app(db_path: str | Path, *, read_only: bool = False) -> Any:
    """The Panel layout for one session database (build one per browser session).
    ``read_only`` shows the labelling questions of generate runs without answer buttons."""
    pn = require("panel", "ui", "the dashboard")
    import pandas as pd

    from ._timing_plot import timing_figure

    path = _session_path(db_path)
    store = SessionStore(path)
    kinds = ("optimize", "generate")
    runs = [r for r in store.runs() if r["kind"] in kinds][::-1]  # newest first
    mode = (
        "read-only"
        if read_only
        else "your labels and the candidates you accept are saved in it at once"
    )
    header = pn.pane.HTML(
        f"<h2 style='margin:0'>Workbench sessions</h2><div style='color:#57606a'>{store.path}"
        f" ({mode}). Pick a run: an %%optimize run shows its candidates (pick one in the table "
        "to see its code), a %%generate run asks you about its tests. <b>Accept</b> records "
        "your choice; <code>%wb load</code> in the notebook then brings its code.</div>",
        sizing_mode="stretch_width",
    )
    if not runs:
        return pn.Column(
            header, pn.pane.HTML("<p>No %%optimize or %%generate runs saved here yet.</p>")
        )
    run_select = pn.widgets.Select(
        label="Run", options={_run_label(r): r["id"] for r in runs}, width=900
    )
    kind_of = {r["id"]: r["kind"] for r in runs}
    table = pn.widgets.Tabulator(
        pd.DataFrame({column: [] for column in _COLUMNS}),
        disabled=True,
        selectable=1,
        show_index=False,
        sizing_mode="stretch_width",
        css_classes=["wb-candidates"],
    )
    detail = pn.pane.HTML(sizing_mode="stretch_width", css_classes=["wb-detail-pane"])
    diff = pn.pane.HTML(sizing_mode="stretch_width")
    code = pn.pane.HTML(sizing_mode="stretch_width")
    plot = pn.Column(sizing_mode="stretch_width")
    accept = pn.widgets.Button(
        label="Accept",
        color="success",
        description="record this candidate as your choice; %wb load in the notebook brings its code",
        css_classes=["wb-accept"],
        width=110,
        visible=not read_only,
    )
    message = pn.pane.HTML(sizing_mode="stretch_width", css_classes=["wb-message"])
    state: dict[str, Any] = {}

    def show_candidate(candidate_id: str | None) -> None:
        model = state["model"]
        state["selected"] = candidate_id
        accept.disabled = True
        message.object = ""
        if candidate_id is None:
            detail.object = "<i>this run has no candidates</i>"
            diff.object = code.object = ""
            return
        node = model.node(candidate_id)
        accept.disabled = node.status != "passed" or node.accepted
        if node.status != "passed" and not read_only:
            message.object = (
                "<span style='color:#57606a'>it did not pass, so it cannot be accepted</span>"
            )
        detail.object = detail_html(node, model)
        against = "the reference" if node.diff_against == "reference" else node.diff_against
        diff.object = f"<div>changes against {against}:</div>" + diff_html(node.diff)
        code.object = code_html(node.code)

    def show_run(run_id: str) -> None:
        if kind_of[run_id] == "generate":
            body.objects = [_labelling_panel(pn, path, run_id, read_only)]
            return
        body.objects = optimize_view
        model = build_model(store.run(run_id))
        state["model"], state["run"] = model, run_id
        table.value = pd.DataFrame(_candidate_rows(model))
        nodes = model.nodes()
        timed = any(node.timing for node in nodes)
        plot.objects = [pn.pane.Bokeh(timing_figure(model))] if timed else []
        best = [n for n in nodes if n.accepted] or [
            n for n in nodes if n.status == "passed" and n.speedup
        ]
        first = max(best, key=lambda n: n.speedup or 0).id if best else None
        first = first or (nodes[0].id if nodes else None)
        table.selection = [i for i, n in enumerate(nodes) if n.id == first]
        show_candidate(first)

    def on_selection(event: Any) -> None:
        if event.new:
            show_candidate(table.value["candidate"].iloc[event.new[0]])

    def on_accept(_event: Any) -> None:
        run_id, chosen = state["run"], state["selected"]
        try:  # records the choice only: the dashboard's server runs no candidate code
            load_result(run_id, str(path)).accept(chosen, bind=False)
        except WorkbenchError as exc:
            message.object = f"<span style='color:#cf222e'>{html.escape(str(exc))}</span>"
            return
        show_run(run_id)  # the table marks it accepted, and it stays selected
        message.object = f"<span style='color:#1a7f37'>{recorded_html(chosen, run_id)}</span>"

    accept.on_click(on_accept)

    optimize_view = [
        pn.pane.HTML(legend_html()),
        table,
        pn.Row(
            pn.Column(detail, pn.Row(accept, message), sizing_mode="stretch_width"),
            pn.Tabs(("Diff", diff), ("Full code", code)),
            sizing_mode="stretch_width",
        ),
        pn.pane.HTML("<h3 style='margin:8px 0 0 0'>Timings</h3>"),
        plot,
    ]
    body = pn.Column(sizing_mode="stretch_width")
    run_select.param.watch(lambda event: show_run(event.new), "value")
    table.param.watch(on_selection, "selection")
    show_run(run_select.value)
    return pn.Column(header, run_select, body, sizing_mode="stretch_width")


def serve_dashboard(
    db_path: str | Path,
    port: int = 5006,
    show: bool = False,
    address: str = "127.0.0.1",
    *,
    read_only: bool = False,
) -> None:
    """Serve the dashboard for ``db_path`` on ``address:port`` until interrupted."""
    pn = require("panel", "ui", "the dashboard")
    path = _session_path(db_path)  # fail now, not on the first page view
    pn.serve(
        {"/": lambda: dashboard_app(path, read_only=read_only)},
        port=port,
        address=address,
        show=show,
        title="workbench sessions",
        websocket_origin=[f"{address}:{port}", f"localhost:{port}"],
        threaded=False,
        print=False,
    )


def main_dashboard(argv: list[str] | None = None) -> int:
    """``workbench dashboard [SESSION_DB] [--port N] [--show] [--read-only]``."""
    parser = argparse.ArgumentParser(
        prog="workbench dashboard",
        description="Browse saved sessions in a browser, and label the tests of generate runs.",
    )
    parser.add_argument(
        "session_db",
        nargs="?",
        default=".workbench/sessions.db",
        help="session database, or the folder holding it (default: ./.workbench/sessions.db)",
    )
    parser.add_argument("--port", type=int, default=5006, help="port to serve on (default 5006)")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--show", action="store_true", help="open a browser tab")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="only look: the labelling questions show without answer buttons",
    )
    args = parser.parse_args(argv)
    try:
        print(f"workbench dashboard: http://{args.address}:{args.port}/  (Ctrl-C stops it)")
        serve_dashboard(
            args.session_db,
            port=args.port,
            show=args.show,
            address=args.address,
            read_only=args.read_only,
        )
    except WorkbenchError as exc:
        print(f"workbench: {exc}")
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main_dashboard())
