"""Which model exchange wrote which candidate, from the session's ``llm_exchange`` events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..llm._extract import extract_code
from ..optimizer._results import OptimizeResult, candidate_id
from ..store._sessions import SessionStore


@dataclass
class ExchangeView:
    """One exchange as the explorer shows it: the last thing asked and what came back."""

    prompt: str  # the request's last user message
    reply: str  # the completion that held the candidate's code
    model: str
    round: int  # position of the exchange in the run, from 1


def candidate_exchanges(result: OptimizeResult) -> dict[str, ExchangeView]:
    """candidate id -> the exchange whose reply became that candidate (LLM candidates only)."""
    if not result.run_id or not result.store_path:
        return {}
    try:
        events = SessionStore(result.store_path).events(result.run_id)
    except Exception:  # a result whose session is gone still shows, without exchanges
        return {}
    found: dict[str, ExchangeView] = {}
    number = 0
    for event in events:
        data = event["data"]
        if event["kind"] != "llm_exchange" or not isinstance(data, dict):
            continue
        number += 1
        messages = (data.get("request") or {}).get("messages") or []
        prompt = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
        for completion in data.get("completions") or []:
            reply = completion.get("text") or ""
            code = extract_code(reply, result.entry).code
            if code is not None:
                found.setdefault(
                    candidate_id(code), ExchangeView(prompt, reply, data.get("model", "?"), number)
                )
    return found


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # text and image parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")
