"""Record every exchange of a backend, and replay recorded exchanges without a model.

A replay matches a request by its messages and parameters (:meth:`Request.key`), so demos
(Binder) and tests get exactly the replies that were recorded. Prompts carry measurements
(timings, hot-line shares) that differ from run to run, so a request with no exact match is
matched again with every number in its messages masked: the words must still be the same. Exchanges are stored as JSON;
an image in a request is stored as the sha256 of its bytes, which is all a replay matches on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from pathlib import Path

from .._errors import LLMError, UsageError
from ._types import Backend, Completion, Exchange, Request, TokenCallback

_FORMAT = "workbench-llm-exchanges/1"


class RecordingBackend(Backend):
    """Passes calls to ``inner`` and keeps every :class:`Exchange` in ``exchanges``."""

    def __init__(self, inner: Backend) -> None:
        super().__init__()
        self.inner = inner
        self.kind = inner.kind
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def endpoint(self) -> str | None:
        return self.inner.endpoint

    @property
    def supports_images(self) -> bool:  # type: ignore[override]
        return self.inner.supports_images

    def run(
        self,
        request: Request,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Exchange:
        exchange = self.inner.run(request, on_token=on_token, cancel=cancel)
        with self._lock:
            self.exchanges.append(exchange)
        self._record(exchange)
        return exchange

    def _complete(self, request, *, on_token, cancel):  # pragma: no cover - run() delegates
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the exchanges recorded so far to a JSON file."""
        with self._lock:
            return save_exchanges(self.exchanges, path)

    def close(self) -> None:
        self.inner.close()


class ReplayBackend(Backend):
    """Serves recorded exchanges: the same request gets the recorded replies, in order.

    Requests asked more often than recorded cycle through their recordings again when
    ``cycle`` is true; otherwise, and for a request never recorded, the call raises
    ``LLMError`` naming the first message that differs from the nearest recording.
    """

    kind = "replay"

    def __init__(
        self,
        exchanges: Iterable[Exchange] | str | os.PathLike[str],
        *,
        cycle: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(exchanges, str | os.PathLike):
            exchanges = load_exchanges(exchanges)
        self.recorded = list(exchanges)
        self.cycle = cycle
        self._queues: dict[str, deque[Exchange]] = defaultdict(deque)
        for exchange in self.recorded:
            self._queues[exchange.request.key()].append(exchange)
            self._queues[_numberless_key(exchange.request)].append(exchange)
        self._served: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        models = sorted({e.model for e in self.recorded})
        return ", ".join(models) if models else "(nothing recorded)"

    @property
    def supports_images(self) -> bool:  # type: ignore[override]
        # sees images when the recorded model did: a replay of a blind model asks for no critique
        return any(e.request.images for e in self.recorded)

    def _complete(
        self,
        request: Request,
        *,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> list[Completion]:
        key = request.key()
        with self._lock:
            if not self._queues.get(key):
                key = _numberless_key(request)  # the same words, other measurements
            queue = self._queues.get(key)
            if not queue:
                raise LLMError(self._miss(request))
            position = self._served[key]
            if position >= len(queue) and not self.cycle:
                raise LLMError(
                    f"the recording holds {len(queue)} replies to this request and all were "
                    "served: record again, or use ReplayBackend(..., cycle=True)"
                )
            self._served[key] = position + 1
            exchange = queue[position % len(queue)]
        if on_token is not None:
            for index, completion in enumerate(exchange.completions):
                on_token(index, completion.text)
        return list(exchange.completions)

    def _miss(self, request: Request) -> str:
        if not self.recorded:
            return "the replay has no recorded exchanges: record a session first"
        nearest = max(self.recorded, key=lambda e: _shared_prefix(e.request, request))
        recorded = nearest.request
        for field in ("n", "temperature", "max_tokens", "seed", "stop", "extra"):
            if getattr(recorded, field) != getattr(request, field):
                return (
                    f"no recorded reply for this request: {field} is "
                    f"{getattr(request, field)!r}, the nearest recording has "
                    f"{getattr(recorded, field)!r}"
                )
        index = _shared_prefix(recorded, request)
        return (
            f"no recorded reply for this request: message {index + 1} differs from the "
            "nearest recording (record again, or replay the same notebook)"
        )


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?")


def _numberless_key(request: Request) -> str:
    """The request's key with every number in its messages masked (parameters kept)."""
    data = request.to_json()
    text = json.dumps(data["messages"], sort_keys=True, separators=(",", ":"))
    data["messages"] = _NUMBER.sub("#", text)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "numberless:" + hashlib.sha256(canonical.encode()).hexdigest()


def _shared_prefix(a: Request, b: Request) -> int:
    count = 0
    for left, right in zip(a.to_json()["messages"], b.to_json()["messages"]):
        if left != right:
            break
        count += 1
    return count


def save_exchanges(exchanges: Iterable[Exchange], path: str | os.PathLike[str]) -> Path:
    """Write exchanges as JSON (atomically)."""
    path = Path(path)
    payload = {"format": _FORMAT, "exchanges": [e.to_json() for e in exchanges]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    os.replace(tmp, path)
    return path


def load_exchanges(path: str | os.PathLike[str]) -> list[Exchange]:
    """Read exchanges written by :func:`save_exchanges`."""
    try:
        payload = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"no recording at {path}: check the path") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not a recording ({exc.msg}): pick another file") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise UsageError(f"{path} is not a workbench LLM recording ({_FORMAT})")
    return [Exchange.from_json(e) for e in payload["exchanges"]]
