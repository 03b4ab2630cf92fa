"""The comparator and the worker -> kernel codec."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from workbench.optimizer._verify import Tolerance, compare
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


# -- the types people return: pandas, sparse, torch, records, subclasses ---------------------


def _frame():
    import pandas as pd

    return pd.DataFrame(
        {
            "a": [1, 2, 3],
            "b": [1.5, np.nan, 2.0],
            "s": ["x", "y", None],
            "c": pd.Categorical(["u", "v", "u"]),
            "t": pd.date_range("2020", periods=3, tz="Europe/Paris"),
            "d": pd.date_range("2020", periods=3),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "o": [{"k": 1}, [1], "z"],
        },
        index=pd.Index([10, 20, 30], name="id"),
    )


def test_pandas_round_trip_keeps_dtypes_index_and_names():
    import pandas as pd

    df = _frame()
    pd.testing.assert_frame_equal(decode(encode(df)), df)
    multi = pd.Series(
        [1.0, 2.0],
        index=pd.MultiIndex.from_arrays([["a", "b"], [1, 2]], names=["k", "j"]),
        name="v",
    )
    pd.testing.assert_series_equal(decode(encode(multi)), multi)
    for index in (
        pd.RangeIndex(2, 10, 2, name="r"),
        pd.Index(["a", "b"]),
        pd.CategoricalIndex(["a", "b", "a"]),
        pd.DatetimeIndex(["2020-01-01"]),
    ):
        pd.testing.assert_index_equal(decode(encode(index)), index)


def test_dataframe_wrong_in_one_cell_fails_and_says_where():
    df = _frame()
    assert compare(decode(encode(df)), decode(encode(df.copy()))) is None
    wrong = df.copy()
    wrong.loc[30, "a"] = 9
    assert compare(decode(encode(df)), decode(encode(wrong))) == "result['a'][2] is 9, expected 3"
    text = df.copy()
    text.loc[10, "s"] = "q"
    assert "result['s'][0]" in compare(df, text)
    close = df.copy()
    close["b"] = close["b"] + 1e-12  # within the float64 tolerance
    assert compare(df, close) is None
    assert "columns" in compare(df, df.rename(columns={"a": "A"}))
    assert "dtype" in compare(df, df.astype({"a": "float64"}))
    assert "named" in compare(df["b"], df["b"].rename("z"))
    assert "index" in compare(df, df.reset_index(drop=True))


def test_torch_tensors_compare_by_structure():
    torch = pytest.importorskip("torch")  # the transformers extra; make test goes without it
    t = torch.arange(6.0).reshape(2, 3)
    assert compare(decode(encode(t)), decode(encode(t.clone()))) is None
    assert "result[0, 0]" in compare(decode(encode(t)), decode(encode(t + 1)))


@pytest.mark.filterwarnings("ignore:the matrix subclass")
def test_records_typed_containers_and_subclasses_compare_by_structure():
    import collections
    import dataclasses

    from numba import typed

    from workbench.optimizer._verify import Unverified, comparison_notes

    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    NT = collections.namedtuple("NT", "a b")
    got = decode(encode([Point(1, 2.0), NT(1, "q")]))
    assert compare(got, decode(encode([Point(1, 2.0), NT(1, "q")]))) is None
    assert (
        compare(got, decode(encode([Point(1, 2.5), NT(1, "q")])))
        == "result[0].y is 2.5, expected 2.0"
    )

    numba_list, numba_dict = typed.List([1, 2]), typed.Dict()
    numba_dict["a"] = 1.0
    assert decode(encode([numba_list, numba_dict])) == [[1, 2], {"a": 1.0}]  # as Python's

    matrix = decode(encode(np.matrix([[1, 2]])))
    assert compare(matrix, decode(encode(np.matrix([[1, 2]])))) is None
    assert compare(matrix, np.array([[1, 2]])) is None  # by its base array ...
    assert "result[0, 1] is 3" in compare(matrix, np.array([[1, 3]]))
    assert comparison_notes(matrix) == [  # ... which the run's notes say
        "results of type numpy.matrix are compared as their base arrays (the same values in "
        "another array type pass)"
    ]
    masked = decode(encode(np.ma.array([1, 2, 3], mask=[0, 1, 0])))
    assert "mask" in compare(masked, decode(encode(np.ma.array([1, 2, 3], mask=[0, 0, 0]))))
    assert compare({1, 2}, {2, 1}) is None and compare(b"ab", b"ac") is not None

    class Box:
        pass

    diff = compare(decode(encode(Box())), decode(encode(Box())))
    assert isinstance(diff, Unverified) and "cannot compare" in diff  # never by its repr


def test_sparse_round_trip_and_tolerance():
    sp = pytest.importorskip("scipy.sparse")
    m = sp.random(6, 5, density=0.4, format="csr", random_state=0)
    back = decode(encode(m))
    assert type(back) is type(m) and (back != m).nnz == 0
    assert compare(m, back) is None
    assert compare(m, m * (1 + 1e-12)) is None
    bumped = m.tolil()
    bumped[0, 0] = 5.0
    assert "result[0, 0] is 5.0" in compare(m, bumped.tocsr())
    assert "csc_array" in compare(sp.csr_array(m), sp.csc_array(m))
