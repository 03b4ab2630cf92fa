"""A local ``transformers`` causal LM (CPU or GPU) that samples ``n`` candidates in one batch."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from .._errors import LLMError, UsageError, require
from ._types import Backend, Completion, LLMCancelled, Request, TokenCallback

_PURPOSE = "the transformers LLM backend"


class TransformersBackend(Backend):
    """A causal LM loaded from a local directory (never from a hub).

    The prompt is built with the tokenizer's chat template when it has one, else as
    ``role: content`` lines. ``device`` is ``"cpu"``, ``"cuda"`` or ``None`` (CUDA if there).
    """

    kind = "transformers"
    supports_images = False  # a causal text LM: requests with images are refused

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device: str | None = None,
        dtype: str | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise UsageError(f"no model directory at {self.path}: pass a saved model's folder")
        self.device = device
        self.dtype = dtype
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()  # one generate at a time: the model is not re-entrant

    @property
    def model(self) -> str:
        return self.path.name

    @property
    def endpoint(self) -> str | None:
        return str(self.path)

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            torch = require("torch", "transformers", _PURPOSE)
            transformers = require("transformers", "transformers", _PURPOSE)
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            kwargs: dict[str, Any] = {"local_files_only": True}
            if self.dtype:
                kwargs["dtype"] = getattr(torch, self.dtype)
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(
                    self.path, local_files_only=True
                )
                model = transformers.AutoModelForCausalLM.from_pretrained(self.path, **kwargs)
            except (OSError, ValueError) as exc:
                raise LLMError(f"cannot load a causal LM from {self.path} ({exc})") from None
            model.to(device).eval()
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            self.device = device
            self._loaded = (tokenizer, model)
        return self._loaded

    def _prompt(self, tokenizer: Any, request: Request) -> str:
        messages = [dict(m) for m in request.messages]
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nassistant:"

    def _complete(
        self,
        request: Request,
        *,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> list[Completion]:
        torch = require("torch", "transformers", _PURPOSE)
        transformers = require("transformers", "transformers", _PURPOSE)
        with self._lock:
            tokenizer, model = self._load()
            prompt = self._prompt(tokenizer, request)
            encoded = tokenizer(prompt, return_tensors="pt").to(self.device)
            prompt_tokens = int(encoded["input_ids"].shape[1])
            sample = request.temperature > 0
            generator_kwargs: dict[str, Any] = {
                "max_new_tokens": request.max_tokens,
                "num_return_sequences": request.n,
                "do_sample": sample,
                "pad_token_id": tokenizer.pad_token_id,
                **request.extra,
            }
            if sample:
                generator_kwargs["temperature"] = request.temperature
            elif request.n > 1:
                raise UsageError("n > 1 needs temperature > 0 (greedy decoding gives n copies)")
            streamer = _BatchStreamer(tokenizer, request.n, on_token) if on_token else None
            stopping = transformers.StoppingCriteriaList([_CancelCriteria(cancel)])
            if request.seed is not None:
                torch.manual_seed(request.seed)
            t0 = time.perf_counter()
            with torch.inference_mode():
                output = model.generate(
                    **encoded, streamer=streamer, stopping_criteria=stopping, **generator_kwargs
                )
            latency = time.perf_counter() - t0
        if cancel is not None and cancel.is_set():
            raise LLMCancelled("cancelled while the model was generating")
        completions = []
        eos = tokenizer.eos_token_id
        for row in output[:, prompt_tokens:]:
            ids = row.tolist()
            if eos is not None and eos in ids:
                ids, reason = ids[: ids.index(eos)], "stop"
            else:
                reason = "length" if len(ids) >= request.max_tokens else "stop"
            ids = [i for i in ids if i != tokenizer.pad_token_id]
            text = tokenizer.decode(ids, skip_special_tokens=True)
            text, stopped = _cut_at_stop(text, request.stop)
            completions.append(
                Completion(
                    text=text,
                    finish_reason="stop" if stopped else reason,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=len(ids),
                    latency_s=latency,
                )
            )
        return completions


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    cuts = [text.index(s) for s in stops if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


class _CancelCriteria:
    """Stops ``generate`` for every sequence once the cancel event is set."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        stop = self.cancel is not None and self.cancel.is_set()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class _BatchStreamer:
    """Decodes each of the n sequences as tokens arrive and reports the new text per row.

    ``generate`` calls ``put`` first with the prompt, then with one token per row per step.
    """

    def __init__(self, tokenizer: Any, n: int, on_token: TokenCallback) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.ids: list[list[int]] = [[] for _ in range(n)]
        self.sent = [""] * n
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for row, token in enumerate(value.reshape(-1).tolist()):
            if row >= len(self.ids):
                break
            self.ids[row].append(token)
            text = self.tokenizer.decode(self.ids[row], skip_special_tokens=True)
            if len(text) > len(self.sent[row]) and not text.endswith("\ufffd"):
                self.on_token(row, text[len(self.sent[row]) :])
                self.sent[row] = text

    def end(self) -> None:
        pass
