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
