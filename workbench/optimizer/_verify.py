"""Compare a candidate's results with the reference's, by type, and say how they differ."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..sandbox._wire import Opaque, Record


class Unverified(str):
    """``compare``'s answer when the values cannot be compared structurally (a type the codec
    does not carry): the candidate is 'unverified', never 'passed'."""


# (rtol, atol) by floating dtype: loose enough for reordered sums, tight enough for real bugs
_DEFAULTS = {2: (1e-2, 1e-3), 4: (1e-4, 1e-6), 8: (1e-7, 1e-10), 16: (1e-7, 1e-10)}


@dataclass(frozen=True)
class Tolerance:
    """User overrides; None means "by dtype"."""

    rtol: float | None = None
    atol: float | None = None
    device: bool = False  # results computed on a GPU: float32-friendly defaults
    lower_precision: bool = False  # a narrower float dtype than the reference's is allowed

    def for_dtype(self, *dtypes: np.dtype) -> tuple[float, float]:
        sizes = [d.itemsize // (2 if d.kind == "c" else 1) for d in dtypes if d.kind in "fc"]
        rtol, atol = _DEFAULTS.get(min(sizes), (1e-7, 1e-10)) if sizes else (0.0, 0.0)
        if self.device and sizes:
            from .strategies._gpu import gpu_tolerances

            narrowest = min((d for d in dtypes if d.kind in "fc"), key=lambda d: d.itemsize)
            rtol, atol = gpu_tolerances(narrowest)
        return (rtol if self.rtol is None else self.rtol, atol if self.atol is None else self.atol)


def _type_name(value: Any) -> str:
    if isinstance(value, (Opaque, Record)):
        return value.type_name
    if isinstance(value, np.ndarray):
        sub = getattr(value, "wire_type", "")
        return f"{sub} of {value.dtype}" if sub else f"array of {value.dtype}"
    return type(value).__name__


def _fmt(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    text = (
        np.array2string(value, threshold=8, edgeitems=2)
        if isinstance(value, np.ndarray)
        else repr(value)
    )
    return text if len(text) <= 80 else text[:77] + "..."


def preview(value: Any, limit: int = 400) -> str:
    """A value as a person reads it beside another: arrays with their shape and dtype and a
    few rows, anything else by ``repr``, cut at ``limit`` characters."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Opaque):
        text = value.text
    elif isinstance(value, np.ndarray):
        body = np.array2string(value, threshold=40, edgeitems=3, precision=6, max_line_width=72)
        text = f"array {value.shape} {value.dtype}\n{body}"
    elif _family(value) in ("frame", "series"):
        wide = {"max_cols": 8} if value.ndim == 2 else {}
        body = value.to_string(max_rows=12, **wide) if value.size else "(empty)"
        text = f"{type(value).__name__} {value.shape}\n{body}"
    elif isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        text = "\n".join(f"[{i}] {preview(v, limit)}" for i, v in enumerate(value))
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, complex, np.number, np.bool_)) and not isinstance(v, bool)


