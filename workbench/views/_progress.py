"""Progress of a run: phase, candidates done / total, elapsed time, the model's text as it
streams in, and Stop.

The engine emits plain event dicts (``optimize``) or one-line messages (``generate``,
``visualize``); ``ProgressState`` folds them into what is shown (no UI library), and
``Progress`` draws that state with ipywidgets, at most ``redraw_hz`` times a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from html import escape
from typing import Any, TypeVar

from .._errors import require
from ..llm._types import LLMCancelled
from ..optimizer._render import fmt_speedup

T = TypeVar("T")

_PHASES = {
    "loading": "loading / compiling",
    "verification": "checking results against the reference",
    "test": "running your tests",
    "timing": "timing",
}
STOPPED = "stopped by you: the candidates already checked are kept, the rest were skipped"


def _token_count(piece: str) -> int:
    """Streaming backends send about one token per piece; a replay sends a whole reply at
    once, counted at about four characters a token."""
    return 1 if len(piece) <= 12 else max(1, round(len(piece) / 4))


@dataclass
class ProgressState:
    """What a progress view shows, updated by ``update(event)`` from any thread."""

    started: float = field(default_factory=time.perf_counter)
    phase: str = "waiting to start"
    done: int = 0
    total: int = 0
    log: list[str] = field(default_factory=list)
    #: the model's text so far, per stream (a reasoning path, the plan, a refinement)
    streams: dict[str, str] = field(default_factory=dict)
    stream: str | None = None  # the stream that grew last
    active: list[str] = field(default_factory=list)  # streams of this round, newest last
    tokens: int = 0
    #: the run's index of the first candidate seen: a refinement counts its own candidates
    first_index: int | None = None
    first_token: float | None = None
    last_token: float | None = None
    finished: bool = False
    stopped: bool = False
    error: str | None = None
    counting: bool = True  # counts candidates (optimize); generate and visualize do not
    searching: bool = False  # a tree search runs: the search view shows it growing
    candidates: list[Any] = field(default_factory=list)  # finished, in the order they came

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def update(self, event: dict[str, Any] | str) -> None:
        with self._lock:
            self._update(event)

    def _update(self, event: dict[str, Any] | str) -> None:
        if isinstance(event, str):  # generate / visualize say what they do in words
            self.phase = event
            self.log.append(event)
            self.stream, self.active = None, []  # a new step: the replies shown are done
            return
        kind = event.get("kind")
        if kind == "reference":
            self.total = event.get("total", 0) or self.total
            self.phase = "timing the reference (your function)"
        elif kind == "generate":
            self.active = []
            round_ = event.get("round", 0)
            self.phase = f"{event.get('strategy', 'a strategy')} is writing candidates" + (
                f" (refinement round {round_})" if round_ else ""
            )
        elif kind == "tokens":
            now = time.perf_counter()
            name = str(event.get("stream") or "model")
            self.streams[name] = self.streams.get(name, "") + event.get("piece", "")
            self.stream = name
            if name in self.active:
                self.active.remove(name)
            self.active.append(name)
            self.tokens += _token_count(event.get("piece", ""))
            self.first_token = self.first_token or now
            self.last_token = now
        elif kind == "candidate":
            index, self.total = self._counted(event)
            self.stream, self.active = None, []
            self.phase = f"candidate {index + 1} of {self.total} ({event.get('strategy', '?')})"
        elif kind == "phase":
            what = _PHASES.get(event["phase"], event["phase"])
            self.phase = f"candidate {self._counted(event)[0] + 1}: {what}"
        elif kind == "search":
            self.searching = True
            self.phase = "tree search: choosing the next parent"
        elif kind == "done":  # candidates finish in any order where they run in parallel
            _, self.total = self._counted(event)
            self.done += 1
            c = event["candidate"]
            self.candidates.append(c)
            what = fmt_speedup(c) if c.status == "passed" else c.reason
            self.log.append(f"[{self.done}/{self.total}] {c.strategy} {c.id}: {c.status} {what}")

    def _counted(self, event: dict[str, Any]) -> tuple[int, int]:
        """(index, total) counted from the first candidate this progress saw."""
        if self.first_index is None:
            self.first_index = event["index"]
        total = event.get("total", self.total + self.first_index)
        return event["index"] - self.first_index, total - self.first_index

    def finish(
        self, *, stopped: bool = False, error: str | None = None, said: str | None = None
    ) -> None:
        """The end: done, failed with ``error``, or stopped (``said``: what the stopped run
        says it kept)."""
        with self._lock:
            self.finished, self.stopped, self.error = True, stopped, error
            self.stream, self.active = None, []
            if error:
                self.phase = f"failed: {error}"
            elif stopped:
                self.phase = said or STOPPED
            elif self.total:
                self.phase = (
                    f"done: {self.done} candidate{'s' * (self.done != 1)} checked in "
                    f"{self.elapsed:.1f} s; the results are below"
                )
            else:
                self.phase = "done"

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token is None or self.last_token is None:
            return None
        span = self.last_token - self.first_token
        return self.tokens / span if span >= 0.05 else None

    def tail(self, stream: str | None = None, lines: int = 1, width: int = 110) -> list[str]:
        """The last ``lines`` non-empty lines of ``stream`` (default: the one that grew last)."""
        text = self.streams.get(stream or self.stream or "", "")
        kept = [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
        return [line if len(line) <= width else line[: width - 1] + "…" for line in kept]

    def writing(self, most: int = 4) -> list[tuple[str, str]]:
        """(what, its last line) for the streams of this round the model writes now."""
        names = self.active[-most:]
        return [(n, (self.tail(n) or [""])[0]) for n in names]

    def counts_text(self) -> str:
        return f"{self.done} / {self.total or '?'} candidates"

    def tokens_text(self) -> str:
        if not self.tokens:
            return ""
        rate = self.tokens_per_second
        return f"{self.tokens:,} tokens" + (f" · {rate:.0f} tok/s" if rate else "")

    def text(self) -> str:
        """The state as plain text (terminals, saved notebooks without widgets)."""
        counts = f" · {self.counts_text()}" if self.counting else ""
        lines = [f"workbench: {self.phase}{counts} · {self.elapsed:.1f} s"]
        if self.tokens:
            lines[0] += f" · {self.tokens_text()}"
        return "\n".join([*lines, *("  " + line for line in self.log)])


class Progress:
    """A progress widget to pass as ``optimize(..., progress=p, stop=p.stop)``.

    Stop sets ``self.stop``: the candidate running now finishes, the rest are skipped.
    ``Progress.run`` runs ``optimize`` in a thread; ``Progress.run_in_cell`` does too and keeps
    the cell busy until it ends, letting clicks through meanwhile (the magics use it). Passed
    to a call that blocks the cell, a click reaches the kernel only between events (with
    ipykernel 7, or ipykernel 6 and ``jupyter-ui-poll``).
    """

    def __init__(
        self,
        stop: threading.Event | None = None,
        *,
        title: str = "",
        counting: bool = True,
        redraw_hz: float = 10.0,
    ) -> None:
        widgets = require("ipywidgets", "ui", "the progress widget")
        self.stop = stop or threading.Event()
        self.state = ProgressState(counting=counting)
        self.title = title
        self._min_gap = 1.0 / redraw_hz
        self._last_draw = 0.0
        self._pumped = False  # run_in_cell draws from the main thread
        self._draw_lock = threading.Lock()
        self._title = widgets.HTML(f"<b>{escape(title)}</b>" if title else "")
        self._phase = widgets.HTML("waiting to start")
        self._phase.add_class("wb-phase")
        self._bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        fit = {"width": "auto", "margin": "0 8px 0 0"}  # labels as wide as their text
        self._count = widgets.Label("0 / ? candidates", layout=widgets.Layout(**fit))
        self._count.add_class("wb-count")
        self._elapsed = widgets.Label("0 s", layout=widgets.Layout(**fit))
        self._tokens = widgets.Label("", layout=widgets.Layout(**fit))
        self._tokens.add_class("wb-tokens")
        self._button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="danger",
            tooltip="finish the candidate running now and skip the rest"
            if counting
            else "stop the model and skip the steps still to come",
        )
        self._button.add_class("wb-stop")
        self._button.on_click(lambda _b: self.request_stop())
        if not counting:  # generate and visualize say what they do in words instead
            self._bar.layout.display = self._count.layout.display = "none"
        self._stream = widgets.HTML()
        self._stream.add_class("wb-stream")
        self._log = widgets.HTML()
        self._log.add_class("wb-log")
        self.search: Any = None  # the search view, once a tree search starts
        self._search_drawn = 0
        self._search_slot = widgets.VBox()
        self.widget = widgets.VBox(
            [
                self._title,
                self._phase,
                widgets.HBox(
                    [self._bar, self._count, self._elapsed, self._tokens, self._button],
                    layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self._stream,
                self._log,
                self._search_slot,
            ]
        )
        self.widget.add_class("wb-progress")

    # -- what the old attributes said, kept for callers ------------------------------------
    @property
    def done(self) -> int:
        return self.state.done

    @property
    def total(self) -> int:
        return self.state.total

    @property
    def log(self) -> list[str]:
        return self.state.log

    @property
    def started(self) -> float:
        return self.state.started

    def request_stop(self) -> None:
        if self.state.finished:
            return
        self.stop.set()
        self._button.disabled = True
        self._button.description = "Stopping…"
        self._phase.value = (
            "<b>stopping</b> after the candidate running now"
            if self.state.counting
            else "<b>stopping</b>"
        )

    def __call__(self, event: dict[str, Any] | str) -> None:
        self.state.update(event)
        if self._pumped:
            return  # the main thread draws
        important = isinstance(event, str) or event.get("kind") != "tokens"
        if important or time.perf_counter() - self._last_draw >= self._min_gap:
            self.draw()
        if not self.stop.is_set():
            self._poll_clicks()

    # -- drawing -----------------------------------------------------------------------------
    def draw(self) -> None:
        """Show the state now (from any thread; normally throttled by the callers)."""
        with self._draw_lock:
            self._last_draw = time.perf_counter()
            s = self.state
            if not (self.stop.is_set() and not s.finished):
                self._phase.value = f"<b>{escape(s.phase)}</b>"
            self._bar.max = max(s.total, 1)
            self._bar.value = min(s.done, self._bar.max)
            self._count.value = s.counts_text()
            self._elapsed.value = f"{s.elapsed:.1f} s"
            self._tokens.value = s.tokens_text()
            self._stream.value = self._stream_html() if s.stream else ""
            self._log.value = "<br>".join(
                f"<span style='font-size:12px;color:#57606a'>{escape(line)}</span>"
                for line in s.log[-5:]
            )
            if s.searching and len(s.candidates) != self._search_drawn:
                self._draw_search(list(s.candidates))
            if s.finished:
                self._bar.bar_style = "danger" if s.error else "warning" if s.stopped else "success"
                if not s.stopped and not s.error:
                    self._bar.value = self._bar.max
                self._button.disabled = True
                self._button.layout.display = "none"  # the phase says how it ended

    def _draw_search(self, candidates: list[Any]) -> None:
        """The tree so far, redrawn as candidates finish (tree search only)."""
        from ._search_view import search_nodes, search_view

        self._search_drawn = len(candidates)
        if self.search is None:
            self.search = search_view(
                candidates, title="Search so far (grows as candidates finish)"
            )
            self._search_slot.children = [self.search]
        else:
            self.search.nodes = search_nodes(candidates)

    def _stream_html(self) -> str:
        rows = self.state.writing()
        width = max((len(what) for what, _ in rows), default=0)
        lines = "\n".join(
            f"<b>{escape(what.ljust(width))}</b> │ {escape(line)}" for what, line in rows
        )
        return (
            "<div style='font-size:12px;color:#57606a'>the model is writing (the last line "
            "of each reply so far):</div>"
            "<pre style='margin:2px 0;padding:4px 6px;background:#f6f8fa;font-size:12px;"
            f"border:1px solid #d0d7de;border-radius:6px;white-space:pre'>{lines}</pre>"
        )

    def finish(self, *, error: str | None = None, said: str | None = None) -> None:
        self.state.finish(stopped=self.stop.is_set(), error=error, said=said)
        self.draw()

    # -- running -------------------------------------------------------------------------------
    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run ``function(*args, progress=self, stop=self.stop, **kwargs)`` in a thread,
        e.g. ``p.run(workbench.optimize, f, inputs=make)``; returns a Future of its result."""
        future: Future = Future()

        def target() -> None:
            try:
                future.set_result(function(*args, progress=self, stop=self.stop, **kwargs))
                self.finish()
            except BaseException as exc:
                future.set_exception(exc)
                self.finish(error=str(exc) or type(exc).__name__)

        threading.Thread(target=target, daemon=True, name="workbench-progress").start()
        return future

    def run_in_cell(self, call: Callable[[Progress, threading.Event], T]) -> T:
        """Display the widget, run ``call(self, self.stop)`` in a thread and keep the cell busy
        until it returns, drawing and letting Stop clicks through meanwhile.

        An interrupt of the kernel acts as Stop. Returns what ``call`` returns (or raises
        what it raised). The displayed output falls back to the text log where no widgets
        are drawn (a notebook run headless).
        """
        from IPython.display import display

        handle = display(self, display_id=True)
        self._pumped = True
        future: Future = Future()

        def target() -> None:
            try:
                future.set_result(call(self, self.stop))
            except BaseException as exc:
                future.set_exception(exc)

        thread = threading.Thread(target=target, daemon=True, name="workbench-run")
        thread.start()
        try:
            self._pump_until(thread)
        except KeyboardInterrupt:  # the kernel's interrupt: stop after this candidate
            self.request_stop()
            thread.join()
        finally:
            self._pumped = False
        error = future.exception()
        if isinstance(error, LLMCancelled) and self.stop.is_set():
            self.finish(said=str(error))  # Stop, not a failure: it says what was kept
        else:
            self.finish(error=(str(error) or type(error).__name__) if error else None)
        if handle is not None:
            handle.update(self)
        return future.result()

    def _pump_until(self, thread: threading.Thread) -> None:
        pump = _CommPump.for_this_kernel()
        if pump is not None:  # ipykernel 7
            try:
                while thread.is_alive():
                    pump.poll()
                    self.draw()
                    thread.join(self._min_gap)
                return
            except Exception:  # a kernel that changed again: draw only, clicks wait
                self.kernel_log("workbench: cannot pass widget clicks to the busy kernel")
            finally:
                pump.close()
        try:
            from jupyter_ui_poll import ui_events
        except ImportError:
            ui_events = None
        if ui_events is not None:  # ipykernel 6
            try:
                with ui_events() as poll:
                    while thread.is_alive():
                        poll(20)
                        self.draw()
                        thread.join(self._min_gap)
                return
            except Exception:  # not in a kernel jupyter-ui-poll knows: draw only
                pass
        while thread.is_alive():
            self.draw()
            thread.join(self._min_gap)

    @staticmethod
    def kernel_log(message: str) -> None:
        import logging

        logging.getLogger("workbench").warning(message, exc_info=True)

    def _poll_clicks(self) -> None:
        """Let a Stop click through while the cell is busy (ipykernel 7; 6 with jupyter-ui-poll)."""
        if threading.current_thread() is not threading.main_thread():
            return
        pump = _CommPump.for_this_kernel()
        if pump is not None:  # ipykernel 7
            try:
                pump.poll()
            except Exception:
                self.kernel_log("workbench: cannot pass widget clicks to the busy kernel")
            finally:
                pump.close()
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
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        return {**(bundle or {}), "text/plain": self.state.text()}


