"""The one small interface every model backend implements, and the records it produces.

A backend turns a chat (a list of ``{"role", "content"}`` messages) plus sampling parameters
into ``n`` completions. A user message's content may be a list of parts in the OpenAI format,
text and PNG images (``image_part``), for backends that see images (``supports_images``). Every call yields an :class:`Exchange`: what was asked, what came back,
tokens and latency, and which backend/model answered, so the session can store it and a
:class:`~workbench.llm.ReplayBackend` can serve it again. An exchange never holds credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from .._errors import STOPPED_WRITING, LLMError, UsageError

#: a chat message as the OpenAI API spells it: {"role": "system"|"user"|"assistant", "content":
#: str}, or for a user message content as a list of text and image parts (see ``image_part``)
Message = Mapping[str, Any]
#: called with (choice index, text piece) while tokens arrive
TokenCallback = Callable[[int, str], None]


@contextmanager
def abandoned_when_stopped(notes: list[str]) -> Iterator[None]:
    """A model request stopped by the user (``LLMCancelled``) inside the block abandons the
    run: noted in ``notes``, re-raised with what the user is told."""
    try:
        yield
    except LLMCancelled:
        notes.append("stopped by the user while the model was writing")
        raise LLMCancelled(STOPPED_WRITING) from None


def token_events(
    emit: Callable[[dict[str, Any]], None] | None, stream: str | Callable[[int], str]
) -> TokenCallback | None:
    """An ``on_token`` that passes each piece on as the progress event every view reads,
    ``{"kind": "tokens", "stream": name, "piece": text}``; ``stream`` is the name a person
    sees ("plan", "path numpy-sum", "code 3"), or makes it from the choice index. None
    without ``emit``."""
    if emit is None:
        return None

    def on_token(index: int, piece: str) -> None:
        name = stream(index) if callable(stream) else stream
        emit({"kind": "tokens", "stream": name, "piece": piece})

    return on_token


_ROLES = ("system", "user", "assistant")
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)$")
_REF_SCHEME = "sha256:"  # an image stored by digest only: enough to match a replay, not to send


def image_part(image: bytes, media_type: str = "image/png") -> dict[str, Any]:
    """An image as an OpenAI chat content part (a base64 data URL)."""
    if not image:
        raise UsageError("the image is empty: pass the PNG's bytes")
    url = f"data:{media_type};base64,{base64.b64encode(image).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def text_part(text: str) -> dict[str, Any]:
    """Text as an OpenAI chat content part."""
    return {"type": "text", "text": text}


def image_bytes(part: Mapping[str, Any]) -> bytes | None:
    """The bytes of an image part, or None when only its digest was kept (a stored exchange)."""
    match = _DATA_URL.match(str(part.get("image_url", {}).get("url", "")))
    return base64.b64decode(match.group(2)) if match else None


def _compact_part(part: Mapping[str, Any]) -> dict[str, Any]:
    """An image part with its data replaced by a digest of the bytes (the same for equal images)."""
    if part.get("type") != "image_url":
        return dict(part)
    url = str(part["image_url"]["url"])
    match = _DATA_URL.match(url)
    if match is None:
        return {"type": "image_url", "image_url": dict(part["image_url"])}
    data = base64.b64decode(match.group(2))
    digest = _REF_SCHEME + hashlib.sha256(data).hexdigest()
    kept = {k: v for k, v in part["image_url"].items() if k != "url"}  # e.g. "detail"
    return {
        "type": "image_url",
        "image_url": {**kept, "url": digest, "media_type": match.group(1), "bytes": len(data)},
    }


def _compact_message(message: Mapping[str, Any], images: bool = False) -> dict[str, Any]:
    content = message["content"]
    if isinstance(content, str) or images:
        return {**message, "content": content if isinstance(content, str) else _copy(content)}
    return {**message, "content": [_compact_part(p) for p in content]}


def _copy(parts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: dict(v) if isinstance(v, Mapping) else v for k, v in p.items()} for p in parts]


class LLMCancelled(LLMError):
    """The caller set the cancel event while the model was generating."""


@dataclass(frozen=True)
class Request:
    """What is asked of a backend: the messages and every parameter that shapes the reply."""

    messages: tuple[dict[str, Any], ...]
    n: int = 1
    temperature: float = 0.7
    max_tokens: int = 1024
    seed: int | None = None
    stop: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def images(self) -> int:
        """How many image parts the messages carry."""
        return sum(
            1
            for m in self.messages
            if not isinstance(m["content"], str)
            for p in m["content"]
            if p.get("type") == "image_url"
        )

    def to_json(self, images: bool = False) -> dict[str, Any]:
        """The request as JSON; images as a sha256 of their bytes unless ``images`` is true.

        The digest is what :meth:`key` hashes, so a stored request replays the same, and the
        session does not hold each image twice (the attempt already keeps it).
        """
        data = asdict(self)
        data["messages"] = [_compact_message(m, images) for m in self.messages]
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Request:
        return cls(
            messages=tuple(_compact_message(m, images=True) for m in data["messages"]),
            n=int(data.get("n", 1)),
            temperature=float(data.get("temperature", 0.7)),
            max_tokens=int(data.get("max_tokens", 1024)),
            seed=data.get("seed"),
            stop=tuple(data.get("stop", ())),
            extra=dict(data.get("extra", {})),
        )

    def key(self) -> str:
        """A digest of messages and parameters: equal requests have equal keys (an image counts
        by the sha256 of its bytes, so a request read back from JSON keeps its key)."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Completion:
    """One reply of the model."""

    text: str
    finish_reason: str = "stop"  # "stop" | "length" | "cancelled" | server-specific
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Completion:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Exchange:
    """One call to a backend: request, completions, cost, and who answered."""

    request: Request
    completions: tuple[Completion, ...]
    backend: str
    model: str
    endpoint: str | None = None  # base URL or local path; never a credential
    started_at: float = 0.0  # time.time() when the call began
    latency_s: float = 0.0  # wall time of the whole call

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.completions]

    @property
    def prompt_tokens(self) -> int:
        # the prompt is processed once per request; backends that loop report it per completion
        return max((c.prompt_tokens or 0 for c in self.completions), default=0)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens or 0 for c in self.completions)

    def to_json(self, images: bool = False) -> dict[str, Any]:
        return {
            "request": self.request.to_json(images),
            "completions": [asdict(c) for c in self.completions],
            "backend": self.backend,
            "model": self.model,
            "endpoint": self.endpoint,
            "started_at": self.started_at,
            "latency_s": self.latency_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Exchange:
        return cls(
            request=Request.from_json(data["request"]),
            completions=tuple(Completion.from_json(c) for c in data["completions"]),
            backend=data.get("backend", "?"),
            model=data.get("model", "?"),
            endpoint=data.get("endpoint"),
            started_at=float(data.get("started_at", 0.0)),
            latency_s=float(data.get("latency_s", 0.0)),
        )


@dataclass
class Usage:
    """Running totals of one backend, for ``%wb llm``."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def make_request(
    messages: Sequence[Message],
    *,
    n: int = 1,
    temperature: float = 0.7,
    max_tokens: int = 1024,
    seed: int | None = None,
    stop: Sequence[str] | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Request:
    """Check the arguments of :meth:`Backend.complete` and freeze them into a :class:`Request`."""
    if not messages:
        raise UsageError("an LLM request needs at least one message")
    frozen = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES or not isinstance(content, (str, list, tuple)):
            raise UsageError(
                f"each message needs a role in {_ROLES} and text content, "
                f"not {_short(dict(message))}"
            )
        if not isinstance(content, str):
            content = _check_parts(role, content)
        frozen.append({"role": role, "content": content})
    if n < 1:
        raise UsageError(f"n must be at least 1, not {n}")
    if max_tokens < 1:
        raise UsageError(f"max_tokens must be at least 1, not {max_tokens}")
    if temperature < 0:
        raise UsageError(f"temperature must be 0 or more, not {temperature}")
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    return Request(
        messages=tuple(frozen),
        n=int(n),
        temperature=float(temperature),
        max_tokens=int(max_tokens),
        seed=seed,
        stop=stops,
        extra=dict(extra or {}),
    )


def _check_parts(role: str, parts: Sequence[Any]) -> list[dict[str, Any]]:
    checked = []
    for part in parts:
        kind = part.get("type") if isinstance(part, Mapping) else None
        image = part.get("image_url") if kind == "image_url" else None
        if kind == "text" and isinstance(part.get("text"), str):
            checked.append(text_part(part["text"]))
        elif isinstance(image, Mapping) and _DATA_URL.match(str(image.get("url"))):
            if role != "user":  # the chat API takes images from the user only
                raise UsageError(f"only user messages can hold images, not a {role} message")
            checked.append({"type": "image_url", "image_url": dict(image)})
        else:
            raise UsageError(
                "a content part is {'type': 'text', 'text': ...} or an image from "
                f"workbench.llm.image_part(png_bytes), not {_short(part)}"
            )
    if not checked:
        raise UsageError("a message's list of content parts is empty: add text or an image")
    return checked


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Backend(ABC):
    """A model that completes chats. Subclasses implement :meth:`_complete`.

    ``complete`` is safe to call from several threads at once (the engine generates the
    K paths concurrently); each call returns its own :class:`Exchange`.
    """

    #: short name shown by ``%wb llm`` ("openai", "local", "transformers", "replay")
    kind: str = "backend"
    #: whether requests may carry images (a vision model); others refuse them in :meth:`run`
    supports_images: bool = False

    def __init__(self) -> None:
        self.usage = Usage()
        self._usage_lock = threading.Lock()
        self._listeners: list[Callable[[Exchange], None]] = []

    @property
    @abstractmethod
    def model(self) -> str:
        """The model's name as the backend reports it."""

    @property
    def endpoint(self) -> str | None:
        """Where the model lives (base URL or local path), never a credential."""
        return None

    def describe(self) -> dict[str, Any]:
        """What ``%wb llm`` shows."""
        return {
            "backend": self.kind,
            "model": self.model,
            "endpoint": self.endpoint,
            "vision": bool(self.supports_images),
            "requests": self.usage.requests,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
        }

    def add_listener(self, listener: Callable[[Exchange], None]) -> None:
        """Call ``listener(exchange)`` after every successful call (the session stores them)."""
        self._listeners.append(listener)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        n: int = 1,
        temperature: float = 0.7,
        max_tokens: int = 1024,
        seed: int | None = None,
        stop: Sequence[str] | str | None = None,
        extra: Mapping[str, Any] | None = None,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Exchange:
        """Ask for ``n`` completions of ``messages``; the replies are ``exchange.texts``.

        ``on_token(index, piece)`` is called while text arrives (streaming backends);
        setting ``cancel`` stops the generation and raises :class:`LLMCancelled`.
        """
        request = make_request(
            messages,
            n=n,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            stop=stop,
            extra=extra,
        )
        return self.run(request, on_token=on_token, cancel=cancel)

    def run(
        self,
        request: Request,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Exchange:
        """Like :meth:`complete`, for a ready-made :class:`Request`."""
        if cancel is not None and cancel.is_set():
            raise LLMCancelled("cancelled before the request was sent")
        if request.images and not self.supports_images:
            raise UsageError(
                f"the {self.kind} backend ({self.model}) cannot see images: use "
                "%wb llm openai --model M --vision with a vision model"
            )
        started_at, t0 = time.time(), time.perf_counter()
        completions = self._complete(request, on_token=on_token, cancel=cancel)
        exchange = Exchange(
            request=request,
            completions=tuple(completions),
            backend=self.kind,
            model=self.model,
            endpoint=self.endpoint,
            started_at=started_at,
            latency_s=time.perf_counter() - t0,
        )
        self._record(exchange)
        return exchange

    def _record(self, exchange: Exchange) -> None:
        with self._usage_lock:
            self.usage.requests += 1
            self.usage.prompt_tokens += exchange.prompt_tokens
            self.usage.completion_tokens += exchange.completion_tokens
        for listener in list(self._listeners):
            listener(exchange)

    @abstractmethod
    def _complete(
        self,
        request: Request,
        *,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> list[Completion]:
        """Produce exactly ``request.n`` completions or raise ``LLMError``."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release what the backend holds (connections, a server process)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model={self.model!r} endpoint={self.endpoint!r}>"
