"""Images in LLM requests: a loopback OpenAI-compatible server that checks the PNG it is sent,
backends that cannot see images, record/replay of a vision exchange, and ``--vision``."""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest

pytest.importorskip("openai")

from test_llm_openai import QuietServer  # noqa: E402

from workbench._errors import LLMError, UsageError  # noqa: E402
from workbench.llm import (  # noqa: E402
    LocalModel,
    OpenAIBackend,
    RecordingBackend,
    ReplayBackend,
    load_exchanges,
)
from workbench.llm._types import image_part, make_request, text_part  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_png(width: int = 4, height: int = 3, shade: int = 0) -> bytes:
    """A valid RGB PNG, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([shade, 128, 255 - shade]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def check_png(data: bytes) -> tuple[int, int]:
    """(width, height) of a well-formed PNG; AssertionError on anything else."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG signature"
    pos, kinds = len(PNG_SIGNATURE), []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        body = data[pos + 4 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(body) == crc, f"bad CRC in chunk {body[:4]!r}"
        kinds.append(body[:4])
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds, kinds
    return struct.unpack(">II", data[16:24])


def images_in(body: dict) -> list[bytes]:
    """The PNG bytes of every image part in a chat request body (checked data URLs)."""
    found = []
    for message in body["messages"]:
        if isinstance(message["content"], str):
            continue
        for part in message["content"]:
            if part["type"] == "image_url":
                url = part["image_url"]["url"]
                assert url.startswith("data:image/png;base64,"), url[:40]
                found.append(base64.b64decode(url.split(",", 1)[1], validate=True))
    return found


class VisionServer:
    """An OpenAI-compatible chat endpoint that looks at images.

    A request with image parts must hold valid PNGs (else 400); it is answered with a critique
    naming the image's size. Text requests are answered by ``responder(prompt)``. ``mode``:
    "ok", "refuse_images" (400 for any image, as a text-only model's server does),
    "slow_images" (answers an image after 3 s).
    """

    def __init__(self, responder: Callable[[str], str] | None = None) -> None:
        self.responder = responder or (lambda prompt: "a text reply")
        self.mode = "ok"
        self.requests: list[dict] = []
        self.images: list[bytes] = []
        self.critiques: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                status, text = fake.answer(body)
                if status != 200:
                    payload = json.dumps({"error": {"message": text}}).encode()
                else:
                    payload = json.dumps(
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {"prompt_tokens": 9, "completion_tokens": 5},
                        }
                    ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, body: dict) -> tuple[int, str]:
        try:
            pngs = images_in(body)
            sizes = [check_png(png) for png in pngs]
        except (AssertionError, ValueError, struct.error) as exc:
            return 400, f"invalid image: {exc}"
        if not pngs:
            return 200, self.responder(body["messages"][-1]["content"])
        if self.mode == "refuse_images":
            return 400, "image input is not supported by this model"
        if self.mode == "slow_images":
            time.sleep(3)
        width, height = sizes[0]
        text = (
            f"- the legend covers the lines ({width}x{height} image, {len(pngs[0])} bytes)\n"
            "- the y-axis label is too small"
        )
        with self._lock:
            self.images += pngs
            self.critiques.append(text)
        return 200, text

    @property
    def text_requests(self) -> list[dict]:
        return [
            r for r in self.requests if all(isinstance(m["content"], str) for m in r["messages"])
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    fake = VisionServer()
    yield fake
    fake.close()


def vision_messages(png: bytes) -> list[dict]:
    return [
        {"role": "system", "content": "You review charts."},
        {"role": "user", "content": [text_part("judge this chart"), image_part(png)]},
    ]


def test_a_vision_backend_sends_the_png_as_an_image_part_and_gets_a_critique(server):
    png = tiny_png(5, 2)
    llm = OpenAIBackend("vlm", base_url=server.url, api_key_env=None, vision=True)
    exchange = llm.complete(vision_messages(png), max_tokens=100, seed=1)

    assert server.images == [png]  # the server decoded exactly our bytes, a well-formed PNG
    sent = server.requests[0]["messages"][1]["content"]
    assert sent[0] == {"type": "text", "text": "judge this chart"}
    assert "5x2 image" in exchange.texts[0]
    assert exchange.request.images == 1
    # stored: the image as its digest, not its bytes again
    stored = json.dumps(exchange.to_json())
    assert base64.b64encode(png).decode() not in stored and "sha256:" in stored
    assert llm.describe()["vision"] is True


def test_a_backend_without_vision_sends_no_image(server):
    blind = OpenAIBackend("tiny", base_url=server.url, api_key_env=None)
    with pytest.raises(UsageError, match="cannot see images.*--vision"):
        blind.complete(vision_messages(tiny_png()))
    assert server.requests == []
    # the embedded model refuses too, before any server would start
    with pytest.raises(UsageError, match="local backend .* cannot see images"):
        LocalModel().complete(vision_messages(tiny_png()))
    assert blind.describe()["vision"] is False


def test_a_server_that_refuses_images_is_a_one_line_llm_error(server):
    server.mode = "refuse_images"
    llm = OpenAIBackend("tiny", base_url=server.url, api_key_env=None, vision=True, max_retries=0)
    with pytest.raises(LLMError, match=r"refused a request with 1 image.*not supported.*--vision"):
        llm.complete(vision_messages(tiny_png()))


def test_requests_with_images_are_checked_and_keyed_by_the_image_bytes():
    a, b = tiny_png(shade=0), tiny_png(shade=9)
    assert make_request(vision_messages(a)).key() == make_request(vision_messages(a)).key()
    assert make_request(vision_messages(a)).key() != make_request(vision_messages(b)).key()
    with pytest.raises(UsageError, match="only user messages"):
        make_request([{"role": "system", "content": [image_part(a)]}])
    with pytest.raises(UsageError, match="image_part"):
        make_request([{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}])
    # text-only requests keep the keys they always had (older recordings still replay)
    plain = make_request([{"role": "user", "content": "hi"}])
    assert plain.to_json()["messages"] == [{"role": "user", "content": "hi"}]


def test_a_recorded_vision_exchange_replays_from_a_small_file(server, tmp_path):
    png = tiny_png(40, 30)
    recorder = RecordingBackend(
        OpenAIBackend("vlm", base_url=server.url, api_key_env=None, vision=True)
    )
    assert recorder.supports_images
    said = recorder.complete(vision_messages(png), seed=2).texts
    path = recorder.save(tmp_path / "vision.json")
    assert base64.b64encode(png).decode() not in path.read_text()

    replay = ReplayBackend(path)
    assert replay.supports_images
    assert replay.complete(vision_messages(png), seed=2).texts == said
    assert len(server.requests) == 1  # the replay asked no server
    with pytest.raises(LLMError, match="message 2 differs"):
        replay.complete(vision_messages(tiny_png(40, 30, shade=7)), seed=2)
    # a replay of a text-only recording does not claim to see images
    blind = RecordingBackend(OpenAIBackend("tiny", base_url=server.url, api_key_env=None))
    blind.complete([{"role": "user", "content": "hi"}])
    assert not ReplayBackend(blind.save(tmp_path / "text.json")).supports_images


def test_a_request_read_back_from_json_cannot_be_sent_without_its_image(server, tmp_path):
    png = tiny_png()
    llm = OpenAIBackend("vlm", base_url=server.url, api_key_env=None, vision=True)
    recorder = RecordingBackend(llm)
    recorder.complete(vision_messages(png))
    stored = load_exchanges(recorder.save(tmp_path / "x.json"))[0].request
    with pytest.raises(LLMError, match="stored by its digest only"):
        llm.run(stored)


def test_wb_llm_vision_flag_parses_and_is_shown(shell, server):
    shown = shell.run_line_magic(
        "wb", f"llm openai --base-url {server.url} --model vlm --vision --timeout 300"
    )
    assert "vision:   yes" in shown
    from workbench.llm import get_backend

    assert get_backend().supports_images and get_backend().model == "vlm"
    assert get_backend().timeout == 300.0  # numbers typed on the line are numbers
    shown = shell.run_line_magic("wb", f"llm openai --model tiny --base-url {server.url}")
    assert "vision:   no (add --vision" in shown and not get_backend().supports_images
    from IPython.core.error import UsageError as IPythonUsageError

    with pytest.raises(IPythonUsageError, match="embedded model cannot see images"):
        shell.run_line_magic("wb", "llm local --vision")
    with pytest.raises(IPythonUsageError, match="--timeout takes a number"):
        shell.run_line_magic("wb", f"llm openai --model m --base-url {server.url} --timeout soon")


def test_the_python_api_takes_vision_too(server):
    from workbench.llm import describe_backend, set_backend

    backend = set_backend("openai", model="vlm", base_url=server.url, vision=True)
    assert backend.supports_images and "vision:   yes" in describe_backend()
    assert "vision" in repr(backend)
