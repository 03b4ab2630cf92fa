"""OpenAIBackend against a local HTTP server that misbehaves on purpose (no network)."""

from __future__ import annotations

import json
import pickle
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("openai")

from workbench._errors import LLMError, UsageError  # noqa: E402
from workbench.llm import LLMCancelled, OpenAIBackend, RecordingBackend  # noqa: E402
from workbench.sandbox._process import Limits, start_worker  # noqa: E402

SECRET = "sk-test-0123456789-SECRET"
MESSAGES = [{"role": "user", "content": "write f"}]


def reply_text(seed: int | None, index: int) -> str:
    return f"def f(x):\n    return x + {seed if seed is not None else 0}  # choice {index}\n"


class QuietServer(ThreadingHTTPServer):
    """A loopback server that says nothing when a client hangs up mid-answer (a cancelled
    or timed-out request does that on purpose); any other error is printed as usual."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """An OpenAI-ish chat endpoint whose next answers follow a script.

    Script steps: "ok", "one" (ignores n), "reject_n" (400 when n > 1), "garbage",
    "drop" (stream stops without finishing), "cut" (body shorter than announced),
    ("status", code, headers), ("sleep", seconds), ("slow_stream", seconds per chunk).
    """

    def __init__(self) -> None:
        self.script: deque = deque()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                step = fake.script.popleft() if fake.script else "ok"
                fake.handle(self, step, body)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: BaseHTTPRequestHandler, step, body: dict) -> None:
        n = body.get("n", 1)
        if isinstance(step, tuple) and step[0] == "status":
            payload = json.dumps({"error": {"message": f"scripted {step[1]}"}}).encode()
            h.send_response(step[1])
            for key, value in (step[2] if len(step) > 2 else {}).items():
                h.send_header(key, value)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if isinstance(step, tuple) and step[0] == "sleep":
            time.sleep(step[1])
            step = "ok"
        if step == "reject_n" and n > 1:
            self.handle(h, ("status", 400), body)
            return
        if step == "one":
            n = 1
        if step == "garbage":
            payload = b'{"choices": [ this is not json'
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        texts = [reply_text(body.get("seed"), i) for i in range(n)]
        if body.get("stream"):
            self.stream(h, texts, step)
            return
        payload = json.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": t},
                        "finish_reason": "stop",
                    }
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": 10 * n, "total_tokens": 0},
            }
        ).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def stream(self, h: BaseHTTPRequestHandler, texts: list[str], step) -> None:
        events = []
        for i, text in enumerate(texts):
            for piece in (text[:9], text[9:20], text[20:]):
                events.append({"index": i, "delta": {"content": piece}, "finish_reason": None})
            events.append({"index": i, "delta": {}, "finish_reason": "stop"})
        if step in ("drop", "cut"):
            events = events[:2]
        lines = [
            "data: "
            + json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "m",
                    "choices": [e],
                }
            )
            + "\n\n"
            for e in events
        ]
        if step not in ("drop", "cut"):
            usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
            lines.append(
                "data: "
                + json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "m",
                        "choices": [],
                        "usage": usage,
                    }
                )
                + "\n\n"
            )
            lines.append("data: [DONE]\n\n")
        data = "".join(lines).encode()
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        if step == "cut":
            h.send_header("Content-Length", str(len(data) + 500))  # promise more than sent
        h.end_headers()
        for line in lines:
            h.wfile.write(line.encode())
            h.wfile.flush()
            if isinstance(step, tuple) and step[0] == "slow_stream":
                time.sleep(step[1])


@pytest.fixture
def fake():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("WB_TEST_LLM_KEY", SECRET)
    return "WB_TEST_LLM_KEY"


def backend(fake: FakeServer, key: str, **kwargs) -> OpenAIBackend:
    options = {"max_retries": 2, "timeout": 5.0, **kwargs}
    return OpenAIBackend("test-model", base_url=fake.url, api_key_env=key, **options)


def test_completion_records_an_exchange_with_parameters_tokens_and_model(fake, key):
    llm = backend(fake, key)
    exchange = llm.complete(
        MESSAGES, temperature=0.2, max_tokens=50, seed=3, stop=["###"], extra={"top_k": 5}
    )
    assert exchange.texts == [reply_text(3, 0)]
    sent = fake.requests[0]
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50 and sent["seed"] == 3
    assert sent["stop"] == ["###"] and sent["top_k"] == 5 and sent["model"] == "test-model"
    assert exchange.prompt_tokens == 7 and exchange.completion_tokens == 10
    assert exchange.backend == "openai" and exchange.model == "test-model"
    assert exchange.endpoint == fake.url
    assert llm.describe()["completion_tokens"] == 10


def test_n_is_sent_once_when_the_server_honours_it(fake, key):
    llm = backend(fake, key)
    exchange = llm.complete(MESSAGES, n=3, seed=1)
    assert len(fake.requests) == 1 and fake.requests[0]["n"] == 3
    assert [c.text for c in exchange.completions] == [reply_text(1, i) for i in range(3)]
    assert exchange.completion_tokens == 30


def test_a_server_that_ignores_n_gets_one_request_per_reply_with_distinct_seeds(fake, key):
    fake.script.extend(["one", "ok", "ok"])
    llm = backend(fake, key, concurrency=2)
    exchange = llm.complete(MESSAGES, n=3, seed=10)
    assert len(exchange.completions) == 3
    assert sorted(r.get("seed") for r in fake.requests[1:]) == [11, 12]
    assert llm.supports_n is False
    llm.complete(MESSAGES, n=2, seed=0)  # now it loops straight away
    assert all("n" not in r for r in fake.requests[3:])


def test_a_server_that_rejects_n_falls_back_to_one_request_per_reply(fake, key):
    fake.script.extend(["reject_n"])
    exchange = backend(fake, key).complete(MESSAGES, n=2, seed=5)
    assert exchange.texts == [reply_text(5, 0), reply_text(6, 0)]


def test_500s_are_retried_with_backoff_until_success(fake, key):
    fake.script.extend([("status", 500), ("status", 502)])
    exchange = backend(fake, key, max_retries=2).complete(MESSAGES)
    assert exchange.texts == [reply_text(None, 0)]
    assert len(fake.requests) == 3


def test_429_is_retried_after_the_servers_retry_after(fake, key):
    fake.script.extend([("status", 429, {"retry-after-ms": "20"})])
    exchange = backend(fake, key, max_retries=1).complete(MESSAGES)
    assert exchange.texts and len(fake.requests) == 2


def test_persistent_429_becomes_a_one_line_llm_error(fake, key):
    fake.script.extend([("status", 429, {"retry-after-ms": "5"})] * 3)
    with pytest.raises(LLMError, match="rate limiting") as info:
        backend(fake, key, max_retries=1).complete(MESSAGES)
    assert "\n" not in str(info.value) and len(fake.requests) == 2


def test_a_slow_server_times_out_with_advice(fake, key):
    fake.script.extend([("sleep", 1.5), ("sleep", 1.5)])
    with pytest.raises(LLMError, match=r"did not answer within 0\.3s .*raise timeout"):
        backend(fake, key, timeout=0.3, max_retries=1).complete(MESSAGES)
    assert len(fake.requests) == 2  # the timeout was retried once


def test_a_client_error_is_not_retried(fake, key):
    fake.script.extend([("status", 404)])
    with pytest.raises(LLMError, match="no model 'test-model'"):
        backend(fake, key).complete(MESSAGES)
    assert len(fake.requests) == 1


def test_garbage_json_is_an_llm_error(fake, key):
    fake.script.append("garbage")
    with pytest.raises(LLMError, match="not a chat completion"):
        backend(fake, key).complete(MESSAGES)


def test_unreachable_server_says_so():
    llm = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env=None, max_retries=0)
    with pytest.raises(LLMError, match="cannot reach .* is the server running"):
        llm.complete(MESSAGES)


def test_streaming_calls_on_token_with_pieces_that_add_up_to_the_reply(fake, key):
    pieces: list[tuple[int, str]] = []
    exchange = backend(fake, key).complete(
        MESSAGES, n=2, seed=4, on_token=lambda i, s: pieces.append((i, s))
    )
    assert fake.requests[0]["stream"] is True
    for index in (0, 1):
        assert "".join(s for i, s in pieces if i == index) == exchange.texts[index]
    assert exchange.texts == [reply_text(4, 0), reply_text(4, 1)]
    assert exchange.completion_tokens == 5 and exchange.prompt_tokens == 7


@pytest.mark.parametrize("step", ["drop", "cut"])
def test_a_dropped_stream_is_an_llm_error_not_a_short_reply(fake, key, step):
    fake.script.append(step)
    with pytest.raises(LLMError, match="stream from .* (ended|broke off)"):
        backend(fake, key).complete(MESSAGES, on_token=lambda i, s: None)


def test_cancel_stops_a_stream(fake, key):
    fake.script.append(("slow_stream", 0.2))
    cancel = threading.Event()
    got: list[str] = []

    def on_token(index: int, piece: str) -> None:
        got.append(piece)
        cancel.set()

    with pytest.raises(LLMCancelled):
        backend(fake, key).complete(MESSAGES, on_token=on_token, cancel=cancel)
    assert len(got) == 1


def test_cancel_before_sending_sends_nothing(fake, key):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(LLMCancelled):
        backend(fake, key).complete(MESSAGES, cancel=cancel)
    assert fake.requests == []


def test_the_key_goes_to_the_server_and_nowhere_else(fake, key, tmp_path):
    llm = RecordingBackend(backend(fake, key))
    llm.complete(MESSAGES)
    assert fake.headers[0]["authorization"] == f"Bearer {SECRET}"
    saved = llm.save(tmp_path / "exchanges.json").read_text()
    assert SECRET not in saved and "WB_TEST_LLM_KEY" not in saved
    assert SECRET not in repr(llm.inner) and SECRET not in str(llm.inner.describe())
    assert SECRET.encode() not in pickle.dumps(llm.inner)
    assert "WB_TEST_LLM_KEY" in repr(llm.inner)  # the name is shown, so users know where


def test_a_pickled_backend_reads_the_key_again_from_the_environment(fake, key):
    llm = pickle.loads(pickle.dumps(backend(fake, key)))
    llm.complete(MESSAGES)
    assert fake.headers[0]["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("name", ["WB_TEST_LLM_KEY", "MY_LLM_CREDS"])
def test_the_key_never_reaches_a_worker(monkeypatch, name):
    monkeypatch.setenv(name, SECRET)
    OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env=name)
    worker = start_worker(
        [sys.executable, "-c", "import os; print(sorted(os.environ.items()))"],
        Limits(timeout=30),
    )
    try:
        worker.process.wait(timeout=30)
        output = worker.output_tail()
    finally:
        worker.close()
    assert "PATH" in output and SECRET not in output and name not in output


def test_a_missing_key_variable_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("WB_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(UsageError, match="WB_TEST_NO_SUCH_KEY holds no API key"):
        OpenAIBackend("m", api_key_env="WB_TEST_NO_SUCH_KEY")


def test_bad_arguments_are_usage_errors(fake, key):
    llm = backend(fake, key)
    with pytest.raises(UsageError, match="n must be"):
        llm.complete(MESSAGES, n=0)
    with pytest.raises(UsageError, match="role"):
        llm.complete([{"role": "wizard", "content": "x"}])
    assert fake.requests == []
