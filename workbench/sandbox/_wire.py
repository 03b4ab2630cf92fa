"""A codec for values coming back from untrusted workers: decoding never runs code.

Supported: None, bool, int, float, complex, str, bytes, list, tuple, dict, set, NumPy arrays
(object arrays item by item) and NumPy scalars; ndarray subclasses as their base arrays
(``BaseArray``, which remembers the type), masked arrays as data and mask; pandas DataFrame,
Series and Index (columns as arrays with their dtypes, the index, names; categoricals,
datetimes with time zones, strings, nullable extension dtypes, MultiIndex, RangeIndex); SciPy
sparse matrices and arrays (as coordinates); torch CPU tensors; numba typed List and Dict as
list and dict; dataclasses and namedtuples as ``Record``. Anything else is described, not
transported: it decodes to an ``Opaque`` that records the type's name and a short ``repr``,
which ``compare`` never accepts as equal. Decoding only builds data (arrays with
``allow_pickle=False``, pandas objects from arrays, types from fixed tables): this replaces
pickle on the worker -> kernel path, where unpickling would let a candidate run code in the
kernel.
"""

from __future__ import annotations

import dataclasses
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


@dataclass(frozen=True)
class Record:
    """A dataclass, namedtuple or masked array, by its type's name and its fields."""

    type_name: str
    kind: str  # "dataclass" | "namedtuple" | "masked"
    fields: dict[str, Any]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{self.type_name.rsplit('.', 1)[-1]}({inner})"


class BaseArray(np.ndarray):
    """An ndarray subclass's data as a plain array; ``wire_type`` names the subclass."""

    wire_type: str = ""


class WireError(ValueError):
    """A message that does not decode."""


def _type_name(obj: Any) -> str:
    kind = type(obj)
    return (
        f"{kind.__module__}.{kind.__qualname__}"
        if kind.__module__ != "builtins"
        else kind.__qualname__
    )


def _describe(obj: Any) -> Opaque:
    try:
        text = repr(obj)
    except Exception as exc:  # a hostile __repr__ must not break the harness
        text = f"<repr failed: {type(exc).__name__}>"
    return Opaque(_type_name(obj), text[:200])


# SciPy sparse classes a message may name (decoding looks names up here, nowhere else)
_SPARSE = (
    "csr_matrix",
    "csc_matrix",
    "coo_matrix",
    "lil_matrix",
    "dok_matrix",
    "bsr_matrix",
    "dia_matrix",
    "csr_array",
    "csc_array",
    "coo_array",
    "lil_array",
    "dok_array",
    "bsr_array",
    "dia_array",
)


