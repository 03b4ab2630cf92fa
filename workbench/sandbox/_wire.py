"""A codec for values coming back from untrusted workers: decoding never runs code.

Supported: None, bool, int, float, complex, str, bytes, list, tuple, dict, set, NumPy arrays
(no object dtype) and NumPy scalars. Anything else is described, not transported: it decodes
to an ``Opaque`` that records the type's name and a short ``repr``. This replaces pickle on
the worker -> kernel path, where unpickling would let a candidate run code in the kernel.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DEPTH = 64
MAX_ITEMS = 1_000_000


@dataclass(frozen=True)
class Opaque:
    """A value the codec does not carry: its type and a short repr."""

    type_name: str
    text: str

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


class WireError(ValueError):
    """A message that does not decode."""


def _describe(obj: Any) -> Opaque:
    kind = type(obj)
    name = (
        f"{kind.__module__}.{kind.__qualname__}"
        if kind.__module__ != "builtins"
        else kind.__qualname__
    )
    try:
        text = repr(obj)
    except Exception as exc:  # a hostile __repr__ must not break the harness
        text = f"<repr failed: {type(exc).__name__}>"
    return Opaque(name, text[:200])


def encode(obj: Any) -> bytes:
    """Encode ``obj`` into bytes (header JSON + binary buffers)."""
    buffers: list[bytes] = []

    def enc(value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return {"t": "opaque", "type": "deep", "repr": "nested too deeply"}
        if value is None or isinstance(value, (bool, str)):
            return {"t": "v", "v": value}
        if isinstance(value, int) and type(value) in (int,):
            return {"t": "int", "v": str(value)}
        if type(value) is float:
            return {"t": "float", "v": value.hex()}
        if type(value) is complex:
            return {"t": "complex", "v": [value.real.hex(), value.imag.hex()]}
        if isinstance(value, (bytes, bytearray)):
            buffers.append(bytes(value))
            return {"t": "bytes", "i": len(buffers) - 1}
        if isinstance(value, np.ndarray) and value.dtype != object and type(value) is np.ndarray:
            buf = io.BytesIO()
            np.save(
                buf,
                np.ascontiguousarray(value) if value.dtype.hasobject is False else value,
                allow_pickle=False,
            )
            buffers.append(buf.getvalue())
            return {"t": "nd", "i": len(buffers) - 1}
        if isinstance(value, np.generic) and not isinstance(value, np.object_):
            buf = io.BytesIO()
            np.save(buf, np.asarray(value), allow_pickle=False)
            buffers.append(buf.getvalue())
            return {"t": "npscalar", "i": len(buffers) - 1}
        if type(value) in (list, tuple, set, frozenset):
            if len(value) > MAX_ITEMS:
                return _opaque_json(_describe(value))
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            return {"t": type(value).__name__, "v": [enc(x, depth + 1) for x in items]}
        if type(value) is dict:
            if len(value) > MAX_ITEMS:
                return _opaque_json(_describe(value))
            return {
                "t": "dict",
                "v": [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in value.items()],
            }
        return _opaque_json(_describe(value))

    header = json.dumps(enc(obj, 0)).encode()
    parts = [b"WB1", struct.pack("<QI", len(header), len(buffers)), header]
    for b in buffers:
        parts.append(struct.pack("<Q", len(b)))
        parts.append(b)
    return b"".join(parts)


def _opaque_json(o: Opaque) -> dict[str, Any]:
    return {"t": "opaque", "type": o.type_name, "repr": o.text}


def decode(data: bytes) -> Any:
    """Decode bytes made by ``encode``; raises ``WireError`` on anything malformed."""
    try:
        if data[:3] != b"WB1":
            raise WireError("not a workbench message")
        hlen, nbuf = struct.unpack_from("<QI", data, 3)
        pos = 3 + 12
        header = json.loads(data[pos : pos + hlen])
        pos += hlen
        buffers = []
        for _ in range(nbuf):
            (blen,) = struct.unpack_from("<Q", data, pos)
            pos += 8
            buffers.append(data[pos : pos + blen])
            pos += blen
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WireError(f"malformed message: {exc}") from None

    def dec(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH + 1 or not isinstance(node, dict):
            raise WireError("malformed message structure")
        t = node.get("t")
        if t == "v":
            return node["v"]
        if t == "int":
            return int(node["v"])
        if t == "float":
            return float.fromhex(node["v"])
        if t == "complex":
            return complex(float.fromhex(node["v"][0]), float.fromhex(node["v"][1]))
        if t == "bytes":
            return bytes(buffers[node["i"]])
        if t in ("nd", "npscalar"):
            arr = np.load(io.BytesIO(buffers[node["i"]]), allow_pickle=False)
            return arr[()] if t == "npscalar" else arr
        if t in ("list", "tuple", "set", "frozenset"):
            items = [dec(x, depth + 1) for x in node["v"]]
            return {"list": list, "tuple": tuple, "set": _safe_set, "frozenset": _safe_frozenset}[
                t
            ](items)
        if t == "dict":
            out = {}
            for k, v in node["v"]:
                key = dec(k, depth + 1)
                try:
                    out[key] = dec(v, depth + 1)
                except TypeError:  # an unhashable key (e.g. an array): keep it described
                    out[repr(key)] = dec(v, depth + 1)
            return out
        if t == "opaque":
            return Opaque(str(node["type"]), str(node["repr"]))
        raise WireError(f"unknown node type {t!r}")

    try:
        return dec(header, 0)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError(f"malformed message: {exc}") from None


def _safe_set(items: list[Any]) -> Any:
    try:
        return set(items)
    except TypeError:
        return items


def _safe_frozenset(items: list[Any]) -> Any:
    try:
        return frozenset(items)
    except TypeError:
        return items
