"""Code extraction from real-looking model replies."""

from __future__ import annotations

import ast

from workbench.llm import extract_code


def defines(code: str, name: str) -> bool:
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.parse(code).body)


def test_fenced_python_block_inside_prose():
    reply = (
        "Sure! Here is a faster version:\n\n```python\nimport numpy as np\n\n"
        "def total(xs):\n    return np.sum(xs)\n```\n\nThis uses NumPy's sum."
    )
    result = extract_code(reply, "total")
    assert (
        result.ok and result.code == "import numpy as np\n\ndef total(xs):\n    return np.sum(xs)\n"
    )


def test_py_and_bare_fences_and_tildes():
    for fence in ("```py", "```", "~~~python"):
        close = fence[:3]
        reply = f"{fence}\ndef f(x):\n    return x * 2\n{close}\n"
        assert extract_code(reply, "f").code == "def f(x):\n    return x * 2\n"


def test_unclosed_fence_from_a_reply_cut_at_max_tokens():
    reply = "Here:\n```python\ndef f(x):\n    return x + 1\n"
    assert extract_code(reply, "f").code == "def f(x):\n    return x + 1\n"


def test_bare_code_with_sentences_before_and_after():
    reply = (
        "The optimized function is as follows.\nimport math\n\ndef f(x):\n"
        "    return math.sqrt(x)\n\nThis is faster because it avoids a loop."
    )
    result = extract_code(reply, "f")
    assert result.ok and "faster because" not in result.code and defines(result.code, "f")


def test_picks_the_block_that_defines_the_entry_and_the_last_version():
    reply = (
        "The original:\n```python\ndef f(x):\n    return sum(x)\n```\n"
        "A shell command:\n```bash\npip install numba\n```\n"
        "Helper:\n```python\ndef g(y):\n    return y\n```\n"
        "Optimized:\n```python\nimport numpy as np\ndef f(x):\n    return np.sum(x)\n```\n"
    )
    result = extract_code(reply, "f")
    assert "np.sum" in result.code and "pip install" not in result.code


def test_helpers_defined_in_another_block_come_along():
    reply = (
        "```python\n@njit\ndef _kernel(a):\n    return a\n```\n\n"
        "```python\ndef f(a):\n    return _kernel(a)\n```"
    )
    result = extract_code(reply, "f")
    assert defines(result.code, "_kernel") and defines(result.code, "f")
    assert "from numba import njit" in result.code and "@njit" in result.code


def test_several_functions_in_one_block_are_kept():
    reply = "```python\ndef helper(v):\n    return v * 2\n\ndef f(xs):\n    return [helper(v) for v in xs]\n```"
    code = extract_code(reply, "f").code
    assert defines(code, "helper") and defines(code, "f")


def test_missing_imports_are_added_after_docstring_and_future():
    reply = (
        '```python\n"""Doc."""\nfrom __future__ import annotations\n\n@numba.njit(parallel=True)\n'
        "def f(a):\n    out = np.empty_like(a)\n    for i in prange(a.shape[0]):\n"
        "        out[i] = math.sqrt(a[i])\n    return out\n```"
    )
    result = extract_code(reply, "f")
    lines = result.code.splitlines()
    assert lines[0] == '"""Doc."""' and lines[1] == "from __future__ import annotations"
    assert {"import math", "import numba", "import numpy as np", "from numba import prange"} <= set(
        lines[2:6]
    )
    compile(result.code, "<candidate>", "exec")  # still valid Python
    assert "added" in " ".join(result.notes)


def test_imports_already_present_or_locally_bound_are_not_added():
    reply = "```python\nimport numpy as np\ndef f(math):\n    return np.abs(math)\n```"
    code = extract_code(reply, "f").code
    assert code.count("import") == 1


def test_a_renamed_function_is_renamed_back_including_recursion_but_not_attributes():
    reply = (
        "```python\ndef fast_fib(n, memo=None):\n    if n < 2:\n        return n\n"
        "    obj.fast_fib = 1\n    return fast_fib(n - 1) + fast_fib(n - 2)\n```"
    )
    result = extract_code(reply, "fib", arity=1)
    assert defines(result.code, "fib") and "fib(n - 1) + fib(n - 2)" in result.code
    assert "obj.fast_fib" in result.code and "renamed fast_fib to fib" in result.notes


def test_no_rename_when_several_functions_fit():
    reply = "```python\ndef a(x):\n    return x\n\ndef b(x):\n    return x\n```"
    result = extract_code(reply, "f", arity=1)
    assert not result.ok and "no function named f" in result.reason and "a, b" in result.reason


def test_arity_picks_the_one_function_that_fits():
    reply = (
        "```python\ndef helper(x, y):\n    return x\n\ndef fast(x):\n    return helper(x, 1)\n```"
    )
    result = extract_code(reply, "f", arity=1)
    assert defines(result.code, "f") and defines(result.code, "helper")


def test_example_calls_and_main_blocks_are_dropped_but_setup_is_kept():
    reply = (
        "```python\nimport numpy as np\nTABLE = np.arange(10)\n\ndef f(i):\n    return TABLE[i]\n\n"
        "print(f(3))\nf(4)\nif __name__ == '__main__':\n    print(f(1))\n```"
    )
    result = extract_code(reply, "f")
    assert "print" not in result.code and "__main__" not in result.code
    assert "TABLE = np.arange(10)" in result.code and "f(4)" not in result.code


def test_syntax_error_is_a_failure_with_the_line():
    reply = "```python\ndef f(x):\n    return (x +\n```"
    result = extract_code(reply, "f")
    assert not result.ok and "does not parse" in result.reason and "line" in result.reason


def test_prose_only_and_empty_replies_fail_with_a_reason():
    assert "no Python code" in extract_code("I cannot help with that request.", "f").reason
    assert "empty" in extract_code("   ", "f").reason


def test_a_stub_is_not_usable_code():
    result = extract_code("```python\ndef f(x):\n    '''Fast.'''\n    ...\n```", "f")
    assert not result.ok and "no body" in result.reason


def test_think_blocks_are_ignored():
    reply = "<think>maybe ```python\ndef f(x): return 0\n```</think>\n```python\ndef f(x):\n    return 1\n```"
    assert "return 1" in extract_code(reply, "f").code


def test_a_reply_cut_off_in_its_example_calls_keeps_the_function():
    reply = (
        "```python\nimport numpy as np\n\ndef f(x, hi):\n    return float(np.minimum(x, hi).mean())\n\n"
        "# Example usage:\nprint(f([0.5], 0.5))\nprint(f([0.511822, 0.5, 0.5],"
    )
    result = extract_code(reply, "f", arity=2)
    assert result.code is not None, result.reason
    assert "def f(x, hi)" in result.code and "print" not in result.code
    # a cut inside the function itself is still no code
    broken = extract_code("```python\ndef f(x, hi):\n    return float(np.minimum(x,\n", "f")
    assert broken.code is None and "does not parse" in broken.reason
