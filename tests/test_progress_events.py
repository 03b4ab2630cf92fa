"""Progress events: the model's tokens reach the progress view, Stop from the view stops a run,
and the magics print lines where no widget can be drawn (no browser)."""

from __future__ import annotations

import html
import re
import threading
import time

import pytest
from test_llm_strategy import SOURCE, ScriptedModel, make_inputs

import workbench
from workbench._settings import configure, get_settings
from workbench.llm._types import LLMCancelled
from workbench.optimizer.strategies._llm import LLMStrategy
from workbench.views._progress import STOPPED, ProgressState

pytest.importorskip("ipywidgets")
from workbench.views import Progress  # noqa: E402


class StreamingModel(ScriptedModel):
    """The scripted replies, sent a word at a time like a streaming server; honours cancel."""

    kind = "streaming"

    def __init__(self, delay: float = 0.001, on_piece=None) -> None:
        super().__init__()
        self.delay = delay
        self.on_piece = on_piece
        self.cancelled = 0

    def _complete(self, request, *, on_token, cancel):
        completions = super()._complete(request, on_token=None, cancel=None)
        for piece in re.findall(r"\S+|\s+", completions[0].text):
            if cancel is not None and cancel.is_set():
                self.cancelled += 1
                raise LLMCancelled("cancelled while generating")
            if on_token is not None:
                on_token(0, piece)
            if self.on_piece is not None:
                self.on_piece(piece)
            time.sleep(self.delay)
        return completions


@pytest.fixture(autouse=True)
def home(tmp_path):
    before = get_settings().home
    configure(home=str(tmp_path / "home"))
    yield tmp_path / "home"
    configure(home=before)


def optimize_with(model, progress, stop=None, **kw):
    return workbench.optimize(
        SOURCE,
        inputs=make_inputs,
        strategies=[LLMStrategy(model, paths=3)],
        sizes=[5, 50],
        time_budget=0.05,
        namespace={},
        progress=progress,
        stop=stop,
        **kw,
    )


def test_streamed_tokens_show_in_the_progress_view_with_the_path_and_a_rate():
    progress = Progress()
    seen: list[str] = []

    def on_event(event):
        progress(event)
        if event["kind"] == "tokens":
            seen.append(progress._stream.value)

    result = optimize_with(StreamingModel(delay=0.01), on_event)
    state = progress.state
    # every reasoning path's text arrived whole, under its name, plus the plan
    assert set(state.streams) == {"plan", "path numpy-dot", "path broken-shift", "path chatty"}
    assert "return float(np.dot(x, x))" in state.streams["path numpy-dot"]
    assert state.tokens >= 60 and state.tokens_per_second and state.tokens_per_second > 0
    assert "tokens" in progress._tokens.value and "tok/s" in progress._tokens.value
    # while it streamed, the view named the path being written and showed its last line
    shown = [v for v in seen if "the model is writing" in v]
    assert shown and any("path numpy-dot" in v for v in shown)
    for view in shown:  # one row per reply being written: its name and its last line so far
        rows = html.unescape(re.sub("<[^>]+>", "", view.split("<pre", 1)[1].split(">", 1)[1]))
        for row in rows.splitlines():
            what, line = (part.strip() for part in row.split("│"))
            assert line in state.streams[what]
    # then the candidates ran, and the view counts them
    assert len(result.candidates) == 3 and state.done == 3
    assert progress._count.value == "3 / 3 candidates"
    assert progress._stream.value == ""  # no stale model text while candidates run
    progress.finish()
    assert "done: 3 candidates checked" in progress._phase.value
    assert progress._button.layout.display == "none"


def test_token_redraws_are_throttled_to_about_ten_a_second():
    progress = Progress(redraw_hz=10)
    draws = []
    real_draw = progress.draw
    progress.draw = lambda: (draws.append(time.perf_counter()), real_draw())
    started = time.perf_counter()
    for i in range(400):  # 400 tokens in about 0.4 s
        progress({"kind": "tokens", "stream": "p", "piece": f"w{i} "})
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    assert progress.state.tokens == 400
    assert 1 <= len(draws) <= seconds * 10 + 2


def test_stop_in_the_view_while_a_cell_runs_keeps_the_finished_candidates():
    progress = Progress()

    def on_event(event):
        if event["kind"] == "done":
            progress._button.click()  # what the user's click does, mid-run

    def call(p, stop):
        return optimize_with(StreamingModel(), lambda e: (p(e), on_event(e)), stop=stop)

    result = progress.run_in_cell(call)  # no kernel here: it draws while the thread runs
    # the first to finish is kept (candidates verify in parallel: any may be first)
    assert 1 <= len(result.candidates) < 3  # the rest were skipped
    assert any("stopped by the user" in n for n in result.notes)
    assert progress.state.stopped and progress.state.phase == STOPPED
    assert "stopped by you" in progress._phase.value
    assert progress._bar.bar_style == "warning" and progress._button.disabled


