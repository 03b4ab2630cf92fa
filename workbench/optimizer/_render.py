"""How results look: HTML for notebooks, plain text for terminals and logs."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._results import CandidateResult, OptimizeResult, Timing

_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#b35900",
    "error": "#cf222e",
    "timeout": "#8250df",
    "crashed": "#cf222e",
    "oom": "#8250df",
    "unverified": "#6e7781",
}


COLUMNS = [
    "",
    "candidate",
    "strategy",
    "status",
    "speedup",
    "median",
    "compile",
    "threads",
    "peak mem",
    "reason",
]


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            return f"{s / scale:.3g} {unit}"
    return f"{s:g} s"


def fmt_bytes(b: int | None) -> str:
    if b is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024
    return f"{b} B"


def fmt_speedup(c: CandidateResult) -> str:
    if c.speedup is None:
        return "-"
    text = f"{c.speedup:.3g}x [{c.speedup_low:.3g}-{c.speedup_high:.3g}]"
    return text if c.significant else text + " n.s."


def fmt_gpu(t: Timing | None) -> str:
    """Where a GPU candidate's call goes on the device (CUDA events); the host median stays
    the time that counts."""
    if t is None or t.gpu_clock is None:
        return "-"
    parts = []
    if t.h2d_time is not None and t.kernel_time is not None and t.d2h_time is not None:
        parts.append(
            f"h2d {fmt_seconds(t.h2d_time)} + kernel {fmt_seconds(t.kernel_time)} "
            f"+ d2h {fmt_seconds(t.d2h_time)}"
        )
    if t.device_time is not None:
        parts.append(f"device {fmt_seconds(t.device_time)}")
    if not parts:
        return "-"
    clock = " (host clock: simulator)" if "simulator" in t.gpu_clock else ""
    return "; ".join(parts) + clock


def _columns(result: OptimizeResult) -> list[str]:
    """The table's columns: a GPU split column only where a candidate has one."""
    if not any(c.timing is not None and c.timing.gpu_clock for c in result.candidates):
        return COLUMNS
    at = COLUMNS.index("median") + 1
    return [*COLUMNS[:at], "gpu split", *COLUMNS[at:]]


def fmt_timing(t: Timing | None) -> str:
    if t is None:
        return "-"
    return f"{fmt_seconds(t.median)} ±{t.spread * 50:.0f}% ({t.repeats}x)"


def _rows(result: OptimizeResult) -> list[dict[str, str]]:
    best = result.best
    rows = []
    for c in result.candidates:
        threads = f"{c.timing.cpu_ratio:.1f}" if c.timing else "-"
        rows.append(
            {
                "": "★"
                if best is not None and c is best
                else ("✓" if result.accepted == c.id else ""),
                "candidate": c.id,
                "strategy": _origin(c),
                "status": c.status,
                "speedup": fmt_speedup(c),
                "median": fmt_timing(c.timing),
                "gpu split": fmt_gpu(c.timing),
                "compile": fmt_seconds(c.compile_time),
                "threads": threads,
                "peak mem": fmt_bytes(c.peak_memory),
                "reason": c.reason + (f"  ⚠ {len(c.warnings)} warning(s)" if c.warnings else ""),
            }
        )
    return rows


def _origin(c: CandidateResult) -> str:
    """Strategy, reasoning path and refinement round, e.g. ``llm [numba-prange] r1``."""
    text = c.strategy
    if c.path:
        text += f" [{c.path}]"
    if c.round:
        text += f" r{c.round}"
    return text


def _header(result: OptimizeResult) -> str:
    ref = result.reference.timing
    size = f" at size {ref.size}" if ref is not None and ref.size else ""
    head = f"{result.entry}: reference {fmt_timing(ref)}{size}"
    if result.run_id:
        head += f"; session {result.run_id}"
    return head


def _footer(result: OptimizeResult) -> str:
    best = result.best
    if best is None:
        return "No candidate passed verification."
    tail = f"Best: {best.id} ({best.strategy}), {fmt_speedup(best)}."
    if result.accepted:
        tail += f" Accepted {result.accepted}."
    else:
        tail += " Use result.accept() (or %%optimize --accept) to use it."
    return tail


def result_text(result: OptimizeResult) -> str:
    rows = _rows(result)
    cols = _columns(result)
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in cols[:-1]}
    lines = [_header(result)]
    if result.inputs.get("description"):
        lines.append(f"inputs: {result.inputs['description']}")
    lines.append("  ".join(c.ljust(widths[c]) for c in cols[:-1]) + "  reason")
    for r in rows:
        lines.append("  ".join(r[c].ljust(widths[c]) for c in cols[:-1]) + "  " + r["reason"])
    lines.extend(f"note: {n}" for n in result.notes)
    lines.append(_footer(result))
    return "\n".join(lines)


def result_html(result: OptimizeResult) -> str:
    rows = _rows(result)
    cols = _columns(result)
    e = html.escape
    out = [
        f"<div class='wb-result'><p><b>{e(_header(result))}</b></p>",
        f"<p>inputs: {e(result.inputs['description'])}</p>"
        if result.inputs.get("description")
        else "",
        "<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr></thead><tbody>",
    ]
    for r, c in zip(rows, result.candidates):
        cells = []
        for col in cols:
            value = e(r[col])
            if col == "status":
                value = f"<span style='color:{_COLOURS.get(c.status, '#000')};font-weight:bold'>{value}</span>"
            cells.append(f"<td style='text-align:left'>{value}</td>")
        out.append(f"<tr title='{e(c.note)}'>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    for n in result.notes:
        out.append(f"<p>note: {e(n)}</p>")
    out.append(f"<p>{e(_footer(result))}</p>")
    if result.inputs.get("code"):
        out.append(
            "<details><summary>the input builder the model wrote</summary><pre>"
            + e(result.inputs["code"])
            + "</pre></details>"
        )
    if result.best is not None:
        out.append(
            "<details><summary>code of the best candidate</summary><pre>"
            + e(result.best.code)
            + "</pre></details>"
        )
    out.append("</div>")
    return "".join(out)
