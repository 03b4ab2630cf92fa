"""The embedded default model: a small Qwen2.5-Coder GGUF served by llama.cpp on loopback.

:class:`LocalModel` assembles and verifies the weights (``_model_files``), starts llama.cpp's
own OpenAI-compatible server (``xllamacpp``) in a child process bound to 127.0.0.1 on a free
port with ``slots`` parallel sequences, and then talks to it through :class:`OpenAIBackend`,
so local and remote models share one code path. The server starts on first use and stops
when the backend is closed, garbage-collected, or the interpreter exits.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import LLMError, UsageError, require
from ..sandbox._process import _SECRET
from ._model_files import DEFAULT_MODEL, ensure_model, model_spec
from ._openai import OpenAIBackend
from ._types import Backend, Completion, Request, TokenCallback


class LocalModel(Backend):
    """The embedded model, served by llama.cpp with ``slots`` concurrent sequences.

    ``slots`` is how many sequences the server decodes at once; each gets ``ctx_per_slot``
    tokens of context. By default it follows the cores (:func:`default_slots`): on two cores,
    three paths in three slots ran at 0.77x the speed of one after another
    (``benchmarks/llm_throughput.py``), so a small machine gets one slot and the paths queue.
    """

    kind = "local"
    supports_images = False  # a text-only coder model: requests with images are refused

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        slots: int | None = None,
        ctx_per_slot: int = 4096,
        threads: int | None = None,
        gpu_layers: int = -1,
        cache_dir: str | os.PathLike[str] | None = None,
        start_timeout: float = 180.0,
        timeout: float = 600.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.spec = model_spec(model)
        slots = default_slots() if slots is None else slots
        if slots < 1 or ctx_per_slot < 256:
            raise UsageError("a local model needs slots >= 1 and ctx_per_slot >= 256")
        self.slots = slots
        self.ctx_per_slot = ctx_per_slot
        # llama.cpp's own default can oversubscribe a small machine badly (10x slower here)
        self.threads = threads if threads is not None else _physical_cores()
        self.gpu_layers = gpu_layers
        self.cache_dir = cache_dir
        self.start_timeout = start_timeout
        self.timeout = timeout
        self.progress = progress
        self.model_path: Path | None = None
        self._http: OpenAIBackend | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._finalizer: weakref.finalize | None = None
        self._start_lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.spec.name

    @property
    def endpoint(self) -> str | None:
        return self._http.base_url if self._http is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> OpenAIBackend:
        """Start the server now (it also starts on the first completion); idempotent."""
        with self._start_lock:
            if self._http is not None and self.running:
                return self._http
            self._stop()
            require("xllamacpp", "local", "the embedded local model")
            self.model_path = ensure_model(
                self.spec.name, directory=self.cache_dir, progress=self.progress
            )
            address = self._spawn(self.model_path)
            self._http = OpenAIBackend(
                self.spec.name,
                base_url=address + "/v1",
                api_key_env=None,
                timeout=self.timeout,
                max_retries=1,
                concurrency=self.slots,
                supports_n=None,
                kind="local",
            )
            return self._http

    def _spawn(self, model_path: Path) -> str:
        argv = [
            sys.executable,
            "-m",
            "workbench.llm._llama_server",
            str(model_path),
            "--parallel",
            str(self.slots),
            "--ctx-per-slot",
            str(self.ctx_per_slot),
            "--threads",
            str(self.threads),
            "--gpu-layers",
            str(self.gpu_layers),
            "--alias",
            self.spec.name,
        ]
        # the server is ours, not untrusted, but it has no use for credentials either
        env = {k: v for k, v in os.environ.items() if not _SECRET.search(k)}
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        if self.progress:
            self.progress(f"starting llama.cpp with {self.spec.name} ({self.slots} slots)")
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env
        )
        self._process = process
        self._finalizer = weakref.finalize(self, _stop_process, process, self._log)
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(
            target=lambda: lines.put(process.stdout.readline()),
            daemon=True,  # type: ignore[union-attr]
        ).start()
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                line = lines.get(timeout=0.2)
                break
            except queue.Empty:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = self.log_tail()
                    self._stop()
                    raise LLMError(
                        f"the local llama.cpp server did not start ({tail or 'no output'}): "
                        "check memory and the model file, or use %wb llm openai"
                    ) from None
        try:
            address = json.loads(line)["address"]
        except (ValueError, KeyError, TypeError):
            tail = self.log_tail()
            self._stop()
            raise LLMError(f"the local llama.cpp server did not start ({tail})") from None
        self._wait_healthy(address, deadline)
        return address

    def _wait_healthy(self, address: str, deadline: float) -> None:
        while True:
            try:
                with urllib.request.urlopen(address + "/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or not self.running:
                tail = self.log_tail()
                self._stop()
                raise LLMError(f"the local llama.cpp server never became ready ({tail})")
            time.sleep(0.2)

    def log_tail(self, limit: int = 300) -> str:
        """The end of the server's log, one line."""
        if self._log is None:
            return ""
        try:
            self._log.seek(0, os.SEEK_END)
            size = self._log.tell()
            self._log.seek(max(0, size - limit))
            text = self._log.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return " ".join(text.split())[-limit:]

    def _complete(
        self,
        request: Request,
        *,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> list[Completion]:
        http = self.start()
        return http._complete(request, on_token=on_token, cancel=cancel)

    def _stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._finalizer is not None:
            self._finalizer()  # stops the process once; later calls do nothing
            self._finalizer = None
        self._process = None
        self._log = None

    def close(self) -> None:
        """Stop the server (a later completion starts it again)."""
        with self._start_lock:
            self._stop()


def default_slots(cores: int | None = None) -> int:
    """Parallel sequences worth having on this machine: one per two physical cores, at most
    four (each decode step is memory-bound; more slots than that only share the same cores)."""
    cores = _physical_cores() if cores is None else cores
    return max(1, min(4, cores // 2)) if cores > 2 else 1


def _physical_cores() -> int:
    import psutil

    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, min(available, psutil.cpu_count(logical=False) or available))


def _stop_process(process: subprocess.Popen[bytes], log: Any) -> None:
    # closing stdin asks the child to exit; terminate/kill only if it does not
    try:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    finally:
        if process.stdout is not None:
            process.stdout.close()
        if log is not None:
            log.close()


_default: LocalModel | None = None
_default_lock = threading.Lock()


def default_local_model() -> LocalModel:
    """The process-wide embedded model (one server shared by every session)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = LocalModel()
        return _default