class _CommPump:
    """Handles the widget messages (a Stop click) that reach a busy ipykernel 7 kernel.

    jupyter-ui-poll calls ``kernel.do_one_iteration``, which ipykernel 7 no longer has. There
    the main shell reads its messages from one inproc socket, on the main thread, which runs
    the cell now: read it here, handle ``comm_msg`` at once and hand every other message back
    to the kernel, in order, to run after the cell.
    """

    def __init__(self, kernel: Any, socket: Any) -> None:
        self.kernel = kernel
        self.socket = socket
        self.deferred: list[Any] = []

    @classmethod
    def for_this_kernel(cls) -> _CommPump | None:
        if threading.current_thread() is not threading.main_thread():
            return None
        try:
            from IPython import get_ipython

            kernel = getattr(get_ipython(), "kernel", None)
            manager = kernel.shell_channel_thread.manager  # type: ignore[union-attr]
            socket = manager.get_shell_channel_to_subshell_pair(None).to_socket
        except Exception:  # not ipykernel 7 with its shell channel thread
            return None
        return cls(kernel, socket)

    def poll(self) -> None:
        import zmq

        session = self.kernel.session
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            try:
                idents, rest = session.feed_identities(frames, copy=False)
                # only peek at the header: a message read with its content has its signature
                # recorded, and the kernel would drop it as a replay when it reads it again
                header = session.deserialize(rest, content=False, copy=False)["header"]
            except Exception:
                self.deferred.append(frames)  # the kernel reports what it cannot read
                continue
            if header["msg_type"] == "comm_msg":
                cell = self._cell_parent()  # the running cell's, for its outputs
                try:
                    msg = session.deserialize(rest, content=True, copy=False)
                    self.kernel.shell_handlers["comm_msg"](None, idents, msg)
                except Exception:
                    self.kernel.log.exception("workbench: a widget message failed")
                finally:
                    if self.kernel.get_parent("shell") is not cell[1]:
                        self.kernel.set_parent(*cell, "shell")
            else:
                self.deferred.append(frames)

    def _cell_parent(self) -> tuple[Any, Any]:
        kernel = self.kernel
        ident_var = getattr(kernel, "_shell_parent_ident", None)
        ident = kernel._get_shell_context_var(ident_var) if ident_var is not None else None
        return ident, kernel.get_parent("shell")

    def close(self) -> None:
        """Queue the messages held back behind the cell, in the order they came."""
        for frames in self.deferred:
            self.kernel.io_loop.add_callback(self.kernel.shell_main, None, frames)
        self.deferred = []
