"""Progress of an ``optimize`` run: phase, candidates done / total, elapsed time, Stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from .._errors import require
from .._render import fmt_speedup

_PHASES = {
    "loading": "loading / compiling",
    "verification": "checking results against the reference",
    "test": "running your tests",
    "timing": "timing",
}


class Progress:
    """A progress widget to pass as ``optimize(..., progress=p, stop=p.stop)``.

    Stop sets ``self.stop``: the candidate running now finishes, the rest are skipped. In a
    cell that blocks while ``optimize`` runs, the click reaches the kernel only if
    ``jupyter-ui-poll`` is installed (it is polled between events); ``Progress.run`` runs
    ``optimize`` in a thread instead, where Stop always works.
    """

    def __init__(self, stop: threading.Event | None = None) -> None:
        widgets = require("ipywidgets", "ui", "the progress widget")
        self.stop = stop or threading.Event()
        self.started = time.perf_counter()
        self.done = 0
        self.total = 0
        self.log: list[str] = []
        self._phase = widgets.HTML("waiting to start")
        self._bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self._count = widgets.Label("0 / ? candidates")
        self._elapsed = widgets.Label("0 s")
        self._button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="danger",
            tooltip="finish the candidate running now and skip the rest",
        )
        self._button.add_class("wb-stop")
        self._button.on_click(lambda _b: self.request_stop())
        self._log = widgets.HTML()
        self.widget = widgets.VBox(
            [
                self._phase,
                widgets.HBox([self._bar, self._count, self._elapsed, self._button]),
                self._log,
            ]
        )
        self.widget.add_class("wb-progress")

    def request_stop(self) -> None:
        self.stop.set()
        self._button.disabled = True
        self._button.description = "Stopping…"
        self._phase.value = "<b>stopping</b> after the candidate running now"

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "reference":
            self.total = event.get("total", 0)
            self._phase.value = "<b>timing the reference</b> (your function)"
        elif kind == "candidate":
            self.total = event["total"]
            self._phase.value = (
                f"<b>candidate {event['index'] + 1} of {event['total']}</b> "
                f"({event.get('strategy', '?')})"
            )
        elif kind == "phase":
            what = _PHASES.get(event["phase"], event["phase"])
            self._phase.value = f"<b>candidate {event['index'] + 1}</b>: {what}"
        elif kind == "done":
            self.total = event["total"]
            self.done = event["index"] + 1
            c = event["candidate"]
            what = fmt_speedup(c) if c.status == "passed" else c.reason
            self.log.append(f"{c.strategy} {c.id}: {c.status} {what}")
            self._log.value = "<br>".join(
                f"<span style='font-size:12px;color:#57606a'>{line}</span>"
                for line in self.log[-5:]
            )
            if self.done >= self.total:
                self.finish()
        self._bar.max = max(self.total, 1)
        self._bar.value = min(self.done, self._bar.max)
        self._count.value = f"{self.done} / {self.total or '?'} candidates"
        self._elapsed.value = f"{time.perf_counter() - self.started:.1f} s"
        if not self.stop.is_set():
            self._poll_clicks()

    def finish(self) -> None:
        self._phase.value = "<b>stopped</b>" if self.stop.is_set() else "<b>done</b>"
        self._bar.bar_style = "warning" if self.stop.is_set() else "success"
        self._button.disabled = True

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run ``function(*args, progress=self, stop=self.stop, **kwargs)`` in a thread,
        e.g. ``p.run(workbench.optimize, f, inputs=make)``; returns a Future of its result."""
        future: Future = Future()

        def target() -> None:
            try:
                future.set_result(function(*args, progress=self, stop=self.stop, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                self.finish()

        threading.Thread(target=target, daemon=True, name="workbench-progress").start()
        return future

    def _poll_clicks(self) -> None:
        """Let a Stop click through while the cell is still busy (needs jupyter-ui-poll)."""
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            from jupyter_ui_poll import ui_events
        except ImportError:
            return
        try:
            with ui_events() as poll:
                poll(10)
        except Exception:  # not in a kernel, or a kernel it does not know: no polling
            return

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