def test_stop_while_the_model_writes_cancels_the_requests_and_ends_cleanly():
    progress = Progress()
    words = []

    def on_piece(piece):
        words.append(piece)
        if len(words) == 30:  # in the middle of writing code along the paths
            progress.request_stop()

    model = StreamingModel(on_piece=on_piece)
    result = progress.run_in_cell(lambda p, stop: optimize_with(model, p, stop=stop))
    assert model.cancelled >= 1
    assert result.candidates == []
    assert any("stopped by the user" in n for n in result.notes)
    assert progress.state.phase == STOPPED


def test_an_error_in_the_run_is_raised_and_shown():
    progress = Progress()

    def call(p, stop):
        raise workbench.UsageError("say how to build inputs")

    with pytest.raises(workbench.UsageError, match="build inputs"):
        progress.run_in_cell(call)
    assert progress.state.error and "failed: say how to build inputs" in progress._phase.value
    assert progress._bar.bar_style == "danger"


def test_generate_and_visualize_messages_become_the_phase_and_the_log():
    state = ProgressState()
    state.update("asking scripted-1 for 8 implementations and 8 test sets")
    state.update({"kind": "generate", "strategy": "llm", "round": 1})
    assert state.phase == "llm is writing candidates (refinement round 1)"
    assert state.log == ["asking scripted-1 for 8 implementations and 8 test sets"]
    assert "workbench: llm is writing candidates" in state.text()


def test_a_refinement_counts_its_own_candidates_not_the_whole_run():
    """A refine of one candidate in a run of three says "candidate 1 of 1", not "4 of 4"."""
    from workbench.optimizer._results import CandidateResult

    state = ProgressState()
    state.update({"kind": "generate", "strategy": "llm", "round": 1})
    state.update({"kind": "candidate", "index": 3, "total": 4, "strategy": "llm"})
    assert state.phase == "candidate 1 of 1 (llm)" and state.counts_text() == "0 / 1 candidates"
    state.update({"kind": "phase", "index": 3, "phase": "timing"})
    assert state.phase == "candidate 1: timing"
    done = CandidateResult("abcd1234", "def f(x):\n    return x\n", "llm", status="failed")
    done.reason = "wrong result"
    state.update({"kind": "done", "index": 3, "total": 4, "candidate": done})
    assert state.counts_text() == "1 / 1 candidates"
    assert state.log[-1] == "[1/1] llm abcd1234: failed wrong result"


def test_generate_streams_each_implementation_and_test_set_under_its_name():
    from test_generate import LOWER_ONLY, RIGHT, SPEC, ScriptedModel

    from workbench.generator._engine import generate

    class Streaming(ScriptedModel):  # each reply a word at a time, as a streaming server does
        def _complete(self, request, *, on_token, cancel):
            completions = super()._complete(request, on_token=None, cancel=None)
            for index, completion in enumerate(completions):
                for piece in re.findall(r"\S+|\s+", completion.text):
                    on_token(index, piece)
            return completions

    codes, tests = [RIGHT[0], LOWER_ONLY[0]], ["assert count_vowels('Apple') == 2"]
    state, seen = ProgressState(), []

    def progress(event):
        state.update(event)
        if isinstance(event, dict):
            seen.append(state.writing(most=8))

    generate(SPEC, backend=Streaming(codes, tests), n_codes=2, n_tests=1, progress=progress)
    assert set(state.streams) == {"code 1", "code 2", "tests 1"}
    assert state.streams["code 2"] == LOWER_ONLY[0] and state.tokens > 10
    assert any(("code 1", line) in rows for rows in seen for line in RIGHT[0].splitlines())
    # then the candidates run: the replies are no longer shown as being written
    assert state.phase.startswith("running 2 candidate(s)") and state.writing() == []


def test_visualize_streams_the_interpretations_each_path_and_the_final_script():
    from test_ui_views import recorded_visualize

    state = ProgressState()
    recorded_visualize(progress=state.update)
    assert {"interpretations", "path 0", "path 1", "final"} <= set(state.streams)  # 2 paths
    assert "plt" in state.streams["path 0"] or "fig" in state.streams["path 0"]


def test_stop_while_generate_writes_abandons_the_run_and_says_so_not_failed():
    from test_generate import LOWER_ONLY, RIGHT, SPEC, ScriptedModel

    from workbench._errors import STOPPED_WRITING
    from workbench.generator._engine import generate

    progress = Progress(counting=False)

    class Slow(ScriptedModel):  # writes until it is cancelled, as a long reply would
        def _complete(self, request, *, on_token, cancel):
            progress.request_stop()  # the user's click while the model writes
            assert cancel is not None and cancel.wait(5)
            raise LLMCancelled("cancelled while generating")

    backend = Slow([RIGHT[0], LOWER_ONLY[0]], ["assert count_vowels('a') == 1"])
    with pytest.raises(LLMCancelled, match="stopped by you"):
        progress.run_in_cell(
            lambda p, stop: generate(
                SPEC, backend=backend, n_codes=2, n_tests=1, progress=p, stop=stop
            )
        )
    # the view says the user stopped it, in the run's words, not "failed"
    assert progress.state.stopped and not progress.state.error
    assert progress.state.phase == STOPPED_WRITING
    assert progress._bar.bar_style != "danger"
    store = workbench.SessionStore(get_settings().home)
    run = store.run(store.runs()[-1]["id"])
    assert run["status"] == "interrupted"  # %wb sessions shows it as stopped midway
    assert any("stopped by the user" in n for n in run["notes"])


