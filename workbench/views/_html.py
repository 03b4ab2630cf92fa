"""Small HTML pieces shared by the explorer and the dashboard."""

from __future__ import annotations

import html

from ..optimizer._results import HotLine, Mismatch
from ._exchanges import ExchangeView
from ._model import STATUS_COLOURS, CandidateNode, ExplorerModel

_PRE = (
    "margin:0;padding:8px;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;"
    "font-size:12px;line-height:1.45;overflow:auto;max-height:420px;white-space:pre"
)

#: what an Accept button says after binding: a click cannot add a cell, %wb load can
KEEP_IN_NOTEBOOK = "To keep its code in the notebook, run <code>%wb load</code> in a new cell."


def recorded_html(candidate: str, run_id: str | None) -> str:
    """What an Accept that only records the choice (the standalone dashboard) says."""
    run = html.escape(run_id or "")
    return (
        f"accepted {html.escape(candidate)}: recorded in session {run}. In your notebook,"
        f" <code>%wb load {run}</code> puts its code into a cell; run that cell to use it."
    )


def code_html(code: str) -> str:
    return f"<pre class='wb-code' style='{_PRE}'>{html.escape(code.strip())}</pre>"


def diff_html(diff: str) -> str:
    """A unified diff with added lines green and removed lines red."""
    if not diff:
        return code_html("(no change: the code is the same)")
    lines = []
    for line in diff.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "color:#57606a;font-weight:bold"
        elif line.startswith("+"):
            style = "background:#dafbe1;color:#116329"
        elif line.startswith("-"):
            style = "background:#ffebe9;color:#82071e"
        elif line.startswith("@@"):
            style = "color:#8250df"
        lines.append(f"<span style='{style}'>{html.escape(line)}</span>")
    return f"<pre class='wb-diff' style='{_PRE}'>" + "\n".join(lines) + "</pre>"


def legend_html() -> str:
    items = [
        ("#0a5c24", "passed, much faster"),
        ("#6fdd8b", "passed, a little faster"),
        ("#57606a", "passed, no significant change"),
        ("#d4a72c", "passed, slower"),
        (STATUS_COLOURS["failed"], "failed (wrong results)"),
        (STATUS_COLOURS["error"], "error / crashed"),
        (STATUS_COLOURS["timeout"], "timeout / out of memory"),
        (STATUS_COLOURS["unverified"], "unverified (results cannot be compared)"),
    ]
    spans = "".join(
        f"<span style='margin-right:12px;white-space:nowrap'><span style='display:inline-block;"
        f"width:10px;height:10px;background:{c};border-radius:2px;margin-right:4px'></span>"
        f"{html.escape(t)}</span>"
        for c, t in items
    )
    return f"<div style='font-size:12px;color:#57606a'>{spans}</div>"


def detail_html(node: CandidateNode, model: ExplorerModel) -> str:
    """Everything about one candidate except its code: status, why, timings."""
    rows = [("status", f"<b style='color:{node.colour}'>{html.escape(node.status_text)}</b>")]
    if node.accepted:
        rows.append(("accepted", "<b>yes: this is the version you chose</b>"))
    if node.speedup is not None:
        rows.append(("speedup", html.escape(node.speedup_text + " (95 % confidence interval)")))
    if node.reason:
        rows.append(("why", html.escape(node.reason)))
    if node.note:
        rows.append(("idea", html.escape(node.note)))
    if node.timing is not None:
        rows.append(("timing", html.escape(node.timing.text())))
    if model.reference is not None:
        rows.append(("reference", html.escape(model.reference.text())))
    if model.inputs:
        rows.append(("inputs", html.escape(model.inputs)))
    if node.hot_lines:
        rows.append(("hot lines", _hot_lines_html(node.hot_lines)))
    elif node.profile_note:
        rows.append(("hot lines", html.escape(node.profile_note)))
    on_a_path = node.path not in (node.strategy, node.strategy.split(".")[0])
    origin = node.strategy + (f", path {node.path}" if on_a_path else "")
    if node.parent:
        origin += f", refinement (round {node.round}) of {node.parent}"
    rows.append(("made by", html.escape(origin)))
    for warning in node.warnings:
        rows.append(("warning", html.escape(warning)))
    body = "".join(
        f"<tr><th style='text-align:left;padding:2px 10px 2px 0;vertical-align:top;"
        f"color:#57606a'>{k}</th><td style='text-align:left;white-space:pre-wrap'>{v}</td></tr>"
        for k, v in rows
    )
    title = html.escape(node.label)
    return (
        f"<div class='wb-detail'><h4 style='margin:4px 0'>{title}</h4><table>{body}</table>"
        f"{mismatch_html(node.mismatch)}</div>"
    )


def mismatch_html(mismatch: Mismatch | None) -> str:
    """The input a candidate got wrong: its arguments, then what your function returned and
    what the candidate returned, side by side."""
    if mismatch is None:
        return ""
    small = _PRE.replace("max-height:420px", "max-height:220px")

    def block(title: str, text: str, css: str) -> str:
        return (
            f"<div style='flex:1;min-width:0'><div style='color:#57606a'>{title}</div>"
            f"<pre class='{css}' style='{small}'>{html.escape(text)}</pre></div>"
        )

    arguments = "\n".join(f"argument {i + 1}: {text}" for i, text in enumerate(mismatch.arguments))
    return (
        "<div class='wb-mismatch' style='margin:6px 0'>"
        f"<div><b>Where it went wrong</b>: input {html.escape(mismatch.input)}</div>"
        + block("the arguments", arguments or "(none)", "wb-mismatch-input")
        + "<div style='display:flex;gap:8px;margin-top:4px'>"
        + block("your function returned", mismatch.expected, "wb-expected")
        + block("this candidate returned", mismatch.actual, "wb-actual")
        + "</div></div>"
    )


def _hot_lines_html(hot_lines: list[HotLine], top: int = 3) -> str:
    """The few lines where one profiled call spent most of its time."""
    return "<br>".join(
        f"{line.share:4.0%} line {line.lineno}: <code>{html.escape(line.text)}</code>"
        for line in hot_lines[:top]
    )


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit // 3] + "\n\n[... trimmed ...]\n\n" + text[-(limit - limit // 3) :]


def exchange_html(exchange: ExchangeView | None, limit: int = 3000) -> str:
    """The model exchange that wrote a candidate: what was asked last and the reply, folded."""
    if exchange is None:
        return ""
    return (
        "<details class='wb-exchange-details' style='margin:6px 0'>"
        "<summary style='cursor:pointer;color:#0969da'>What the model was asked, and its answer"
        f" <small style='color:#57606a'>({html.escape(exchange.model)}, exchange"
        f" {exchange.round} of this session)</small></summary>"
        "<div style='color:#57606a;margin-top:4px'>asked:</div>"
        f"<pre class='wb-prompt' style='{_PRE};white-space:pre-wrap'>"
        f"{html.escape(_trim(exchange.prompt, limit))}</pre>"
        "<div style='color:#57606a;margin-top:4px'>answered:</div>"
        f"<pre class='wb-reply' style='{_PRE};white-space:pre-wrap'>"
        f"{html.escape(_trim(exchange.reply, limit))}</pre></details>"
    )
