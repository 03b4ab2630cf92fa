"""The CodeT benchmark script end to end on a tiny file of the same format (2 tasks)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROMPT = 'def inc(x):\n    """Add one to x."""\n'
TEST = "\n\ndef check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-5) == -4\n"
TASK_INC = {
    "task_id": "Toy/0",
    "prompt": PROMPT,
    "entry_point": "inc",
    "canonical_solution": "    return x + 1\n",
    "test": TEST,
    # 3 right (one behaviour), 2 wrong ones that agree with each other, 1 that does not run
    "code_samples": ["    return x + 1\n"] * 2
    + ["    return 1 + x\n# trailing text cut at the stop token", "    return x * 2\n"]
    + ["    return x+1\n\n\nprint('cut')", "    return x +\n"],
    "test_prompt": PROMPT + "    pass\n\n# check the correctness of inc\nassert ",
    # generated tests: mostly right, one wrong (inc(2) == 4 is what x * 2 gives)
    "test_samples": [
        "inc(1) == 2\nassert inc(0) == 1\n",
        "inc(2) == 4\nassert inc(3) == 4\n",
        "inc(10) == 11\n",
    ],
}
TASK_NO_RUN = {**TASK_INC, "task_id": "Toy/1", "code_samples": ["    return (\n"] * 3}


def test_benchmark_on_two_tasks(tmp_path):
    data = tmp_path / "toy.jsonl.gz"
    with gzip.open(data, "wt") as fh:
        for task in (TASK_INC, TASK_NO_RUN):
            fh.write(json.dumps(task) + "\n")
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "ranking_codet.py"),
            "--data",
            str(data),
            "--tasks",
            "0-1",
            "--json",
            str(out),
            "--check-timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    # the task without a runnable candidate does not count (B4's protocol)
    assert result["tasks"] == 1 and result["skipped"] == 1
    p = result["pass@1"]
    # 4 distinct runnable codes after the cut at stop tokens: 3 right ones with the same pass
    # row, and x * 2, which passes the wrong test "inc(2) == 4"; random = 3 of 4
    assert p["random"] == 75.0
    assert p["mbr_exec"] == 100.0 and p["codet"] == 100.0 and p["b4"] == 100.0
    assert set(result["conair"]) == {"1", "2", "3"}
    assert result["hard_subset"]["tasks"] == 1
    assert result["seconds"] > 0 and "matrix build" in proc.stdout
