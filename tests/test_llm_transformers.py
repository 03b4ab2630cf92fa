"""TransformersBackend with a tiny randomly initialised model built here (no hub access)."""

from __future__ import annotations

import threading

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from workbench._errors import UsageError  # noqa: E402
from workbench.llm import LLMCancelled, TransformersBackend  # noqa: E402

MESSAGES = [{"role": "user", "content": "def add(a, b): return a + b"}]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-gpt2")
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<eos>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = ["def add(a, b):\n    return a + b", "import numpy as np", "user: assistant:"] * 20
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>"
    )
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


def test_samples_n_candidates_in_one_batch_with_counts(tiny_model):
    llm = TransformersBackend(tiny_model, device="cpu")
    exchange = llm.complete(MESSAGES, n=3, max_tokens=12, temperature=1.0, seed=0)
    assert len(exchange.completions) == 3 and exchange.backend == "transformers"
    for completion in exchange.completions:
        assert completion.prompt_tokens > 0 and 0 < completion.completion_tokens <= 12
        assert completion.finish_reason in ("stop", "length")
    assert len(set(exchange.texts)) > 1  # sampled, not copies


def test_the_same_seed_gives_the_same_candidates(tiny_model):
    llm = TransformersBackend(tiny_model, device="cpu")
    a = llm.complete(MESSAGES, n=2, max_tokens=8, temperature=1.0, seed=7).texts
    b = llm.complete(MESSAGES, n=2, max_tokens=8, temperature=1.0, seed=7).texts
    assert a == b


def test_on_token_streams_each_row(tiny_model):
    llm = TransformersBackend(tiny_model, device="cpu")
    pieces: dict[int, str] = {}
    exchange = llm.complete(
        MESSAGES,
        n=2,
        max_tokens=10,
        temperature=1.0,
        seed=1,
        on_token=lambda i, s: pieces.__setitem__(i, pieces.get(i, "") + s),
    )
    assert [pieces.get(i, "") for i in range(2)] == exchange.texts
    assert any(exchange.texts)


def test_cancel_stops_generation(tiny_model):
    llm = TransformersBackend(tiny_model, device="cpu")
    cancel = threading.Event()
    seen: list[str] = []

    def on_token(index: int, piece: str) -> None:
        seen.append(piece)
        cancel.set()

    with pytest.raises(LLMCancelled):
        llm.complete(MESSAGES, max_tokens=200, temperature=1.0, on_token=on_token, cancel=cancel)
    assert 0 < len(seen) < 20


def test_greedy_with_n_above_one_is_refused_and_a_missing_folder_too(tiny_model, tmp_path):
    with pytest.raises(UsageError, match="temperature > 0"):
        TransformersBackend(tiny_model, device="cpu").complete(MESSAGES, n=2, temperature=0)
    with pytest.raises(UsageError, match="no model directory"):
        TransformersBackend(tmp_path / "nothing")
