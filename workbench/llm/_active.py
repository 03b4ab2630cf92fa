"""The process-wide active backend that ``%wb llm`` shows and switches.

Pure functions, no IPython: the magic parses its line and calls :func:`set_backend`;
strategies built with ``backend=None`` ask :func:`get_backend` each time they run, so a
switch applies to the next generation. With nothing configured the embedded local model is
the default when its extra is installed.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any

from .._errors import LLMError, UsageError, require
from ._types import Backend

KINDS = ("local", "openai", "replay", "off")
_HOW_TO_GET_ONE = (
    "pip install 'workbench[local]' for the embedded model, or "
    "%wb llm openai --base-url URL --model M --api-key-env VAR"
)

_lock = threading.Lock()
_active: Backend | None = None
_off = False


def local_model_installed() -> bool:
    """Whether the embedded model's extra (``xllamacpp`` and ``openai``) is importable."""
    return all(importlib.util.find_spec(m) is not None for m in ("xllamacpp", "openai"))


def llm_available() -> bool:
    """Whether :func:`get_backend` would return a backend (for the magic's default strategies)."""
    with _lock:
        if _off:
            return False
        return _active is not None or local_model_installed()


def get_backend() -> Backend:
    """The active backend; by default the embedded local model (its server starts on first use)."""
    global _active
    with _lock:
        if _off:
            raise LLMError(
                f"the LLM is switched off (%wb llm off); to switch it on: {_HOW_TO_GET_ONE}"
            )
        if _active is None:
            if not local_model_installed():
                raise LLMError(f"no LLM backend is configured: {_HOW_TO_GET_ONE}")
            from ._local import default_local_model

            _active = default_local_model()
        return _active


def set_backend(kind: str, **options: Any) -> Backend | None:
    """Switch the active backend and return it (``None`` for ``"off"``).

    - ``"local"``: the embedded model; options go to :class:`~workbench.llm.LocalModel`
      (``model=``, ``slots=``, ...), none means the shared default instance.
    - ``"openai"``: ``model=`` (required), ``base_url=``, ``api_key_env=`` (the *name* of the
      variable holding the key; defaults to ``OPENAI_API_KEY`` without ``base_url`` and to
      none with one, as local servers need no key), ``vision=True`` when the model takes
      images (``visualize`` then asks it to critique each plot), other options go to
      :class:`~workbench.llm.OpenAIBackend`.
    - ``"replay"``: ``path=`` of a recording written by ``save_exchanges``.
    - ``"off"``: no LLM; strategies that need one say so.
    """
    global _active, _off
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise UsageError(f"unknown LLM backend {kind!r}: use one of {', '.join(KINDS)}")
    new: Backend | None = None
    if kind == "local":
        new = _make_local(options)
    elif kind == "openai":
        new = _make_openai(options)
    elif kind == "replay":
        new = _make_replay(options)
    elif options:
        raise UsageError(f"%wb llm off takes no options (got {', '.join(sorted(options))})")
    with _lock:
        previous, _active, _off = _active, new, kind == "off"
    if previous is not None and previous is not new:
        previous.close()  # e.g. stops a local server nobody uses any more
    return new


def describe_backend() -> str:
    """One line per fact for ``%wb llm``: backend, model, endpoint, requests, tokens used."""
    with _lock:
        backend, off = _active, _off
    if off:
        return "LLM: off\n" + f"switch it on: {_HOW_TO_GET_ONE}"
    if backend is None:
        if not local_model_installed():
            return f"LLM: none configured\n{_HOW_TO_GET_ONE}"
        backend = get_backend()
    info = backend.describe()
    endpoint = info.get("endpoint")
    if endpoint is None and info.get("backend") == "local":
        endpoint = "(loopback server, starts on first use)"
    lines = [
        f"backend:  {info.get('backend')}",
        f"model:    {info.get('model')}",
        f"endpoint: {endpoint or '-'}",
    ]
    if info.get("api_key_env"):
        lines.append(f"api key:  from ${info['api_key_env']}")
    if info.get("vision"):
        lines.append("vision:   yes (%%visualize sends each plot for a critique)")
    elif info.get("backend") == "openai":
        lines.append("vision:   no (add --vision if the model takes images)")
    else:
        lines.append("vision:   no")
    lines += [
        f"requests: {info.get('requests', 0)}",
        f"tokens:   {info.get('prompt_tokens', 0)} prompt + "
        f"{info.get('completion_tokens', 0)} completion",
    ]
    return "\n".join(lines)


def _make_local(options: dict[str, Any]) -> Backend:
    if options.pop("vision", False):
        raise UsageError(
            "the embedded model cannot see images: use --vision with %wb llm openai and a "
            "vision model"
        )
    require("xllamacpp", "local", "the embedded local model")
    require("openai", "local", "the embedded local model")
    from ._local import LocalModel, default_local_model

    if not options:
        return default_local_model()
    try:
        return LocalModel(**options)
    except TypeError as exc:
        raise UsageError(f"%wb llm local: {_option_error(exc)}") from None


def _make_openai(options: dict[str, Any]) -> Backend:
    require("openai", "llm", "an OpenAI-compatible LLM backend")
    from ._openai import OpenAIBackend

    options = dict(options)
    model = options.pop("model", None)
    if not model:
        raise UsageError(
            "%wb llm openai needs --model NAME (and --base-url URL for a non-OpenAI server)"
        )
    base_url = options.pop("base_url", None)
    default_env = None if base_url else "OPENAI_API_KEY"
    api_key_env = options.pop("api_key_env", default_env) or None
    vision = options.pop("vision", False)
    if isinstance(vision, str):  # from a magic line: --vision alone is True
        vision = vision.strip().lower() in ("1", "true", "yes", "on")
    _numbers_from_text(options, {"timeout": float, "connect_timeout": float}, "openai")
    _numbers_from_text(options, {"max_retries": int, "concurrency": int}, "openai")
    if api_key_env is not None and not api_key_env.replace("_", "").isalnum():
        raise UsageError(
            f"--api-key-env takes the NAME of an environment variable, not {api_key_env[:4]}…; "
            "never paste the key itself"
        )
    try:
        return OpenAIBackend(
            model, base_url=base_url, api_key_env=api_key_env, vision=bool(vision), **options
        )
    except TypeError as exc:
        raise UsageError(f"%wb llm openai: {_option_error(exc)}") from None


def _make_replay(options: dict[str, Any]) -> Backend:
    from ._replay import ReplayBackend

    options = dict(options)
    path = options.pop("path", None)
    if not path:
        raise UsageError("%wb llm replay needs the PATH of a recording (a .json file)")
    if not os.path.exists(path):
        raise UsageError(f"no recording at {path}: check the path")
    try:
        return ReplayBackend(path, **options)
    except TypeError as exc:
        raise UsageError(f"%wb llm replay: {_option_error(exc)}") from None


def _numbers_from_text(options: dict[str, Any], kinds: dict[str, type], kind: str) -> None:
    """Options typed on a magic line arrive as text: ``--timeout 300`` is the number 300."""
    for name, convert in kinds.items():
        value = options.get(name)
        if isinstance(value, str):
            try:
                options[name] = convert(value)
            except ValueError:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"%wb llm {kind}: {flag} takes a number, not {value!r}") from None


def _option_error(exc: TypeError) -> str:
    text = str(exc)
    if "unexpected keyword argument" in text:
        name = text.rsplit(" ", 1)[-1].strip("'")
        return f"unknown option {name!r}"
    return text


def _reset_for_tests() -> None:
    """Forget the active backend without closing it (tests restore the default state)."""
    global _active, _off
    with _lock:
        _active, _off = None, False