def encode(obj: Any) -> bytes:
    """Encode ``obj`` into bytes (header JSON + binary buffers)."""
    buffers: list[bytes] = []

    def array(value: np.ndarray) -> dict[str, Any]:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
        buffers.append(buf.getvalue())
        return {"t": "nd", "i": len(buffers) - 1}

    def objects(value: np.ndarray, depth: int) -> dict[str, Any]:
        if value.size > MAX_ITEMS:
            return _opaque_json(_describe(value))
        return {
            "t": "ndobj",
            "shape": list(value.shape),
            "v": [enc(x, depth + 1) for x in value.ravel().tolist()],
        }

    def column(values: Any, depth: int) -> dict[str, Any]:
        """A Series' or an Index's values, with their dtype."""
        import pandas as pd

        dtype = values.dtype
        if isinstance(dtype, np.dtype):
            arr = np.asarray(values)
            return objects(arr, depth) if arr.dtype.hasobject else array(arr)
        if isinstance(dtype, pd.CategoricalDtype):
            cat = pd.Categorical(values)
            return {
                "t": "pd.cat",
                "codes": array(np.asarray(cat.codes)),
                "categories": index(cat.categories, depth + 1),
                "ordered": bool(cat.ordered),
            }
        if isinstance(dtype, pd.DatetimeTZDtype):
            return {
                "t": "pd.dttz",
                "i8": array(np.asarray(values.array.asi8)),
                "unit": str(dtype.unit),
                "tz": str(dtype.tz),
            }
        items = [
            None if v is pd.NA or (v is not None and v != v) else v for v in list(values.array)
        ]
        return {"t": "pd.ext", "dtype": str(dtype), "v": [enc(x, depth + 1) for x in items]}

    def index(value: Any, depth: int) -> dict[str, Any]:
        import pandas as pd

        if isinstance(value, pd.RangeIndex):
            return {
                "t": "pd.range",
                "v": [value.start, value.stop, value.step],
                "name": enc(value.name, depth + 1),
            }
        if isinstance(value, pd.MultiIndex):
            return {
                "t": "pd.multi",
                "levels": [
                    column(value.get_level_values(i), depth + 1) for i in range(value.nlevels)
                ],
                "names": [enc(n, depth + 1) for n in value.names],
            }
        return {
            "t": "pd.index",
            "v": column(value, depth + 1),
            "name": enc(value.name, depth + 1),
        }

    def pandas_value(value: Any, depth: int) -> dict[str, Any] | None:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            if value.size > MAX_ITEMS:
                return _opaque_json(_describe(value))
            return {
                "t": "pd.frame",
                "columns": index(value.columns, depth + 1),
                "index": index(value.index, depth + 1),
                "data": [column(value.iloc[:, j], depth + 1) for j in range(value.shape[1])],
            }
        if isinstance(value, pd.Series):
            if value.size > MAX_ITEMS:
                return _opaque_json(_describe(value))
            return {
                "t": "pd.series",
                "v": column(value, depth + 1),
                "index": index(value.index, depth + 1),
                "name": enc(value.name, depth + 1),
            }
        if isinstance(value, pd.Index):
            return index(value, depth)
        if isinstance(value, pd.Timestamp):
            return {"t": "pd.ts", "v": value.isoformat()}
        if isinstance(value, pd.Timedelta):
            return {"t": "pd.td", "v": int(value.value)}
        return None

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
        if type(value) is np.ndarray:
            return objects(value, depth) if value.dtype.hasobject else array(value)
        if isinstance(value, np.ma.MaskedArray):
            return {
                "t": "masked",
                "type": _type_name(value),
                "data": enc(np.asarray(value.data), depth + 1),
                "mask": array(np.ma.getmaskarray(value)),
            }
        if isinstance(value, np.ndarray):  # a subclass (matrix, memmap, recarray): its data
            base = np.asarray(value).view(np.ndarray)
            node = objects(base, depth) if base.dtype.hasobject else array(base)
            return {**node, "sub": _type_name(value)}
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
        module = type(value).__module__ or ""
        if module.startswith("pandas"):
            node = pandas_value(value, depth)
            if node is not None:
                return node
        if module.startswith("scipy.sparse") and type(value).__name__ in _SPARSE:
            coo = value.tocoo()
            return {
                "t": "sparse",
                "cls": type(value).__name__,
                "shape": [int(n) for n in value.shape],
                "row": array(np.asarray(coo.row)),
                "col": array(np.asarray(coo.col)),
                "data": array(np.asarray(coo.data)),
            }
        if module.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter"):
            tensor = value.detach()
            if tensor.device.type != "cpu":
                return _opaque_json(_describe(value))
            dtype = str(tensor.dtype)
            if dtype == "torch.bfloat16":  # NumPy has no bfloat16: carried as float32
                tensor = tensor.float()
            return {"t": "torch", "dtype": dtype, "v": array(tensor.numpy())}
        if module.startswith("numba.typed"):  # typed List / Dict: their Python equivalents
            name = type(value).__name__
            if name == "List":
                return enc(list(value), depth)
            if name == "Dict":
                return enc(dict(value), depth)
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            return {
                "t": "record",
                "kind": "namedtuple",
                "type": _type_name(value),
                "v": [[str(k), enc(v, depth + 1)] for k, v in zip(type(value)._fields, value)],
            }
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                "t": "record",
                "kind": "dataclass",
                "type": _type_name(value),
                "v": [
                    [f.name, enc(getattr(value, f.name), depth + 1)]
                    for f in dataclasses.fields(value)
                ],
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

    def load(node: Any) -> np.ndarray:
        if not isinstance(node, dict) or node.get("t") != "nd":
            raise WireError("malformed array")
        return np.load(io.BytesIO(buffers[node["i"]]), allow_pickle=False)

    def column(node: Any, depth: int) -> Any:
        """The values of a pandas column or index: an ndarray or a pandas array."""
        import pandas as pd

        t = node.get("t")
        if t in ("nd", "ndobj"):
            return dec(node, depth + 1)
        if t == "pd.cat":
            categories = index(node["categories"], depth + 1)
            return pd.Categorical.from_codes(
                load(node["codes"]), categories=categories, ordered=bool(node["ordered"])
            )
        if t == "pd.dttz":
            dtype = pd.DatetimeTZDtype(unit=str(node["unit"]), tz=str(node["tz"]))
            return (
                pd.array(load(node["i8"]).view(f"M8[{node['unit']}]"), dtype=f"M8[{node['unit']}]")
                .tz_localize("UTC")
                .tz_convert(dtype.tz)
            )
        if t == "pd.ext":
            dtype = pd.api.types.pandas_dtype(str(node["dtype"]))
            if isinstance(dtype, np.dtype):
                raise WireError("malformed pandas column")
            return pd.array([dec(x, depth + 1) for x in node["v"]], dtype=dtype)
        raise WireError(f"unknown column type {t!r}")

    def index(node: Any, depth: int) -> Any:
        import pandas as pd

        t = node.get("t")
        if t == "pd.range":
            start, stop, step = (int(x) for x in node["v"])
            return pd.RangeIndex(start, stop, step, name=dec(node["name"], depth + 1))
        if t == "pd.multi":
            return pd.MultiIndex.from_arrays(
                [column(c, depth + 1) for c in node["levels"]],
                names=[dec(n, depth + 1) for n in node["names"]],
            )
        if t == "pd.index":
            return pd.Index(column(node["v"], depth + 1), name=dec(node["name"], depth + 1))
        raise WireError(f"unknown index type {t!r}")

    def dec(node: Any, depth: int) -> Any:
        if depth > 4 * MAX_DEPTH + 4 or not isinstance(node, dict):
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
            if t == "npscalar":
                return arr[()]
            return _subclassed(arr, node["sub"]) if "sub" in node else arr
        if t == "ndobj":
            items = [dec(x, depth + 1) for x in node["v"]]
            arr = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                arr[i] = item
            arr = arr.reshape([int(n) for n in node["shape"]])
            return _subclassed(arr, node["sub"]) if "sub" in node else arr
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
        if t == "record":
            return Record(
                str(node["type"]),
                str(node["kind"]),
                {str(k): dec(v, depth + 1) for k, v in node["v"]},
            )
        if t == "masked":
            return Record(
                str(node["type"]),
                "masked",
                {"data": dec(node["data"], depth + 1), "mask": load(node["mask"])},
            )
        if t == "pd.frame":
            import pandas as pd

            idx = index(node["index"], depth + 1)
            cols = [column(c, depth + 1) for c in node["data"]]
            frame = pd.DataFrame(
                {j: pd.Series(c, index=idx, copy=False) for j, c in enumerate(cols)}, index=idx
            )
            frame.columns = index(node["columns"], depth + 1)
            return frame
        if t == "pd.series":
            import pandas as pd

            return pd.Series(
                column(node["v"], depth + 1),
                index=index(node["index"], depth + 1),
                name=dec(node["name"], depth + 1),
                copy=False,
            )
        if t in ("pd.range", "pd.multi", "pd.index"):
            return index(node, depth)
        if t == "pd.ts":
            import pandas as pd

            return pd.Timestamp(str(node["v"]))
        if t == "pd.td":
            import pandas as pd

            return pd.Timedelta(int(node["v"]))
        if t == "sparse":
            return _sparse(
                str(node["cls"]),
                node["shape"],
                load(node["row"]),
                load(node["col"]),
                load(node["data"]),
            )
        if t == "torch":
            arr = load(node["v"])
            try:
                import torch
            except ImportError:  # the kernel has no torch: the values, as an array
                return _subclassed(arr, "torch.Tensor")
            tensor = torch.from_numpy(arr.copy())
            if node["dtype"] == "torch.bfloat16":
                tensor = tensor.to(torch.bfloat16)
            return tensor
        raise WireError(f"unknown node type {t!r}")

    try:
        return dec(header, 0)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError(f"malformed message: {exc}") from None


def _subclassed(arr: np.ndarray, type_name: str) -> BaseArray:
    out = arr.view(BaseArray)
    out.wire_type = str(type_name)
    return out


def _sparse(cls: str, shape: Any, row: np.ndarray, col: np.ndarray, data: np.ndarray) -> Any:
    if cls not in _SPARSE:
        raise WireError(f"unknown sparse type {cls!r}")
    try:
        import scipy.sparse as sp
    except ImportError:  # the kernel has no SciPy: the dense values
        dense = np.zeros(tuple(int(n) for n in shape), dtype=data.dtype)
        np.add.at(dense, (row, col), data)
        return _subclassed(dense, f"scipy.sparse.{cls}")
    coo = sp.coo_matrix((data, (row, col)), shape=tuple(int(n) for n in shape))
    return getattr(sp, cls)(coo)


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
