"""The plotting worker: runs one plotting script on the data and saves its figure as a PNG.

Run as ``python -m workbench.sandbox._plot_worker CMD_FD MSG_FD`` (by ``sandbox.Channel``). The
kernel (trusted) sends one pickled job on CMD_FD: ``{"script", "data_name", "data", "dpi"}``. The worker (untrusted: it runs model
code) answers with one frame on MSG_FD: the figure facts and the PNG, encoded with ``_wire``,
which the kernel decodes without running code.

The facts are measured on the figure object, not the picture (``_plot_facts``); the kernel
judges them (``workbench.visualizer._checks``).
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
                from workbench.sandbox._plot_facts import figure_facts

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
