"""Writes 02_generate.ipynb (run: python notebooks/build_02_generate.py [--record]).

``--record`` first runs the notebook's ``%%generate`` cell against the embedded model and saves
the model's exchanges to ``recordings/02_generate.json``; the notebook replays them, so it runs
the same everywhere (CI, Binder) without a model, and shows what that model really wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
RECORDING = HERE / "recordings" / "02_generate.json"

SETUP = (
    "%load_ext workbench\n"
    "# the embedded model's answers, recorded by build_02_generate.py --record;\n"
    "# %wb llm local asks the model itself (a minute on a laptop CPU)\n"
    "%wb llm replay recordings/02_generate.json"
)
GENERATE = (
    "%%generate --n-codes 8 --n-tests 8\n"
    "def count_vowels(s: str) -> int:\n"
    '    """Number of vowels (a, e, i, o, u, in either case) in s; y is not a vowel."""'
)
QUESTION = (
    "res = _\n"
    "question = res.next_test_to_label()\n"
    "print(question.source if question else 'no question: the candidates agree on every test')"
)
ANSWER = (
    "# what you answer after reading each question (the recording always asks these)\n"
    "answers = {\n"
    "    \"assert count_vowels('A') == 1\": True,  # 'A' is a vowel: either case counts\n"
    "    \"assert count_vowels('y') == 0\": True,  # the spec says y is not a vowel\n"
    "}\n"
    "while question is not None:\n"
    "    right = answers[question.source]\n"
    "    print('right:' if right else 'wrong:', question.source)\n"
    "    res.label(question.test, right)  # saved at once; the ranking updates\n"
    "    question = res.next_test_to_label()\n"
    "res"
)
ACCEPT = (
    "res.accept()  # binds count_vowels; the code is offered as the next cell in JupyterLab\n"
    "print(count_vowels('Programming in Python'), count_vowels('rhythm'), count_vowels('AEIOU'))"
)


def cells() -> list:
    return [
        new_markdown_cell(
            "# `%%generate`: a function from a spec, and tests you can trust\n\n"
            "You write a signature and a docstring. The model writes several implementations "
            "**and** several tests (asserts); every implementation runs against every test in "
            "isolated workers, which gives a **pass matrix**. Implementations that pass the same "
            "tests form a group, and the groups are ranked by how many implementations agree "
            "and how many tests they pass (B4). Because the model wrote the tests too, some "
            "are wrong: the workbench picks the test whose answer tells most about which "
            "leading group is right and asks **you**.\n\n"
            "**Reading the screen.** *Is this test right?* shows the test and, for each leading "
            "group, what its code returns for the test's input and whether the test passes. "
            "Click **Right** (the test matches what you meant) or **Wrong**: implementations "
            "that disagree with you drop in the **ranking** below, and the answer is saved in "
            "the session at once. **Skip** asks another test. **Accept** binds the leader. "
            "The heatmap is the pass matrix: one row per implementation, grouped by ranking "
            "group (#1 leads), one column per test (green passes, red fails); your labels are "
            "the marks in the top row.\n\n"
            "This notebook replays a recording of the embedded model (Qwen2.5-Coder-0.5B), so "
            "it shows what a small model really writes, and runs the same every time."
        ),
        new_code_cell(SETUP),
        new_code_cell(GENERATE),
        new_markdown_cell(
            "## Answer the question\n"
            "In JupyterLab you click **Right** or **Wrong** above. Run headless, the notebook "
            "answers in code, as you would after reading the question:"
        ),
        new_code_cell(QUESTION),
        new_code_cell(ANSWER),
        new_markdown_cell("## Accept the leader"),
        new_code_cell(ACCEPT),
        new_markdown_cell(
            "Every label and the accepted choice are in `.workbench/` beside this notebook: "
            "`%wb resume ID` brings the run back after a restart, and `workbench dashboard` "
            "shows it in a browser, where you can label too."
        ),
    ]


def record() -> None:
    """Run the %%generate cell against the embedded model; save its exchanges."""
    import os
    import tempfile

    from IPython.testing.globalipapp import start_ipython

    from workbench._settings import configure
    from workbench.llm import RecordingBackend, _active, default_local_model

    os.chdir(HERE)
    configure(home=tempfile.mkdtemp())
    shell = start_ipython()
    shell.run_line_magic("load_ext", "workbench")
    recorder = RecordingBackend(default_local_model())
    _active._active = recorder
    line, body = GENERATE.split("\n", 1)
    shell.run_cell_magic("generate", line.split(" ", 1)[1], body)  # prints the question
    RECORDING.parent.mkdir(exist_ok=True)
    recorder.save(RECORDING)
    print(f"recorded {len(recorder.exchanges)} exchanges to {RECORDING}")


def main() -> None:
    if "--record" in sys.argv:
        record()
    nb = new_notebook(cells=cells())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, HERE / "02_generate.ipynb")
    print(f"wrote {HERE / '02_generate.ipynb'}")


if __name__ == "__main__":
    main()
