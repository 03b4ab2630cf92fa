"""Writes notebooks/05_your_data.ipynb (kept as code so its cells are reviewed like code).

python notebooks/build_05_your_data.py
"""

from pathlib import Path

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md(
        "# Optimize what is in front of you\n\n"
        "No input builder in this notebook: the workbench takes the arguments of a real call. "
        "`%optimize f(df)` (a line magic) uses that call; `%%optimize` on a cell with no "
        "`--inputs` and no `--example` uses the last call of the function in this notebook's "
        "history. From that one call it derives the inputs it verifies on (subsets of the rows "
        "at several sizes, and edge cases generated to match the types: empty, one row, values "
        "in the ranges seen), keeps those your function runs on, and times every candidate on "
        "resampled rows of the real size. The table says where the inputs came from.\n\n"
        "The faster versions here are written by hand and passed with `--candidates`, so the "
        "notebook runs the same everywhere without a model; with an LLM configured "
        "(`%wb llm`), leave `--strategies` out and the model writes candidates as well."
    ),
    code("%load_ext workbench\n%wb config time_budget=1\nimport numpy as np\nimport pandas as pd"),
    md("## 1. A row-wise `apply` on a DataFrame\nSome orders, already loaded:"),
    code(
        "rng = np.random.default_rng(7)\n"
        "orders = pd.DataFrame({\n"
        "    'price': rng.gamma(2.0, 20.0, 3000).round(2),\n"
        "    'qty': rng.integers(1, 12, 3000),\n"
        "    'region': rng.choice(['north', 'south', 'east', 'west'], 3000),\n"
        "})\n"
        "orders.head(3)"
    ),
    code(
        "def order_value(row):\n"
        "    discount = 0.1 if row['qty'] >= 10 else 0.0\n"
        "    surcharge = 4.5 if row['region'] == 'north' else 0.0\n"
        "    return row['price'] * row['qty'] * (1 - discount) + surcharge\n\n"
        "def order_values(df):\n"
        "    return df.apply(order_value, axis=1)"
    ),
    code(
        "vectorized = '''\n"
        "import numpy as np\n"
        "def order_values(df):\n"
        "    discount = np.where(df['qty'] >= 10, 0.1, 0.0)\n"
        "    surcharge = np.where(df['region'] == 'north', 4.5, 0.0)\n"
        "    return df['price'] * df['qty'] * (1 - discount) + surcharge\n"
        "'''"
    ),
    md(
        "One line: the call is the input. Its DataFrame travels to the isolated workers and "
        "the results come back as DataFrames and Series (no pickle), compared column by column "
        "with their index, name and dtype."
    ),
    code("%optimize order_values(orders) --strategies none --candidates vectorized"),
    code(
        "res = _\nslow_order_values = order_values\nres.accept()\n"
        "pd.testing.assert_series_equal(order_values(orders), slow_order_values(orders))\n"
        "print(f'order_values: {res.inputs[\"source\"]}, {res.best.speedup:.0f}x faster, same results')"
    ),
    md(
        "## 2. Words and counts from text\nA string-processing function that returns a dict, "
        "called once on the text we have:"
    ),
    code(
        "text = ' '.join([\n"
        "    'The quick brown fox jumps over the lazy dog.',\n"
        "    'A dog barks; the fox runs!',\n"
        "    'Quick thinking, quick feet: the end?',\n"
        "] * 3000)"
    ),
    code(
        "def word_counts(text):\n"
        "    counts = {}\n"
        "    for word in text.lower().split():\n"
        "        word = word.strip('.,;:!?')\n"
        "        if word:\n"
        "            counts[word] = counts.get(word, 0) + 1\n"
        "    return counts\n\n"
        "sorted(word_counts(text).items(), key=lambda kv: -kv[1])[:3]"
    ),
    code(
        "# count the raw words in C first, then strip each distinct word once\n"
        "with_counter = '''\n"
        "from collections import Counter\n"
        "def word_counts(text):\n"
        "    counts = {}\n"
        "    for word, n in Counter(text.lower().split()).items():\n"
        "        word = word.strip('.,;:!?')\n"
        "        if word:\n"
        "            counts[word] = counts.get(word, 0) + n\n"
        "    return counts\n"
        "'''"
    ),
    md(
        "No `--inputs`, no `--example`: the last call above, `word_counts(text)`, is the "
        "example (its words are shuffled for each timed call)."
    ),
    code(
        "%%optimize --strategies none --candidates with_counter\n"
        "def word_counts(text):\n"
        "    counts = {}\n"
        "    for word in text.lower().split():\n"
        "        word = word.strip('.,;:!?')\n"
        "        if word:\n"
        "            counts[word] = counts.get(word, 0) + 1\n"
        "    return counts"
    ),
    code(
        "res = _\nslow_word_counts = word_counts\n"
        "# the significantly faster candidate; if the machine was too noisy to tell, the\n"
        "# verified one by name (accept() alone then binds nothing, and says so)\n"
        "chosen = res.best or res[0]\nres.accept(chosen)\n"
        "assert word_counts(text) == slow_word_counts(text)\n"
        "print(f'word_counts: {res.inputs[\"source\"]}, {chosen.speedup:.1f}x '\n"
        "      f'[{chosen.speedup_low:.2f}-{chosen.speedup_high:.2f}], same results')"
    ),
]
nb = nbf.v4.new_notebook(
    cells=cells,
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
)
out = Path(__file__).resolve().parent / "05_your_data.ipynb"
nbf.write(nb, out)
print(f"wrote {out}")
