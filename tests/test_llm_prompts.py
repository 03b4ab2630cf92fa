"""Prompt building blocks: multi-path, per-path code, refine with feedback."""

from __future__ import annotations

from workbench.llm import (
    FailingCase,
    Feedback,
    ReasoningPath,
    default_paths,
    multipath_messages,
    parse_paths,
    path_code_messages,
    refine_messages,
)
from workbench.llm._prompts import is_numeric, repair_messages, worked_example
from workbench.optimizer import HotLine

SOURCE = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x * x\n    return total\n"


def user_text(messages) -> str:
    assert [m["role"] for m in messages] == ["system", "user"]
    return messages[1]["content"]


def test_multipath_prompt_asks_for_k_strategies_and_mentions_cupy_only_with_a_gpu():
    cpu = user_text(multipath_messages(SOURCE, "f", 4, gpu=False, hint="inputs are small"))
    gpu = user_text(multipath_messages(SOURCE, "f", 4, gpu=True))
    assert "4 DISTINCT strategies" in cpu and "exactly 4 numbered lines" in cpu
    assert "def f(xs)" in cpu and "NumPy" in cpu and "prange" in cpu
    assert "do not use CuPy" in cpu and "inputs are small" in cpu
    assert "CuPy (a CUDA GPU is available)" in gpu


def test_parse_paths_from_a_clean_numbered_list():
    reply = (
        "1. numpy-vectorise: use np.sum(xs**2).\n"
        "2. numba-parallel: njit with prange.\n"
        "3. better-algorithm: avoid recomputation."
    )
    paths = parse_paths(reply, 3)
    assert [p.name for p in paths] == ["numpy-vectorise", "numba-parallel", "better-algorithm"]
    assert paths[0].approach == "use np.sum(xs**2)."


def test_parse_paths_survives_markdown_headings_bold_and_continuations():
    reply = (
        "Sure! Here are some strategies:\n\n"
        "### 1) **Vectorize with NumPy** - replace the loop\n   with np.dot(xs, xs).\n\n"
        "**2.** **Numba JIT**: compile the loop\n\n"
        "Strategy 3 - Use math: a closed form.\n"
        "Hope this helps!"
    )
    paths = parse_paths(reply, 3)
    assert [p.name for p in paths] == ["vectorize-with-numpy", "numba-jit", "use-math"]
    assert paths[0].approach == "replace the loop with np.dot(xs, xs)."


def test_parse_paths_reads_json_and_drops_gpu_paths_without_a_gpu():
    reply = '[{"name": "CuPy", "approach": "use the GPU"}, {"name": "Sorting", "description": "sort first"}]'
    paths = parse_paths(reply, 3, gpu=False)
    assert paths[0] == ReasoningPath("sorting", "sort first")
    assert all("cupy" not in p.label().lower() for p in paths) and len(paths) == 3


def test_parse_paths_tops_up_duplicates_and_garbage_with_distinct_defaults():
    paths = parse_paths("1. numpy: vectorise\n2. numpy: vectorise again", 4)
    names = [p.name for p in paths]
    assert len(set(names)) == 4 and names[0] == "numpy"
    assert "numpy-vectorise" not in names  # already covered by the model's own path
    assert [p.name for p in parse_paths("", 3)] == [p.name for p in default_paths()[:3]]
    assert any(p.name == "cupy-gpu" for p in parse_paths("???", 4, gpu=True))


def test_path_code_prompt_names_the_path_and_the_rules():
    path = ReasoningPath("numba-parallel", "use prange")
    text = user_text(path_code_messages(SOURCE, "f", path, context="xs: float64[10**6]"))
    assert "numba-parallel: use prange" in text and "xs: float64[10**6]" in text
    assert "ONE ```python block" in text and "def f(...)" in text and "No GPU" in text


def test_refine_prompt_carries_failures_traceback_timings_hot_lines_and_hint():
    feedback = Feedback(
        status="wrong",
        failures=[
            FailingCase("xs=[1, 2]", expected="5", actual="3"),
            FailingCase("xs=" + "9" * 5000, expected="x" * 5000, actual="y"),
            FailingCase("xs=[]", error="IndexError: index 0 is out of bounds"),
            FailingCase("xs=[3]", expected="9", actual="0"),
        ],
        traceback="Traceback (most recent call last):\n"
        + "".join(f'  File "h.py", line {i}, in run\n    step()\n' for i in range(40))
        + "IndexError: index 0 is out of bounds",
        reference_s=0.2,
        candidate_s=0.4,
        hot_lines=[HotLine(3, 0.1, "x = 1"), HotLine(4, 0.85, "total += x * x")],
    )
    text = user_text(
        refine_messages(
            SOURCE,
            "f",
            "def f(xs):\n    return 3\n",
            feedback,
            path=ReasoningPath("numpy", "vectorise"),
            hint="think about empty input",
        )
    )
    assert "input: xs=[1, 2]" in text and "expected: 5" in text and "got:      3" in text
    assert "characters cut" in text and len(text) < 6000  # the huge case was trimmed
    assert "raised: IndexError" in text and "and 1 more failing input" in text
    assert "lines cut" in text and text.rstrip().count("IndexError: index 0") >= 2
    assert "200 ms per call" in text and "2.00x SLOWER" in text
    assert text.index("line 4 (85%)") < text.index("line 3 (10%)")
    assert "think about empty input" in text and "strategy: numpy: vectorise" in text
    assert "Fix the problem above" in text