def compare(
    expected: Any, actual: Any, tol: Tolerance = Tolerance(), where: str = "result"
) -> str | None:
    """None if ``actual`` matches ``expected``, otherwise one line saying where and how not
    (an ``Unverified`` line when they cannot be compared structurally)."""
    if isinstance(expected, Opaque):
        return Unverified(
            f"{where} is a {expected.type_name}, a type the workbench cannot compare "
            "structurally: not verified"
        )
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            return f"{where} is {_type_name(actual)}, expected {_type_name(expected)}"
        # subclasses (matrix, memmap, ...) by their base arrays: comparison_notes says so
        return _compare_arrays(expected, actual, tol, where)
    family = _family(expected)
    if family is not None:
        if _family(actual) != family:
            return f"{where} is {_type_name(actual)}, expected {_type_name(expected)}"
        return _COMPARERS[family](expected, actual, tol, where)
    if isinstance(expected, Record):
        if not isinstance(actual, Record) or (actual.type_name, actual.kind) != (
            expected.type_name,
            expected.kind,
        ):
            return f"{where} is {_type_name(actual)}, expected {_type_name(expected)}"
        if list(actual.fields) != list(expected.fields):
            return f"{where} has fields {list(actual.fields)}, expected {list(expected.fields)}"
        for name, value in expected.fields.items():
            diff = compare(value, actual.fields[name], tol, f"{where}.{name}")
            if diff:
                return diff
        return None
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(actual, (bool, np.bool_)):
            return f"{where} is {_fmt(actual)} ({_type_name(actual)}), expected {expected!r}"
        return (
            None
            if bool(actual) == bool(expected)
            else f"{where} is {actual!r}, expected {expected!r}"
        )
    if _is_number(expected):
        if not _is_number(actual):
            return f"{where} is {_fmt(actual)} ({_type_name(actual)}), expected a number ({_fmt(expected)})"
        if _integral(expected) and not _integral(actual):
            return f"{where} is {_fmt(actual)} ({_type_name(actual)}), expected the integer {expected!r}"
        return _compare_arrays(np.asarray(expected), np.asarray(actual), tol, where)
    if isinstance(expected, (list, tuple)):
        if type(actual) is not type(expected):
            return f"{where} is {_type_name(actual)}, expected {_type_name(expected)}"
        if len(actual) != len(expected):
            return f"{where} has {len(actual)} items, expected {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            diff = compare(e, a, tol, f"{where}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where} is {_type_name(actual)}, expected dict"
        missing, extra = expected.keys() - actual.keys(), actual.keys() - expected.keys()
        if missing or extra:
            return f"{where} keys differ: missing {sorted(map(repr, missing))[:3]}, unexpected {sorted(map(repr, extra))[:3]}"
        for key in expected:
            diff = compare(expected[key], actual[key], tol, f"{where}[{key!r}]")
            if diff:
                return diff
        return None
    if type(actual) is not type(expected) and not (
        isinstance(expected, (set, frozenset)) and isinstance(actual, (set, frozenset))
    ):
        return f"{where} is {_type_name(actual)}, expected {_type_name(expected)}"
    try:
        same = bool(actual == expected)
    except Exception as exc:  # e.g. an object whose == returns an array
        return Unverified(
            f"{where} ({_type_name(expected)}) cannot be compared ({type(exc).__name__}): not verified"
        )
    return None if same else f"{where} is {_fmt(actual)}, expected {_fmt(expected)}"


def _family(value: Any) -> str | None:
    """The structured types compared by their parts: pandas, SciPy sparse, torch."""
    module = type(value).__module__ or ""
    if module.startswith("pandas"):
        import pandas as pd

        for name, kind in (("frame", pd.DataFrame), ("series", pd.Series), ("index", pd.Index)):
            if isinstance(value, kind):
                return name
        return None
    if module.startswith("scipy.sparse") and hasattr(value, "tocoo"):
        return "sparse"
    if module.startswith("torch") and hasattr(value, "detach"):
        return "tensor"
    return None


def _values(obj: Any) -> np.ndarray:
    """A Series' or an Index's values as an ndarray: NumPy dtypes as they are, others (strings,
    nullable numbers, categoricals, datetimes with zones) as objects with None for missing."""
    if isinstance(obj.dtype, np.dtype):
        return np.asarray(obj)
    return np.asarray(obj.astype(object).where(obj.notna(), None), dtype=object)


def _compare_column(e: Any, a: Any, tol: Tolerance, where: str) -> str | None:
    if str(e.dtype) != str(a.dtype) and not (
        isinstance(e.dtype, np.dtype)
        and isinstance(a.dtype, np.dtype)
        and {e.dtype.kind, a.dtype.kind} <= {"i", "u"}
    ):
        return f"{where} has dtype {a.dtype}, expected {e.dtype}"
    return _compare_arrays(_values(e), _values(a), tol, where)


def _compare_index(e: Any, a: Any, tol: Tolerance, where: str) -> str | None:
    import pandas as pd

    if isinstance(e, pd.MultiIndex) != isinstance(a, pd.MultiIndex):
        return f"{where} is {_type_name(a)}, expected {_type_name(e)}"
    if list(e.names) != list(a.names):
        return f"{where} has names {list(a.names)}, expected {list(e.names)}"
    if len(e) != len(a):
        return f"{where} has {len(a)} entries, expected {len(e)}"
    if isinstance(e, pd.MultiIndex):
        for level in range(e.nlevels):
            diff = _compare_column(
                e.get_level_values(level), a.get_level_values(level), tol, f"{where} level {level}"
            )
            if diff:
                return diff
        return None
    if isinstance(e, pd.RangeIndex) and isinstance(a, pd.RangeIndex):
        return None if e.equals(a) else f"{where} is {a!r}, expected {e!r}"
    return _compare_column(e, a, tol, where)