def test_stop_after_visualize_drew_its_paths_keeps_them_and_skips_the_final_script():
    from test_ui_views import recorded_visualize, visualize_recording

    backend, stop, asked = visualize_recording(), threading.Event(), []

    def on_exchange(exchange):  # interpretations, expectations, the two paths: then the user stops
        asked.append(exchange)
        if len(asked) == 4:
            stop.set()

    backend.add_listener(on_exchange)
    result = recorded_visualize(backend=backend, stop=stop)
    assert len(asked) == 4  # no aggregation was asked for
    assert len(result.paths) == 2 and any(p.facts.executed for p in result.paths)
    assert result.final is None
    assert any("stopped by the user" in n for n in result.notes)


def test_without_widgets_the_magics_print_one_line_per_candidate(capsys):
    from workbench._magics import _widgets_shown, _with_progress

    assert not _widgets_shown()  # no kernel here: the terminal's printed lines
    stop = threading.Event()
    result = _with_progress("%%optimize", optimize_with, StreamingModel(), stop=stop)
    out = capsys.readouterr().out
    assert "workbench: llm is writing candidates..." in out
    assert re.search(r"\[1/3\] llm\s+passed", out)
    assert len(result.candidates) == 3


def test_a_busy_ipykernel_7_gets_widget_clicks_at_once_and_the_rest_after_the_cell():
    zmq = pytest.importorskip("zmq")
    from jupyter_client.session import Session

    from workbench.views._progress import _CommPump

    context = zmq.Context.instance()
    sender, receiver = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    receiver.bind("inproc://wb-test-pump")
    sender.connect("inproc://wb-test-pump")
    session = Session(key=b"secret")  # signed, as a kernel's: a replayed signature is refused
    handled, queued = [], []

    class Kernel:  # what the pump uses of ipykernel 7's kernel
        def __init__(self):
            self.session = session
            self.shell_handlers = {"comm_msg": lambda stream, idents, msg: handled.append(msg)}
            self.io_loop = type("Loop", (), {"add_callback": lambda _s, *a: queued.append(a)})()
            self.shell_main = "shell_main"

        parent = {"header": {"msg_id": "the running cell"}}

        def get_parent(self, channel):
            return self.parent

        def set_parent(self, ident, parent, channel):
            self.parent = parent

    click = {"comm_id": "c1", "data": {"method": "custom", "content": {"event": "click"}}}
    session.send(sender, "execute_request", {"code": "1 + 1"})  # the next cell of "run all"
    session.send(sender, "comm_msg", click)
    pump = _CommPump(Kernel(), receiver)
    for _ in range(50):
        pump.poll()
        if handled:
            break
        time.sleep(0.01)
    assert [m["content"] for m in handled] == [click]  # the click, while the cell runs
    assert queued == [] and len(pump.deferred) == 1  # the next cell waits ...
    pump.close()
    ((main, subshell, frames),) = queued  # ... and goes back to the kernel after this one
    assert main == "shell_main" and subshell is None
    # the kernel reads it as new: the pump only peeked at its header
    msg = session.deserialize(session.feed_identities(frames, copy=False)[1], copy=False)
    assert msg["header"]["msg_type"] == "execute_request"
    sender.close()
    receiver.close()


def test_run_all_in_a_real_kernel_runs_every_cell_after_a_magic_with_progress():
    """JupyterLab's Run All sends every cell at once; the cells that reach the kernel while
    %%optimize shows its progress (and reads the shell socket for clicks) run after it."""
    manager = pytest.importorskip("jupyter_client.manager")
    kernel, client = manager.start_new_kernel(kernel_name="python3")
    try:
        cells = [
            "%load_ext workbench\nimport numpy as np\n"
            "def make(n):\n    return (np.arange(n, dtype=float),)\n"
            "fast = ['def total(xs):\\n    return float(xs.sum())\\n']",
            "%%optimize --inputs make --strategies none --candidates fast --sizes 5,5000"
            " --time-budget 0.1\ndef total(xs):\n    s = 0.0\n    for x in xs:\n"
            "        s += x\n    return s",
            "_.accept()",
            "print('after the accept')",
            "print('and the last cell')",
        ]
        sent = [client.execute(cell) for cell in cells]
        replies: dict[str, dict] = {}
        deadline = time.monotonic() + 120
        while len(replies) < len(sent) and time.monotonic() < deadline:
            try:
                reply = client.get_shell_msg(timeout=1)
            except Exception:  # queue.Empty: nothing yet
                continue
            replies[reply["parent_header"].get("msg_id")] = reply["content"]
        assert [replies.get(i, {}).get("status") for i in sent] == ["ok"] * len(cells)
        offered = replies[sent[2]]["payload"]  # the accepted code, offered as the next cell
        assert offered and "float(xs.sum())" in offered[0]["text"]
    finally:
        client.stop_channels()
        kernel.shutdown_kernel(now=True)
