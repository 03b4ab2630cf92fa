"""The mechanical CuPy candidate and GPU tolerances.

Without a GPU the generated code runs against a stand-in ``cupy`` module: NumPy whose arrays
are a ``DeviceArray`` subclass, so the tests see what crossed to the "device" and back.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
import types

import numpy as np
import pytest

from workbench._errors import UsageError
from workbench.optimizer.strategies._gpu import CupyStrategy, cupy_variant, gpu_tolerances


class DeviceArray(np.ndarray):
    pass


@pytest.fixture
def fake_cupy(monkeypatch):
    module = types.ModuleType("cupy")
    for name in dir(np):
        if not name.startswith("__"):
            setattr(module, name, getattr(np, name))
    module.ndarray = DeviceArray
    module.asarray = lambda a, dtype=None: np.asarray(a, dtype).view(DeviceArray)
    module.asnumpy = lambda a, stream=None: np.array(a).view(np.ndarray)
    module.synchronizations = 0

    def synchronize():
        module.synchronizations += 1

    module.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(deviceSynchronize=synchronize)
    )
    monkeypatch.setitem(sys.modules, "cupy", module)
    return module


def load(code: str) -> dict:
    namespace: dict = {}
    exec(compile(code, "<candidate>", "exec"), namespace)
    return namespace


SOURCE = textwrap.dedent(
    """
    import numpy as np

    def row_norms(x, scale=2.0):
        return np.sqrt(np.sum(x * x, axis=1)) * scale
    """
)


def test_numpy_calls_become_cupy_calls():
    code = cupy_variant(SOURCE, "row_norms")
    assert "import cupy as cp" in code
    assert "cp.sqrt(cp.sum(x * x, axis=1))" in code
    assert "np.sqrt" not in code


def test_variant_moves_inputs_to_the_device_and_brings_numpy_back(fake_cupy):
    ns = load(cupy_variant(SOURCE, "row_norms"))
    seen = []
    device_fn = ns["_wb_device_row_norms"]

    def spy(*args, **kwargs):
        seen.append([type(a) for a in args])
        return device_fn(*args, **kwargs)

    ns["_wb_device_row_norms"] = spy
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    result = ns["row_norms"](x, 3.0)
    assert seen == [[DeviceArray, float]]  # the array crossed, the scalar stayed
    assert type(result) is np.ndarray
    np.testing.assert_allclose(result, np.sqrt((x * x).sum(axis=1)) * 3.0)
    assert fake_cupy.synchronizations == 1


def test_variant_keeps_the_signature():
    source = SOURCE.replace(
        "def row_norms(x, scale=2.0):", "def row_norms(x, /, scale=2.0, *rest, clip=None, **kw):"
    )
    ns = load(cupy_variant(source, "row_norms").replace("import cupy as cp", "cp = None"))
    reference = load(source)
    assert inspect.signature(ns["row_norms"]) == inspect.signature(reference["row_norms"])


def test_all_kinds_of_arguments_are_passed_on(fake_cupy):
    source = textwrap.dedent(
        """
        import numpy as np

        def f(a, /, b, *rest, c=1, **kw):
            return np.sum(a) + b + sum(np.sum(r) for r in rest) + c + sum(kw.values())
        """
    )
    ns = load(cupy_variant(source, "f"))
    reference = load(source)
    args = (np.ones(3), 2, np.ones(2), np.ones(4))
    assert ns["f"](*args, c=5, extra=7) == reference["f"](*args, c=5, extra=7)


def test_scalar_results_come_back_as_numpy_scalars_and_containers_are_walked(fake_cupy):
    source = textwrap.dedent(
        """
        import numpy as np

        def stats(x):
            return {"mean": np.mean(x, keepdims=True).reshape(()), "parts": [np.cumsum(x), (x.max(),)]}
        """
    )
    result = load(cupy_variant(source, "stats"))["stats"](np.arange(4.0))
    assert isinstance(result["mean"], np.float64)
    assert type(result["parts"][0]) is np.ndarray
    assert isinstance(result["parts"][1], tuple)


def test_host_only_numpy_stays_numpy():
    source = textwrap.dedent(
        """
        import numpy as np

        def noisy(x):
            noise = np.random.default_rng(0).standard_normal(x.shape)
            with np.errstate(divide="ignore"):
                return np.log(x) + noise
        """
    )
    code = cupy_variant(source, "noisy")
    assert "np.random.default_rng(0)" in code
    assert "np.errstate" in code
    assert "cp.log(x)" in code


def test_from_numpy_imports_and_aliases_are_followed():
    source = textwrap.dedent(
        """
        import numpy
        from numpy import sum as total

        def f(x):
            return total(numpy.abs(x))
        """
    )
    code = cupy_variant(source, "f")
    assert "from cupy import sum as total" in code
    assert "cp.abs(x)" in code


def test_a_name_clash_with_cp_is_avoided():
    source = SOURCE.replace("* scale", "* scale + cp").replace(
        "def row_norms", "cp = 1\n\ndef row_norms"
    )
    code = cupy_variant(source, "row_norms")
    assert "import cupy as _cp" in code
    assert "_cp.sqrt" in code


@pytest.mark.parametrize(
    ("source", "entry", "message"),
    [
        ("def f(:\n", "f", "does not parse"),
        (SOURCE, "missing", "no top-level function 'missing'"),
        ("def f(x):\n    return x + 1\n", "f", "uses no NumPy"),
    ],
)
def test_unusable_sources_are_usage_errors(source, entry, message):
    with pytest.raises(UsageError, match=message):
        cupy_variant(source, entry)


def test_strategy_proposes_one_candidate_or_none():
    task = types.SimpleNamespace(source=SOURCE, entry="row_norms")
    (spec,) = CupyStrategy().propose(task)
    assert spec.strategy == "cupy"
    assert "cp.sqrt" in spec.code
    plain = types.SimpleNamespace(source="def f(x):\n    return x\n", entry="f")
    assert CupyStrategy().propose(plain) == []


def test_gpu_tolerances_suit_float32_on_a_device():
    rtol, atol = gpu_tolerances(np.float32)
    # a float32 sum in another order (as a GPU tree reduction does) passes ...
    rng = np.random.default_rng(0)
    x = rng.random(1 << 16, dtype=np.float32)
    sequential = np.float32(0)
    for chunk in x.reshape(-1, 256):
        sequential = np.float32(sequential + chunk.sum(dtype=np.float32))
    reference = x.sum(dtype=np.float64).astype(np.float32)
    assert np.isclose(sequential, reference, rtol=rtol, atol=atol)
    # ... a real bug (the last block of 256 left out, as an off-by-one grid does) does not
    assert not np.isclose(x[:-256].sum(dtype=np.float64), reference, rtol=rtol, atol=atol)


def test_gpu_tolerances_by_kind():
    assert gpu_tolerances(np.int32) == (0.0, 0.0)
    assert gpu_tolerances(bool) == (0.0, 0.0)
    assert (
        gpu_tolerances(np.float16)[0]
        > gpu_tolerances(np.float32)[0]
        > gpu_tolerances(np.float64)[0]
    )
    assert gpu_tolerances(np.complex64) == gpu_tolerances(np.float32)
    from workbench.optimizer._verify import Tolerance

    cpu = Tolerance()
    for dtype in (np.float16, np.float32, np.float64):
        gpu, host = gpu_tolerances(dtype), cpu.for_dtype(np.dtype(dtype))
        assert gpu[0] >= host[0] and gpu[1] >= host[1]  # never stricter than the CPU check


def test_wrapper_marks_copies_kernel_and_copy_back_in_order(fake_cupy):
    ns = load(cupy_variant(SOURCE, "row_norms"))
    ns["row_norms"](np.ones((2, 3)))  # outside the worker the marks do nothing
    seen = []
    device_fn = ns["_wb_device_row_norms"]

    def spy(*args, **kwargs):
        seen.append(("kernel-ran", type(args[0])))
        return device_fn(*args, **kwargs)

    ns["_wb_device_row_norms"] = spy
    ns["_wb_mark"] = lambda phase: seen.append(phase)  # what the worker's probe does
    ns["row_norms"](np.ones((2, 3)))
    assert seen == ["h2d", "kernel", ("kernel-ran", DeviceArray), "d2h", "done"]
    assert fake_cupy.synchronizations == 2  # before the copy back, every call