def _compare_series(e: Any, a: Any, tol: Tolerance, where: str) -> str | None:
    if e.name != a.name:
        return f"{where} is named {a.name!r}, expected {e.name!r}"
    if len(e) != len(a):
        return f"{where} has {len(a)} rows, expected {len(e)}"
    return _compare_index(e.index, a.index, tol, f"{where}.index") or _compare_column(
        e, a, tol, where
    )


def _compare_frame(e: Any, a: Any, tol: Tolerance, where: str) -> str | None:
    if e.shape != a.shape:
        return f"{where} has shape {a.shape}, expected {e.shape}"
    diff = _compare_index(e.columns, a.columns, tol, f"{where}.columns") or _compare_index(
        e.index, a.index, tol, f"{where}.index"
    )
    if diff:
        return diff
    for j, name in enumerate(e.columns):
        diff = _compare_column(e.iloc[:, j], a.iloc[:, j], tol, f"{where}[{name!r}]")
        if diff:
            return diff
    return None


def _compare_sparse(e: Any, a: Any, tol: Tolerance, where: str) -> str | None:
    if type(e).__name__ != type(a).__name__:
        return f"{where} is {type(a).__name__}, expected {type(e).__name__}"
    if e.shape != a.shape:
        return f"{where} has shape {a.shape}, expected {e.shape}"
    ek, ak = e.dtype.kind, a.dtype.kind
    if ek != ak and not ({ek, ak} <= {"i", "u"}):
        return f"{where} has dtype {a.dtype}, expected {e.dtype} (another kind of number)"
    e, a = e.tocsr(), a.tocsr()
    diff = (a - e).tocoo()
    rtol, atol = tol.for_dtype(e.dtype, a.dtype)
    gap = np.abs(diff.data)
    near = np.abs(np.asarray(e[diff.row, diff.col]).ravel())
    bad = ~(gap <= atol + rtol * near) if len(gap) else np.zeros(0, bool)
    if not bad.any():
        return None
    i, j = int(diff.row[bad][0]), int(diff.col[bad][0])
    more = f" ({int(bad.sum()) - 1} more entries differ)" if bad.sum() > 1 else ""
    return f"{where}[{i}, {j}] is {_fmt(a[i, j])}, expected {_fmt(e[i, j])}{more}"


def _compare_tensor(e: Any, a: Any, tol: Tolerance, where: str) -> str | None:
    if str(e.dtype) != str(a.dtype):
        return f"{where} has dtype {a.dtype}, expected {e.dtype}"
    as_array = (
        (lambda t: t.detach().float().numpy())
        if "bfloat16" in str(e.dtype)
        else (lambda t: t.detach().numpy())
    )
    return _compare_arrays(as_array(e), as_array(a), tol, where)


_COMPARERS = {
    "frame": _compare_frame,
    "series": _compare_series,
    "index": _compare_index,
    "sparse": _compare_sparse,
    "tensor": _compare_tensor,
}


