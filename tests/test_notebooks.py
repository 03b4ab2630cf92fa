"""The demo notebooks run top to bottom in a fresh kernel."""

from __future__ import annotations

import pytest

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = pytest.mark.slow


@pytest.mark.notebook
def test_quickstart_optimizes_and_accepts_three_functions(run_notebook, tmp_path):
    printed = "".join(run_notebook("01_quickstart.ipynb", cwd=tmp_path, timeout=600))
    for name in ("pairwise_dist", "jacobi_step", "histogram"):
        assert f"{name}: reference" in printed  # its result table was shown
    assert printed.count("faster, same results") == 3


@pytest.mark.notebook
def test_generate_notebook_asks_about_tests_and_accepts_the_right_reading(run_notebook):
    outputs = run_notebook("02_generate.ipynb")  # beside its recording
    printed = "".join(outputs)
    assert "qwen2.5-coder-0.5b" in printed  # what the recorded model really wrote
    assert "right: assert count_vowels('A') == 1" in printed  # the questions were asked ...
    assert "labelling done" in printed  # ... until the groups were told apart
    assert outputs[-1].strip() == "5 0 5"  # the accepted function counts as the spec says
    assert "0 / ? candidates" not in printed  # generate does not count candidates


@pytest.mark.notebook
def test_your_data_notebook_optimizes_from_the_notebooks_own_data(run_notebook, tmp_path):
    """No input builder: a pandas row-wise apply from an example call, a word counter from
    the notebook's history; both verified and accepted."""
    printed = "".join(run_notebook("05_your_data.ipynb", cwd=tmp_path, timeout=600))
    assert "inputs: example order_values(orders): 3,000 rows" in printed
    assert "inputs: history (In[" in printed and ") word_counts(text):" in printed
    assert "order_values: example" in printed and "word_counts: history" in printed
    assert printed.count("same results") == 2
    assert "Traceback" not in printed
