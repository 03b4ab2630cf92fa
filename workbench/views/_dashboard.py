"""Standalone dashboard (Panel): any saved session database in a browser, read-only.

``workbench dashboard [SESSION_DB]`` calls ``main_dashboard``; ``serve_dashboard`` is the
same from Python.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Any

from .._errors import UsageError, WorkbenchError, require
from .._render import fmt_seconds
from .._session import SessionStore
from ._html import code_html, detail_html, diff_html, legend_html
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
    return (
        f"{when} · {run['kind']} {run['entry'] or ''} · {run['candidates']} candidate(s) · "
        f"{run['status']}{accepted} · {run['id']}"
    )


def _candidate_rows(model: ExplorerModel) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {
        "candidate": [],
        "made by": [],
        "result": [],
        "median": [],
        "reason": [],
    }
    for node in model.nodes():
        rows["candidate"].append(node.id)
        rows["made by"].append(("  " * node.depth) + node.label.split(" · ")[0])
        rows["result"].append(("★ accepted, " if node.accepted else "") + node.status_text)
        rows["median"].append(fmt_seconds(node.timing.median) if node.timing else "-")
        rows["reason"].append(node.reason)
    return rows


def dashboard_app(db_path: str | Path) -> Any:
    """The Panel layout for one session database (build one per browser session)."""
    pn = require("panel", "ui", "the dashboard")
    import pandas as pd

    from ._timing_plot import timing_figure

    store = SessionStore(_session_path(db_path))
    runs = [r for r in store.runs() if r["kind"] == "optimize"][::-1]  # newest first
    header = pn.pane.HTML(
        f"<h2 style='margin:0'>Workbench sessions</h2><div style='color:#57606a'>{store.path}"
        " (read-only). Pick a run, then a candidate in the table to see its code.</div>",
        sizing_mode="stretch_width",
    )
    if not runs:
        return pn.Column(header, pn.pane.HTML("<p>No %%optimize runs saved here yet.</p>"))
    run_select = pn.widgets.Select(
        label="Run", options={_run_label(r): r["id"] for r in runs}, width=900
    )
    table = pn.widgets.Tabulator(
        pd.DataFrame(_candidate_rows(build_model(store.run(runs[0]["id"])))),
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
    state: dict[str, ExplorerModel] = {}

    def show_candidate(candidate_id: str | None) -> None:
        model = state["model"]
        if candidate_id is None:
            detail.object = "<i>this run has no candidates</i>"
            diff.object = code.object = ""
            return
        node = model.node(candidate_id)
        detail.object = detail_html(node, model)
        against = "the reference" if node.diff_against == "reference" else node.diff_against
        diff.object = f"<div>changes against {against}:</div>" + diff_html(node.diff)
        code.object = code_html(node.code)

    def show_run(run_id: str) -> None:
        model = build_model(store.run(run_id))
        state["model"] = model
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

    run_select.param.watch(lambda event: show_run(event.new), "value")
    table.param.watch(on_selection, "selection")
    show_run(run_select.value)
    return pn.Column(
        header,
        run_select,
        pn.pane.HTML(legend_html()),
        table,
        pn.Row(detail, pn.Tabs(("Diff", diff), ("Full code", code)), sizing_mode="stretch_width"),
        pn.pane.HTML("<h3 style='margin:8px 0 0 0'>Timings</h3>"),
        plot,
        sizing_mode="stretch_width",
    )


def serve_dashboard(
    db_path: str | Path, port: int = 5006, show: bool = False, address: str = "127.0.0.1"
) -> None:
    """Serve the dashboard for ``db_path`` on ``address:port`` until interrupted."""
    pn = require("panel", "ui", "the dashboard")
    path = _session_path(db_path)  # fail now, not on the first page view
    pn.serve(
        {"/": lambda: dashboard_app(path)},
        port=port,
        address=address,
        show=show,
        title="workbench sessions",
        websocket_origin=[f"{address}:{port}", f"localhost:{port}"],
        threaded=False,
        print=False,
    )


def main_dashboard(argv: list[str] | None = None) -> int:
    """``workbench dashboard [SESSION_DB] [--port N] [--show]``."""
    parser = argparse.ArgumentParser(
        prog="workbench dashboard", description="Browse saved sessions in a browser (read-only)."
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
    args = parser.parse_args(argv)
    try:
        print(f"workbench dashboard: http://{args.address}:{args.port}/  (Ctrl-C stops it)")
        serve_dashboard(args.session_db, port=args.port, show=args.show, address=args.address)
    except WorkbenchError as exc:
        print(f"workbench: {exc}")
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main_dashboard())