def comparison_notes(value: Any) -> list[str]:
    """What a reader should know about how results like ``value`` are compared."""
    notes: set[str] = set()

    def walk(v: Any, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(v, Opaque):
            notes.add(
                f"the reference returns {v.type_name}, which cannot be compared structurally: "
                "candidates are marked 'unverified', never 'passed'"
            )
        elif getattr(v, "wire_type", ""):
            notes.add(
                f"results of type {v.wire_type} are compared as their base arrays (the same "
                "values in another array type pass)"
            )
        elif isinstance(v, (list, tuple)):
            for x in v[:20]:
                walk(x, depth + 1)
        elif isinstance(v, dict):
            for x in list(v.values())[:20]:
                walk(x, depth + 1)
        elif isinstance(v, Record):
            for x in v.fields.values():
                walk(x, depth + 1)

    walk(value)
    return sorted(notes)


def _integral(v: Any) -> bool:
    return isinstance(v, (int, np.integer))


def narrower(expected: Any, actual: Any) -> bool:
    """``actual`` holds floats of a narrower dtype than ``expected`` (float32 for float64)."""
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        return any(narrower(e, a) for e, a in zip(expected, actual))
    e, a = getattr(expected, "dtype", None), getattr(actual, "dtype", None)
    if not isinstance(e, np.dtype) or not isinstance(a, np.dtype):  # torch and others: no
        return False
    if e.kind not in "fc" or a.kind not in "fc":
        return False
    return a.itemsize // (2 if a.kind == "c" else 1) < e.itemsize // (2 if e.kind == "c" else 1)


def _compare_arrays(
    expected: np.ndarray, actual: np.ndarray, tol: Tolerance, where: str
) -> str | None:
    if expected.shape != actual.shape:
        return f"{where} has shape {actual.shape}, expected {expected.shape}"
    ek, ak = expected.dtype.kind, actual.dtype.kind
    if ek != ak and not ({ek, ak} <= {"i", "u"}):
        return (
            f"{where} has dtype {actual.dtype}, expected {expected.dtype} (another kind of number)"
        )
    if ek in "mM" and ak == ek:  # dates and durations: exact, NaT equal to NaT
        common = np.promote_types(expected.dtype, actual.dtype)
        bad = expected.astype(common).view("i8") != actual.astype(common).view("i8")
    elif ek == "O" and expected.ndim:  # objects (strings, None, containers): each by its own
        for idx in np.ndindex(expected.shape):
            diff = compare(expected[idx], actual[idx], tol, f"{where}[{', '.join(map(str, idx))}]")
            if diff:
                return diff
        return None
    elif ek not in "fc" or ak not in "fc":
        bad = np.asarray(expected != actual)
    else:
        if narrower(expected, actual) and not (tol.lower_precision or tol.device):
            return (
                f"{where} is {actual.dtype}, lower precision than your function's "
                f"{expected.dtype}: allow it with --allow-lower-precision (precision='any')"
            )
        rtol, atol = tol.for_dtype(expected.dtype, actual.dtype)
        e_nan, a_nan = np.isnan(expected), np.isnan(actual)
        if (a_nan & ~e_nan).any():
            return f"{where} is NaN at {int((a_nan & ~e_nan).sum())} place(s) where the reference is not"
        if (e_nan & ~a_nan).any():
            return f"{where} is a number at {int((e_nan & ~a_nan).sum())} place(s) where the reference is NaN"
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not np.any(bad):
        return None
    count = int(np.sum(bad))
    if expected.ndim == 0:
        return f"{where} is {_fmt(actual[()])}, expected {_fmt(expected[()])}"
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    at = f"{where}[{', '.join(map(str, idx))}]"
    more = f" ({count - 1} more of {expected.size} elements differ)" if count > 1 else ""
    return f"{at} is {_fmt(actual[idx])}, expected {_fmt(expected[idx])}{more}"


def compare_sketches(expected: Any, actual: Any, tol: Tolerance) -> str | None:
    """Check a timed call's output summary (see ``_worker._make_sketch``) against the reference's."""
    if isinstance(expected, dict) and "proj" in expected:
        if not isinstance(actual, dict) or "proj" not in actual:
            return "a timed call returned another type than the reference"
        if list(actual["shape"]) != list(expected["shape"]):
            return f"a timed call returned shape {tuple(actual['shape'])}, expected {tuple(expected['shape'])}"
        if actual["nan"] != expected["nan"] or not math.isclose(
            actual["nanmix"], expected["nanmix"], rel_tol=1e-9, abs_tol=1e-9
        ):
            return "a timed call returned NaN at other places than the reference"
        kinds = {expected["kind"], actual["kind"]}
        if kinds <= set("biu"):
            rtol, atol = 0.0, 0.0
        else:
            rtol, atol = tol.for_dtype(np.dtype(expected["dtype"]), np.dtype(actual["dtype"]))
        bound = atol * expected["size"] + rtol * expected["abs"]
        slack = 1e-12 * max(1.0, expected["abs"])  # float rounding of the projection itself
        if abs(complex(actual["proj"]) - complex(expected["proj"])) > bound + slack:
            return "a timed call returned wrong values (its output differs from the reference's on fresh inputs)"
        return None
    if isinstance(expected, dict) and "seq" in expected:
        if (
            not isinstance(actual, dict)
            or actual.get("type") != expected["type"]
            or len(actual.get("seq", [])) != len(expected["seq"])
        ):
            return "a timed call returned another structure than the reference"
        for e, a in zip(expected["seq"], actual["seq"]):
            diff = compare_sketches(e, a, tol)
            if diff:
                return diff
        return None
    if isinstance(expected, dict) and "scalar" in expected:
        if not isinstance(actual, dict) or "scalar" not in actual:
            return "a timed call returned another type than the reference"
        rtol, atol = tol.for_dtype(np.dtype("f8"))
        if abs(complex(actual["scalar"]) - complex(expected["scalar"])) > atol + rtol * abs(
            complex(expected["scalar"])
        ):
            return "a timed call returned a wrong value on fresh inputs"
        return None
    return None if actual == expected else "a timed call returned another value than the reference"
