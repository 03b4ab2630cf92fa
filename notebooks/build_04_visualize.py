"""Writes 04_visualize.ipynb (run: python notebooks/build_04_visualize.py [--record]).

``--record`` first runs the notebook's code against the embedded model and saves the model
exchanges to ``recordings/04_visualize.json``; the notebook itself replays them, so it runs
the same everywhere (CI, Binder) without a model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
RECORDING = HERE / "recordings" / "04_visualize.json"

SETUP = (
    "import matplotlib\n"
    "import numpy as np\n"
    "import pandas as pd\n"
    "\n"
    "months = pd.date_range('2024-01-01', periods=12, freq='MS').strftime('%Y-%m')\n"
    "growth = {'North': 1.01, 'South': 1.06, 'East': 0.99, 'West': 1.03}\n"
    "df = pd.DataFrame(\n"
    "    [\n"
    "        {'month': m, 'region': r, 'revenue': round(100 * g**i, 1)}\n"
    "        for r, g in growth.items()\n"
    "        for i, m in enumerate(months)\n"
    "    ]\n"
    ")\n"
    "df.head()"
)
BACKEND = (
    "from workbench.llm import ReplayBackend\n"
    "\n"
    "# the model's answers, recorded from the embedded model (build_04_visualize.py --record)\n"
    "backend = ReplayBackend('recordings/04_visualize.json')"
)
RECORD_BACKEND = (
    "from workbench.llm import RecordingBackend\n"
    "from workbench.llm._local import LocalModel\n"
    "\n"
    "# on a small shared machine one answer can take more than the default 10 minutes\n"
    "backend = RecordingBackend(LocalModel(timeout=3600))"
)
ASK = (
    "from workbench.visualizer._engine import visualize\n"
    "\n"
    "result = visualize(\n"
    "    'monthly revenue by region, highlight the region that grew fastest, readable labels',\n"
    "    data=df,\n"
    "    backend=backend,\n"
    "    paths=2,\n"
    "    refine_rounds=2,\n"
    "    max_tokens=350,\n"
    "    temperature=0.7,\n"
    "    seed=4,\n"
    ")\n"
    "result"
)
FACTS = (
    "print('the request asks for:')\n"
    "for text in result.final.facts.expected:\n"
    "    print('  -', text)\n"
    "for attempt in [*result.paths, result.aggregated, *result.rounds]:\n"
    "    status = 'passes' if attempt.passed else ('ran' if attempt.facts.executed else 'failed')\n"
    "    print(f'{attempt.id:9} {status:7} {attempt.facts.summary()}')\n"
    "print('final plot:', result.final.id)"
)
REFINE = (
    "refined = result.refine('log scale on the y axis, larger font')\n"
    "print(refined.final.facts.summary())\n"
    "refined"
)
ACCEPT = (
    "import matplotlib.pyplot as plt\n"
    "\n"
    "code = refined.accept()  # also offered as the next cell in JupyterLab\n"
    "print('accepted', len(code.splitlines()), 'lines; figures open:', len(plt.get_fignums()))"
)

CELLS = [
    new_markdown_cell(
        "# `%%visualize`: several readings of a plotting request, drawn and checked\n\n"
        "A plotting request is usually under-specified. VisPath asks the model for **K "
        "interpretations** (chart type, encoding, emphasis), writes a script for each, runs "
        "every script in an **isolated worker** to a PNG, **checks what the figure draws** "
        "(errors, empty axes, missing labels/title/legend, groups joined into one line, series "
        "in the same colour, a legend that names too few series, overlapping or cut labels, a "
        "range that wants a log axis) and **holds it against the request** (here: one series "
        "per region, one series highlighted), then has the model **aggregate** the paths and "
        "their feedback into a final script, repaired while the checks fail; the best-scoring "
        "attempt is kept.\n\n"
        "The model sees the data's schema and five rows, never the whole table. Here the "
        "model's answers are replayed from a recording of the embedded model."
    ),
    new_code_cell(SETUP),
    new_code_cell(BACKEND),
    new_markdown_cell(
        "## 1. Two paths and the aggregated plot\n\n"
        "In a notebook with `%load_ext workbench` this is `%%visualize --data df`."
    ),
    new_code_cell(ASK),
    new_markdown_cell(
        "## 2. What the checks found on each figure\n\n"
        "What the request asks for is read from its words (and proposed by the model, kept only "
        "when the request or the data backs it); each attempt is checked against it."
    ),
    new_code_cell(FACTS),
    new_markdown_cell("## 3. Ask for changes in words, then accept"),
    new_code_cell(REFINE),
    new_code_cell(ACCEPT),
]


def record() -> None:
    """Run the notebook's code against the embedded model and save its exchanges."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    os.chdir(HERE)
    namespace: dict = {}
    for cell in CELLS:
        if cell.cell_type != "code":
            continue
        source = RECORD_BACKEND if cell.source == BACKEND else cell.source
        lines = source.splitlines()
        if lines and lines[-1].isidentifier():
            lines = lines[:-1]  # the display line
        exec("\n".join(lines), namespace)
    RECORDING.parent.mkdir(exist_ok=True)
    namespace["backend"].save(RECORDING)
    print(f"recorded {len(namespace['backend'].exchanges)} exchanges to {RECORDING}")


def main() -> None:
    if "--record" in sys.argv:
        record()
    nb = new_notebook(cells=CELLS)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, HERE / "04_visualize.ipynb")
    print(f"wrote {HERE / '04_visualize.ipynb'}")


if __name__ == "__main__":
    main()
