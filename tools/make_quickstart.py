"""Writes notebooks/01_quickstart.ipynb (kept as code so its cells are reviewed like code)."""

from pathlib import Path

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md(
        "# Workbench quickstart: slow loops in, verified fast code out\n\n"
        "Each section below has a slow Python-loop function. `%%optimize` defines it as usual, "
        "then generates candidates (Numba variants here; no LLM needed), runs each one in an "
        "isolated process, checks it against your function on inputs of several sizes, and times "
        "the ones that pass (`--strategies numba` keeps this notebook to the mechanical Numba "
        "candidates; without it, an installed LLM adds candidates along several reasoning paths). "
        "Nothing changes in your namespace until you accept a candidate.\n\n"
        "**Reading what a cell shows.** While it works, the cell shows its progress (the phase, "
        "candidates checked, and a **Stop** button that keeps what is finished). Then, in "
        "JupyterLab, the **candidate explorer**: on the left every candidate, grouped by where "
        "it came from and coloured by its result (dark green: much faster; orange: wrong "
        "results; red: error; the legend is above them). Click one to see, on the right, its "
        "status and speedup with its range (the spread of the timings), how it was timed, its "
        "hot lines, what changed against your function (**Diff**), and, for a failed one, the "
        "input it got wrong with your function's result and its own side by side. **Accept** "
        "puts the selected candidate into your notebook under your function's name; **Show the "
        "timing plot** draws every timed call. Outside JupyterLab (a terminal, a script, this "
        "notebook run headless) the same result prints as a table."
    ),
    code("%load_ext workbench\nimport numpy as np\n%wb config time_budget=1"),
    md(
        "## 1. Pairwise distances\n`make_points(n)` builds the arguments for size `n`; the "
        "workbench calls it at several small sizes to verify and at one large size to time."
    ),
    code(
        "def make_points(n):\n    rng = np.random.default_rng(n)\n    return (rng.standard_normal((n, 3)),)"
    ),
    code(
        "%%optimize --inputs make_points --strategies numba\n"
        "def pairwise_dist(X):\n    n = X.shape[0]\n    out = np.empty((n, n))\n"
        "    for i in range(n):\n        for j in range(n):\n"
        "            out[i, j] = np.sqrt(((X[i] - X[j]) ** 2).sum())\n    return out"
    ),
    code(
        "res = _\nslow_pairwise_dist = pairwise_dist\nres.accept()   # binds the best candidate as pairwise_dist\n"
        "X, = make_points(300)\nassert np.allclose(pairwise_dist(X), slow_pairwise_dist(X))\n"
        "print(f'accepted {res.best.strategy}: {res.best.speedup:.0f}x faster, same results')"
    ),
    md("## 2. A 2-D stencil (one Jacobi step)"),
    code("def make_grid(n):\n    return (np.random.default_rng(n).random((n, n)),)"),
    code(
        "%%optimize --inputs make_grid --strategies numba\n"
        "def jacobi_step(u):\n    n, m = u.shape\n    out = u.copy()\n"
        "    for i in range(1, n - 1):\n        for j in range(1, m - 1):\n"
        "            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])\n"
        "    return out"
    ),
    code(
        "res = _\nslow_jacobi_step = jacobi_step\nres.accept()\n"
        "u, = make_grid(200)\nassert np.allclose(jacobi_step(u), slow_jacobi_step(u))\n"
        "print(f'accepted {res.best.strategy}: {res.best.speedup:.0f}x faster, same results')"
    ),
    md(
        "## 3. A histogram\nThe loop has no `range` to parallelise, and a parallel version "
        "would race on `counts`: the workbench only offers what verification accepts."
    ),
    code("def make_samples(n):\n    return (np.random.default_rng(n).random(n), 64)"),
    code(
        "%%optimize --inputs make_samples --strategies numba\n"
        "def histogram(x, bins):\n    counts = np.zeros(bins, dtype=np.int64)\n"
        "    for v in x:\n        k = int(v * bins)\n        if 0 <= k < bins:\n"
        "            counts[k] += 1\n    return counts"
    ),
    code(
        "res = _\nslow_histogram = histogram\nres.accept()\n"
        "x, bins = make_samples(10_000)\nassert (histogram(x, bins) == slow_histogram(x, bins)).all()\n"
        "print(f'accepted {res.best.strategy}: {res.best.speedup:.0f}x faster, same results')"
    ),
    md(
        "## Sessions\nEvery run is saved in `.workbench/` beside this notebook as it completes; "
        "after a kernel restart `%wb sessions` lists them and `%wb resume ID` brings one back. "
        "`workbench dashboard` in a terminal beside this notebook shows every saved run in a "
        "browser; a candidate you accept there is recorded, and `%wb load ID` in a new cell "
        "puts its code into that cell."
    ),
    code("%wb sessions"),
]
nb = nbf.v4.new_notebook(
    cells=cells,
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
)
Path("notebooks").mkdir(exist_ok=True)
nbf.write(nb, "notebooks/01_quickstart.ipynb")
print("wrote notebooks/01_quickstart.ipynb")
