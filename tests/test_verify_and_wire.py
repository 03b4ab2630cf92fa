"""The comparator and the worker -> kernel codec."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from workbench.optimize._verify import Tolerance, compare
from workbench.sandbox._wire import Opaque, WireError, decode, encode


@pytest.mark.parametrize(
    ("expected", "actual", "needle"),
    [
        (np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]), None),
        (np.array([1.0, 2.0]), np.array([1.0, 2.1]), "result[1] is 2.1, expected 2.0"),
        (np.zeros(3), np.zeros(4), "shape (4,)"),
        (np.zeros(3), np.zeros(3, dtype=np.int64), "another kind"),
        (
            np.zeros(3, dtype=np.float32),
            np.full(3, 1e-7, dtype=np.float32),
            None,
        ),  # float32 tolerance
        (np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), None),
        (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), "where the reference is NaN"),
        (np.array([1.0, 1.0]), np.array([np.nan, 1.0]), "NaN at 1 place"),
        (3, 3.0, "expected the integer 3"),
        (3.0, np.float64(3.0), None),
        ((1, np.ones(2)), [1, np.ones(2)], "is list, expected tuple"),
        ({"a": 1, "b": [1.0]}, {"a": 1, "b": [1.5]}, "result['b'][0]"),
        ({"a": 1}, {"b": 1}, "keys differ"),
        (np.ones(2), Opaque("generator", "<generator>"), "is generator, expected array"),
        ("abc", "abd", "expected 'abc'"),
        (True, 1, "expected True"),
    ],
)
def test_compare(expected, actual, needle):
    diff = compare(expected, actual)
    if needle is None:
        assert diff is None
    else:
        assert diff is not None and needle in diff


def test_tolerance_override():
    assert compare(np.array([1.0]), np.array([1.01])) is not None
    assert compare(np.array([1.0]), np.array([1.01]), Tolerance(rtol=0.05)) is None


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(max_dims=2, max_side=4)),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(values)
def test_wire_round_trip(value):
    back = decode(encode(value))
    assert compare(value, back, Tolerance(0.0, 0.0)) is None or _has_nan(value)


def _has_nan(value) -> bool:
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return bool(np.isnan(value).any())
    if isinstance(value, (list, tuple)):
        return any(_has_nan(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    return False


def test_wire_never_unpickles():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = encode({"x": Evil()})
    assert isinstance(decode(payload)["x"], Opaque)
    with pytest.raises(WireError):
        decode(pickle.dumps({"a": 1}))
    with pytest.raises(WireError):
        decode(b"WB1" + b"\xff" * 30)
    obj_array = np.array([Evil()], dtype=object)  # item by item: the item stays described
    decoded = decode(encode(obj_array))
    assert decoded.dtype == object and isinstance(decoded[0], Opaque)
