"""Recording exchanges and replaying them without a model."""

from __future__ import annotations

import threading

import pytest

from workbench._errors import LLMError, UsageError
from workbench.llm import (
    Backend,
    Completion,
    RecordingBackend,
    ReplayBackend,
    load_exchanges,
)


class Counter(Backend):
    """A backend whose replies number the calls, so repeats are visible."""

    kind = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    @property
    def model(self) -> str:
        return "counter-1"

    def _complete(self, request, *, on_token, cancel):
        self.calls += 1
        return [
            Completion(f"{request.messages[-1]['content']} #{self.calls}.{i}", "stop", 3, 2)
            for i in range(request.n)
        ]


MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def test_recorded_exchanges_replay_from_json_identically(tmp_path):
    recorder = RecordingBackend(Counter())
    first = recorder.complete(MESSAGES, n=2, seed=1, temperature=0.5)
    second = recorder.complete(MESSAGES, n=2, seed=2, temperature=0.5)
    path = recorder.save(tmp_path / "run.json")

    replay = ReplayBackend(path)
    assert replay.complete(MESSAGES, n=2, seed=2, temperature=0.5).texts == second.texts
    again = replay.complete(MESSAGES, n=2, seed=1, temperature=0.5)
    assert again.texts == first.texts and again.backend == "replay"
    assert again.completion_tokens == first.completion_tokens == 4
    assert load_exchanges(path)[0].model == "counter-1"


def test_the_same_request_recorded_twice_replays_in_order():
    recorder = RecordingBackend(Counter())
    a = recorder.complete(MESSAGES).texts
    b = recorder.complete(MESSAGES).texts
    replay = ReplayBackend(recorder.exchanges, cycle=False)
    assert replay.complete(MESSAGES).texts == a
    assert replay.complete(MESSAGES).texts == b
    with pytest.raises(LLMError, match="all were served"):
        replay.complete(MESSAGES)


def test_a_miss_names_what_differs():
    recorder = RecordingBackend(Counter())
    recorder.complete(MESSAGES, temperature=0.5)
    replay = ReplayBackend(recorder.exchanges)
    with pytest.raises(LLMError, match="temperature is 0.9, the nearest recording has 0.5"):
        replay.complete(MESSAGES, temperature=0.9)
    changed = [MESSAGES[0], {"role": "user", "content": "hello"}]
    with pytest.raises(LLMError, match="message 2 differs"):
        replay.complete(changed, temperature=0.5)
    with pytest.raises(LLMError, match="no recorded exchanges"):
        ReplayBackend([]).complete(MESSAGES)


def test_replay_streams_the_recorded_text_to_on_token():
    recorder = RecordingBackend(Counter())
    recorder.complete(MESSAGES, n=2)
    pieces: list[tuple[int, str]] = []
    exchange = ReplayBackend(recorder.exchanges).complete(
        MESSAGES, n=2, on_token=lambda i, s: pieces.append((i, s))
    )
    assert pieces == list(enumerate(exchange.texts))


def test_listeners_see_every_exchange_and_usage_adds_up():
    inner = Counter()
    seen = []
    recorder = RecordingBackend(inner)
    recorder.add_listener(seen.append)
    threads = [threading.Thread(target=recorder.complete, args=(MESSAGES,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == len(recorder.exchanges) == 4
    assert recorder.usage.completion_tokens == 8 and inner.usage.requests == 4


def test_not_a_recording_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(UsageError, match="not a workbench LLM recording"):
        ReplayBackend(bad)
    with pytest.raises(UsageError, match="no recording at"):
        ReplayBackend(tmp_path / "missing.json")


def test_a_prompt_whose_measurements_changed_still_replays_but_other_words_do_not():
    # refine prompts carry timings and hot-line shares, which differ on every run
    def prompt(median: str, share: str) -> list[dict]:
        return [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": f"median {median} ms; line 4 ({share}%) is hot"},
        ]

    recorder = RecordingBackend(Counter())
    recorded = recorder.complete(prompt("1.25", "61")).texts[0]
    replay = ReplayBackend(recorder.exchanges)
    assert replay.complete(prompt("1.31", "58")).texts[0] == recorded
    with pytest.raises(LLMError, match="message 2 differs"):
        replay.complete(
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "median 1 s"}]
        )