def test_refine_prompt_for_a_reply_without_code_and_for_a_correct_candidate():
    no_code = user_text(
        refine_messages(
            SOURCE, "f", None, Feedback("no_code", extraction_error="the reply was empty")
        )
    )
    assert "the reply was empty" in no_code and "previous version" not in no_code
    faster = user_text(
        refine_messages(
            SOURCE, "f", "def f(xs): ...", Feedback("correct", reference_s=1e-3, candidate_s=2.5e-4)
        )
    )
    assert "4.00x faster" in faster and "Make it faster still" in faster


# -- versions, worked examples, plain-Python paths, targets, the repair turn -------------------


def test_every_prompt_states_the_installed_versions_and_numpy_2_removals():
    import numba
    import numpy

    path = ReasoningPath("numba-serial", "njit the loop")
    for messages in (
        multipath_messages(SOURCE, "f", 3),
        path_code_messages(SOURCE, "f", path),
        refine_messages(SOURCE, "f", "def f(xs): return 0", Feedback("wrong")),
        repair_messages(SOURCE, "f", "def f(xs): return 0", "TypeError: boom"),
    ):
        system = messages[0]["content"]
        assert f"NumPy {numpy.__version__}" in system and f"Numba {numba.__version__}" in system
        assert "removed np.float" in system and "np.float64" in system


def test_each_default_path_has_a_worked_example_of_its_idea():
    for path in [
        *default_paths("cupy"),
        *default_paths("numba-cuda"),
        *default_paths(numeric=False),
    ]:
        example = worked_example(path)
        assert example is not None and "before:" in example and "after:" in example, path.name
    text = user_text(path_code_messages(SOURCE, "f", ReasoningPath("numba-parallel", "prange")))
    assert "numba.prange(X.shape[0])" in text  # the parallel path's example
    cuda = worked_example(ReasoningPath("numba-cuda-kernel", "a kernel"))
    assert "cuda.grid(1)" in cuda


def test_plain_python_code_gets_data_structure_paths():
    words = "def wc(text):\n    counts = {}\n    for w in text.split():\n        counts[w] = counts.get(w, 0) + 1\n    return counts\n"
    assert not is_numeric(words) and is_numeric(SOURCE)
    assert is_numeric("import numpy as np\ndef g(x):\n    out = []\n    return np.array(out)\n")
    plan = user_text(multipath_messages(words, "wc", 3))
    assert "collections.Counter" in plan and "prange" not in plan
    names = [p.name for p in parse_paths("???", 3, numeric=False)]
    assert names == ["data-structures", "better-algorithm", "builtins"]


def test_gpu_targets_ask_for_code_for_that_target():
    path = ReasoningPath("x", "do it")
    cpu = user_text(path_code_messages(SOURCE, "f", path))
    cupy = user_text(path_code_messages(SOURCE, "f", path, gpu="cupy"))
    cuda = user_text(path_code_messages(SOURCE, "f", path, gpu="numba-cuda"))
    assert "No GPU is available" in cpu
    assert "with CuPy" in cupy and "No GPU" not in cupy
    assert "numba.cuda kernel" in cuda and "cuda.to_device" in cuda and "No GPU" not in cuda
    plan = user_text(multipath_messages(SOURCE, "f", 3, gpu="numba-cuda"))
    assert "numba.cuda kernel" in plan and "do not use CuPy or CUDA" not in plan
    assert [p.name for p in parse_paths("", 2, gpu="numba-cuda")][0] == "numba-cuda-kernel"


def test_the_llm_strategy_writes_for_the_optimize_target():
    from workbench.optimizer.strategies import resolve_strategies

    (llm,) = resolve_strategies(["llm"], target="numba-cuda")
    assert llm.target == "numba-cuda" and llm.prompt_target == "numba-cuda"
    (llm,) = resolve_strategies("llm")
    assert llm.prompt_target == "cpu"


def test_repair_prompt_is_short_and_carries_the_error_and_the_failing_input():
    failure = FailingCase("n=5: array([0.1, 0.2])", expected="0.15", actual="0.2")
    text = user_text(
        repair_messages(
            SOURCE, "f", "def f(xs):\n    return xs[-1]\n", "result differs", failure=failure
        )
    )
    assert "does not work yet" in text and "return xs[-1]" in text
    assert "The error: result differs" in text
    assert "On the input: n=5: array([0.1, 0.2])" in text and "expected: 0.15" in text
    assert "Fix only this problem" in text and "ONE ```python block" in text
    assert "line profile" not in text and "Timing" not in text  # cheap: nothing else
    raised = user_text(
        repair_messages(SOURCE, "f", "x", "TypeError", failure=FailingCase("n=1", error="boom"))
    )
    assert "it raised: boom" in raised


def test_local_model_slots_follow_the_cores():
    from workbench.llm._local import default_slots

    assert [default_slots(c) for c in (1, 2, 3, 4, 8, 64)] == [1, 1, 1, 2, 4, 4]
