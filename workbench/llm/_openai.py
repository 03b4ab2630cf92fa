"""A backend for any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

The API key is read from the environment variable *named* by ``api_key_env`` each time the
client sends a request: the backend stores the variable's name, never its value, so the key
is absent from exchanges, logs, reprs and pickles (workers get a scrubbed environment anyway).

Retries with exponential backoff on 408/409/429/5xx, connection errors and timeouts are the
``openai`` client's own (``max_retries``; it honours ``Retry-After``). What is left after the
retries becomes an ``LLMError`` whose one line says what to do.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._errors import LLMError, UsageError, require
from ._types import Backend, Completion, LLMCancelled, Request, TokenCallback, image_bytes

_NO_KEY = "no-key-needed"  # the client insists on some key; local servers ignore it


class OpenAIBackend(Backend):
    """Chat completions through the official ``openai`` client.

    ``concurrency`` is how many requests may be in flight at once when the server answers
    fewer than ``n`` choices per request (llama.cpp with several slots: set it to the slots).
    ``supports_n=None`` finds out on the first ``n > 1`` call whether the server honours ``n``
    and otherwise sends ``n`` requests (seeds ``seed, seed+1, ...`` so the replies differ).
    ``vision=True`` says the model takes images (user messages with image parts): only then
    are images sent, e.g. for ``visualize``'s critique of each plot.
    """

    kind = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 3,
        concurrency: int = 1,
        supports_n: bool | None = None,
        extra: Mapping[str, Any] | None = None,
        kind: str | None = None,
        vision: bool = False,
    ) -> None:
        super().__init__()
        if not model:
            raise UsageError("name the model, e.g. --model gpt-4o-mini")
        if api_key_env is not None and not os.environ.get(api_key_env):
            raise UsageError(
                f"environment variable {api_key_env} holds no API key: set it before starting "
                "Python, or pass api_key_env=None for a server that needs none"
            )
        if timeout <= 0 or connect_timeout <= 0 or max_retries < 0 or concurrency < 1:
            raise UsageError("timeouts must be positive, max_retries >= 0, concurrency >= 1")
        self._model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_retries = int(max_retries)
        self.concurrency = int(concurrency)
        self.supports_n = supports_n
        self.default_extra = dict(extra or {})
        self.vision = bool(vision)
        if kind:
            self.kind = kind
        self._client_obj: Any = None
        self._client_lock = threading.Lock()

    # -- what the backend is ---------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._model

    @property
    def endpoint(self) -> str | None:
        return self.base_url or "https://api.openai.com/v1"

    @property
    def supports_images(self) -> bool:  # type: ignore[override]
        return self.vision

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "api_key_env": self.api_key_env}

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} model={self.model!r} base_url={self.endpoint!r} "
            f"api_key_env={self.api_key_env!r}{' vision' if self.vision else ''}>"
        )

    def __getstate__(self) -> dict[str, Any]:
        # the client (and what it caches) stays behind: a pickled backend carries no secret
        state = self.__dict__.copy()
        for name in ("_client_obj", "_client_lock", "_usage_lock", "_listeners"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client_obj = None
        self._client_lock = threading.Lock()
        self._usage_lock = threading.Lock()
        self._listeners = []

    def close(self) -> None:
        with self._client_lock:
            if self._client_obj is not None:
                self._client_obj.close()
                self._client_obj = None

    # -- the client --------------------------------------------------------------------------

    def _client(self) -> Any:
        with self._client_lock:
            if self._client_obj is None:
                openai = require("openai", "llm", "an OpenAI-compatible LLM backend")
                env = self.api_key_env

                def read_key() -> str:  # read at each request: the value is never kept here
                    return (os.environ.get(env) if env else None) or _NO_KEY

                self._client_obj = openai.OpenAI(
                    api_key=read_key,
                    base_url=self.base_url,
                    timeout=openai.Timeout(self.timeout, connect=self.connect_timeout),
                    max_retries=self.max_retries,
                )
            return self._client_obj

    # -- completions -------------------------------------------------------------------------

    def _complete(
        self,
        request: Request,
        *,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> list[Completion]:
        completions: list[Completion] = []
        if request.n > 1 and self.supports_n is not False:
            try:
                completions = self._call(request, request.n, 0, on_token, cancel)
            except _NotSupportedN:
                self.supports_n = False
            else:
                # a server that ignores n answers one choice: loop for the rest from now on
                self.supports_n = len(completions) >= request.n
                completions = completions[: request.n]
        missing = request.n - len(completions)
        if missing <= 0:
            return completions
        offsets = list(range(len(completions), request.n))
        if self.concurrency == 1 or missing == 1:
            for offset in offsets:
                completions += self._call(request, 1, offset, on_token, cancel)
            return completions
        with ThreadPoolExecutor(max_workers=min(self.concurrency, missing)) as pool:
            futures = [
                pool.submit(self._call, request, 1, offset, on_token, cancel) for offset in offsets
            ]
            for future in futures:
                completions += future.result()
        return completions

    def _params(self, request: Request, n: int, offset: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m) for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if n > 1:
            params["n"] = n
        if request.seed is not None:
            params["seed"] = request.seed + offset
        if request.stop:
            params["stop"] = list(request.stop)
        extra = {**self.default_extra, **request.extra}
        if extra:
            params["extra_body"] = extra
        return params

    def _call(
        self,
        request: Request,
        n: int,
        offset: int,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> list[Completion]:
        openai = require("openai", "llm", "an OpenAI-compatible LLM backend")
        params = self._params(request, n, offset)
        t0 = time.perf_counter()
        try:
            if on_token is None and cancel is None:
                response = self._client().chat.completions.create(**params)
                return self._parse(response, offset, n, time.perf_counter() - t0)
            # streamed whenever tokens are wanted or the call may be cancelled
            stream = self._client().chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True}
            )
            return self._consume(stream, offset, n, on_token, cancel, t0)
        except (LLMError, _NotSupportedN):
            raise
        except openai.BadRequestError as exc:
            if n > 1:  # many servers reject n > 1; one request per reply shows a real error
                raise _NotSupportedN from exc
            if request.images:
                raise LLMError(
                    f"{self.endpoint} refused a request with {request.images} image(s) (400: "
                    f"{_server_message(exc)}): use a vision model, or drop --vision"
                ) from None
            raise self._error(exc) from None
        except Exception as exc:
            raise self._error(exc) from None

    def _parse(self, response: Any, offset: int, n: int, latency: float) -> list[Completion]:
        try:
            choices = sorted(response.choices, key=lambda c: c.index)
            texts = [c.message.content or "" for c in choices]
            reasons = [c.finish_reason or "stop" for c in choices]
        except (AttributeError, TypeError):
            raise LLMError(
                f"{self.endpoint} answered with something that is not a chat completion "
                f"({_trim(repr(response), 120)}): check base_url points at an OpenAI-compatible API"
            ) from None
        usage = getattr(response, "usage", None)
        return _completions(texts, reasons, usage, latency)

    def _consume(
        self,
        stream: Any,
        offset: int,
        n: int,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
        t0: float,
    ) -> list[Completion]:
        pieces: dict[int, list[str]] = {}
        reasons: dict[int, str] = {}
        usage = None
        received = 0
        try:
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    raise LLMCancelled(f"cancelled after {received} characters")
                if getattr(chunk, "usage", None) is not None:
                    usage = chunk.usage
                for choice in chunk.choices or ():
                    piece = choice.delta.content if choice.delta is not None else None
                    if piece:
                        pieces.setdefault(choice.index, []).append(piece)
                        received += len(piece)
                        if on_token is not None:
                            on_token(offset + choice.index, piece)
                    if choice.finish_reason:
                        reasons[choice.index] = choice.finish_reason
        except LLMCancelled:
            stream.close()
            raise
        except Exception as exc:
            stream.close()
            raise LLMError(
                f"the stream from {self.endpoint} broke off after {received} characters "
                f"({_describe(exc)}): try again, or lower max_tokens"
            ) from None
        if len(reasons) < min(n, max(len(pieces), 1)):
            raise LLMError(
                f"the stream from {self.endpoint} ended after {received} characters before the "
                "model finished: try again, or check the server's log"
            )
        indices = sorted(set(pieces) | set(reasons))
        texts = ["".join(pieces.get(i, ())) for i in indices]
        return _completions(
            texts, [reasons.get(i, "stop") for i in indices], usage, time.perf_counter() - t0
        )

    def _error(self, exc: Exception) -> LLMError:
        openai = require("openai", "llm", "an OpenAI-compatible LLM backend")
        where, tries = self.endpoint, self.max_retries + 1
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(
                f"{where} did not answer within {self.timeout:g}s ({tries} tries): "
                "raise timeout=, lower max_tokens, or check the server"
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"cannot reach {where} ({tries} tries): is the server running?")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMError(
                f"{where} refused the API key in ${self.api_key_env}: check that variable"
            )
        if isinstance(exc, openai.RateLimitError):
            return LLMError(
                f"{where} is rate limiting ({tries} tries): wait, ask for fewer candidates, "
                "or raise max_retries"
            )
        if isinstance(exc, openai.NotFoundError):
            return LLMError(f"{where} has no model {self.model!r} (404): check model and base_url")
        if isinstance(exc, openai.APIStatusError):
            return LLMError(
                f"{where} answered {exc.status_code} ({tries} tries): {_server_message(exc)}"
            )
        return LLMError(
            f"{where} answered with something that is not a chat completion "
            f"({_describe(exc)}): check base_url points at an OpenAI-compatible API"
        )


def _wire_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """The message as the API takes it; an image known only by its digest cannot be sent."""
    content = message["content"]
    if isinstance(content, str):
        return dict(message)
    parts = []
    for part in content:
        if part.get("type") == "image_url" and image_bytes(part) is None:
            raise LLMError(
                "this request's image was stored by its digest only (a recorded exchange): "
                "replay it with ReplayBackend, or build the request again from the PNG"
            )
        parts.append({k: dict(v) if isinstance(v, Mapping) else v for k, v in part.items()})
    return {**message, "content": parts}


class _NotSupportedN(Exception):
    """The server rejected ``n > 1``."""


def _completions(
    texts: list[str], reasons: list[str], usage: Any, latency: float
) -> list[Completion]:
    prompt = getattr(usage, "prompt_tokens", None)
    total = getattr(usage, "completion_tokens", None)
    shares: list[int | None] = [None] * len(texts)
    if isinstance(total, int):
        # usage covers all choices of one request: share it out by length
        size = sum(len(t) for t in texts) or 1
        shares = [total * len(t) // size for t in texts]
        shares[-1] = total - sum(shares[:-1])  # type: ignore[operator]
    return [
        Completion(
            text=text,
            finish_reason=reason,
            prompt_tokens=prompt if isinstance(prompt, int) else None,
            completion_tokens=share,
            latency_s=latency,
        )
        for text, reason, share in zip(texts, reasons, shares)
    ]


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body
        if isinstance(message, dict):
            message = message.get("message", message)
        return _trim(str(message), 200)
    return _trim(str(getattr(exc, "message", exc)), 200)


def _describe(exc: Exception) -> str:
    return _trim(f"{type(exc).__name__}: {exc}", 160)


def _trim(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
