"""The plotting worker: runs one plotting script on the data and saves its figure as a PNG.

Run as ``python -m workbench.sandbox._plot_worker CMD_FD MSG_FD`` (by ``sandbox.Channel``). The
kernel (trusted) sends one pickled job on CMD_FD: ``{"script", "data_name", "data", "dpi"}``. The worker (untrusted: it runs model
code) answers with one frame on MSG_FD: the figure facts and the PNG, encoded with ``_wire``,
which the kernel decodes without running code.

The checks look at the figure object, not the picture: errors and warnings, empty axes,
missing axis labels / title / legend, overlapping x tick labels (bounding boxes from the
renderer), and how many series were drawn.
"""

from __future__ import annotations

import io
import sys
import traceback
import warnings
from typing import Any

PNG_NAME = "figure.png"
PNG_CAP = 8 * 1024 * 1024  # a bigger "figure" is not one the kernel will show
TRACEBACK_CAP = 2000


def _read_job(fd: int) -> dict[str, Any]:
    import pickle

    from workbench.sandbox._channel import read_frame

    return pickle.loads(read_frame(fd))  # sent by the kernel, which is trusted


def figure_facts(fig: Any) -> dict[str, Any]:
    """What the checks found on ``fig`` (a Matplotlib figure), as plain values."""
    from matplotlib.container import BarContainer
    from matplotlib.patches import Wedge

    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()  # tick labels get their final text and position only when drawn
    axes_facts = []
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible() or _is_colorbar(ax):
            continue
        lines = [line for line in ax.lines if len(line.get_xdata()) > 0]
        bars = [c for c in ax.containers if isinstance(c, BarContainer) and len(c) > 0]
        collections = [c for c in ax.collections if _collection_has_data(c)]
        wedges = [p for p in ax.patches if isinstance(p, Wedge)]
        bar_patches = {id(p) for c in bars for p in c}
        other_patches = [
            p for p in ax.patches if id(p) not in bar_patches and not isinstance(p, Wedge)
        ]
        series = len(lines) + len(bars) + len(collections) + len(ax.images) + (1 if wedges else 0)
        legend = ax.get_legend() is not None or bool(fig.legends)
        labelled = [
            a
            for a in [*lines, *bars, *collections]
            if a.get_label() and not str(a.get_label()).startswith("_")
        ]
        overlaps = _overlapping_ticks(ax.get_xticklabels(), renderer)
        axes_facts.append(
            {
                "index": index,
                "series": series,
                "lines": len(lines),
                "bar_groups": len(bars),
                "collections": len(collections),
                "images": len(ax.images),
                "pie": bool(wedges),
                "empty": series == 0 and not other_patches,
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "legend": legend,
                "labelled_series": len(labelled),
                "overlapping_xticks": overlaps,
            }
        )
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    width, height = fig.get_size_inches()
    return {
        "axes": axes_facts,
        "suptitle": suptitle,
        "size_inches": [float(width), float(height)],
    }


def _is_colorbar(ax: Any) -> bool:
    return hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>"


def _collection_has_data(collection: Any) -> bool:
    try:
        offsets = collection.get_offsets()
        if offsets is not None and len(offsets) > 0:
            return True
        return len(collection.get_paths()) > 0
    except Exception:
        return False


def _overlapping_ticks(labels: list[Any], renderer: Any) -> int:
    """How many neighbouring visible tick labels overlap on screen."""
    boxes = [
        label.get_window_extent(renderer)
        for label in labels
        if label.get_visible() and label.get_text().strip()
    ]
    boxes.sort(key=lambda box: box.x0)
    return sum(1 for a, b in zip(boxes, boxes[1:], strict=False) if a.overlaps(b))


def _describe_error(exc: BaseException, script: str) -> str:
    """The script's own lines that led to ``exc`` (library frames left out), then the error."""
    lines = script.splitlines()
    where = [
        f"line {frame.lineno}: {lines[frame.lineno - 1].strip()}"
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename == "<plot script>" and frame.lineno and frame.lineno <= len(lines)
    ]
    what = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return "\n".join([*where, what])[-TRACEBACK_CAP:]


def _main(cmd_fd: int, msg_fd: int) -> int:
    job = _read_job(cmd_fd)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.show = lambda *args, **kwargs: None  # the script must not block or open windows
    facts: dict[str, Any] = {"error": None, "warnings": [], "stdout": "", "n_figures": 0}
    namespace = {"__name__": "__main__", job["data_name"]: job["data"]}
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stdout = sys.stdout
        sys.stdout = out
        try:
            exec(compile(job["script"], "<plot script>", "exec"), namespace)
        except BaseException as exc:  # the script's failure is a fact, not the worker's
            facts["error"] = _describe_error(exc, job["script"])
        finally:
            sys.stdout = stdout
        figures = [plt.figure(n) for n in plt.get_fignums()]
        facts["n_figures"] = len(figures)
        if figures:
            fig = figures[-1]
            try:
                facts.update(figure_facts(fig))
                fig.savefig(PNG_NAME, dpi=int(job.get("dpi", 80)), format="png")
            except Exception as exc:
                facts["error"] = facts["error"] or f"drawing the figure failed: {exc!r}"[:500]
    facts["warnings"] = sorted({f"{w.category.__name__}: {w.message}"[:300] for w in caught})[:10]
    facts["stdout"] = out.getvalue()[-1000:]
    from workbench.sandbox._channel import write_frame
    from workbench.sandbox._wire import encode

    try:
        with open(PNG_NAME, "rb") as fh:
            png = fh.read(PNG_CAP + 1)
    except OSError:
        png = None
    write_frame(msg_fd, encode({"facts": facts, "png": png}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(int(sys.argv[1]), int(sys.argv[2])))
