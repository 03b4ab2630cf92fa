"""Rank CodeT's HumanEval samples with plausible tests, under B4's protocol.

    python benchmarks/ranking_codet.py --data ../shared/eval/codet-humaneval/FILE.jsonl.gz \
        [--tasks 0-9] [--json OUT] [--cache DIR]

For each task: candidates are ``prompt + completion`` (cut at CodeT's stop tokens), tests are
the first 5 valid ``assert`` lines of each test sample (CodeT's extraction), deduplicated; the
pass matrix is built with workbench's isolated workers (0.1 s per test). Only candidates whose
code runs enter the matrix, and only tasks with at least one such candidate count (B4's
protocol); the top choice is scored with HumanEval's own ``check`` (pass@1, ties averaged).
``hard_subset``: B4's filter, tasks where some but not all executable candidates are correct.
``conair``: pass@1 after k simulated labels per task, the user labelling a test right exactly
when HumanEval's canonical solution passes it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

from workbench.generator._labelling import Labeller
from workbench.generator._passmatrix import PassMatrix, build_pass_matrix
from workbench.generator._ranking import b4, codet, maxpass, mbr_exec, uniform

STOP_TOKENS = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]  # CodeT's postprocess.py
TEST_LIMIT = 5
BETA0S = (1e4, 1e5, 1e6)
ALPHA = 1e3


def cut_at_stop_tokens(text: str) -> str:
    for token in STOP_TOKENS:
        if token in text:
            text = text.split(token)[0]
    return text


def _valid_assert(test: str) -> bool:
    body = test.replace("\n", "\n    ")
    try:
        compile(f"try:\n    {body}\nexcept:\n    pass\n", "", "exec")
    except Exception:
        return False
    return bool(test.strip()) and "assert" in test


def extract_tests(sample: str, entry: str) -> list[str]:
    """CodeT's ``test_case_extract``: the sample's asserts that call ``entry`` and compile."""
    parts = [
        f"assert {part}".strip()
        for part in f"assert {sample}".split("assert ")
        if entry.strip() in part and part.strip()
    ]
    cut = [cut_at_stop_tokens(p).strip() for p in parts]
    return [t for t in cut if _valid_assert(t)]


def parse_tasks(spec: str | None, n: int) -> range:
    if not spec:
        return range(n)
    first, _, last = spec.partition("-")
    return range(int(first), int(last or first) + 1)


def load(path: str) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate_task(task: dict, args: argparse.Namespace) -> dict | None:
    entry, prompt = task["entry_point"], task["prompt"]
    completions = [cut_at_stop_tokens(s) for s in task["code_samples"]]
    programs = [prompt + c for c in completions]
    tests = [t for s in task["test_samples"] for t in extract_tests(s, entry)[:TEST_LIMIT]]
    if not tests:
        return None  # B4 runs no candidate of a task without tests: no executable candidate
    common = dict(entry=entry, timeout=args.timeout, workers=args.workers, cache_dir=args.cache)
    matrix = build_pass_matrix(programs, tests, **common)
    # HumanEval's check, as CodeT/B4 run it: prompt + completion + test + check(entry)
    check = task["test"] + "\n" + f"check({entry})\n"
    truth = build_pass_matrix(matrix.codes, [check], **{**common, "timeout": args.check_timeout})
    canonical = build_pass_matrix([prompt + task["canonical_solution"]], tests, **common)
    assert canonical.tests == matrix.tests
    build_seconds = matrix.seconds + truth.seconds + canonical.seconds

    executable = matrix.loaded
    if not executable.any():
        return None
    correct = truth.passed[:, 0]
    share = float(correct[executable].mean())
    row: dict = {
        "task_id": task["task_id"],
        "codes": int(executable.sum()),
        "tests": len(matrix.tests),
        "correct_share": share,
        "hard": 0.0 < share < 1.0,
        "build_seconds": build_seconds,
        "cells_run": matrix.cells_run,
    }
    rankings = {
        "random": uniform(matrix),
        "maxpass": maxpass(matrix),
        "mbr_exec": mbr_exec(matrix),
        "codet": codet(matrix),
    }
    for beta0 in BETA0S:
        rankings[_b4_name(beta0)] = b4(matrix, alpha=ALPHA, beta0=beta0)
    row["pass@1"] = {name: r.pass_at_1(correct) for name, r in rankings.items()}

    ranker = _ranker(args.conair_beta0)
    labeller = Labeller(matrix, ranker=ranker, budget=max(args.labels))
    truth_of_test = canonical.passed[0]
    conair, asked = {}, 0
    for k in range(1, max(args.labels) + 1):
        question = labeller.next_test_to_label()
        if question is not None:
            labeller.label(question.test, bool(truth_of_test[question.test]))
            asked += 1
        conair[str(k)] = labeller.ranking.pass_at_1(correct)
    row["conair"] = {k: v for k, v in conair.items() if int(k) in args.labels}
    row["labels_asked"] = asked
    return row


def _b4_name(beta0: float) -> str:
    return "b4" if beta0 == 1e4 else f"b4_beta0_{beta0:.0e}".replace("+0", "")


def _ranker(beta0: float):
    def ranker(matrix: PassMatrix, labels=None):
        return b4(matrix, labels, alpha=ALPHA, beta0=beta0)

    return ranker


def summarise(rows: list[dict], labels: list[int]) -> dict:
    def mean(values: list[float]) -> float:
        return round(100 * float(np.mean(values)), 2) if values else float("nan")

    names = list(rows[0]["pass@1"]) if rows else []
    hard = [r for r in rows if r["hard"]]
    return {
        "tasks": len(rows),
        "pass@1": {n: mean([r["pass@1"][n] for r in rows]) for n in names},
        "hard_subset": {
            "tasks": len(hard),
            **{n: mean([r["pass@1"][n] for r in hard]) for n in names},
            "conair": {str(k): mean([r["conair"][str(k)] for r in hard]) for k in labels},
        },
        "conair": {str(k): mean([r["conair"][str(k)] for r in rows]) for k in labels},
        "labels_asked": round(float(np.mean([r["labels_asked"] for r in rows])), 2) if rows else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a CodeT-format .jsonl(.gz) file")
    parser.add_argument("--tasks", help="task positions A-B in the file (inclusive), e.g. 0-9")
    parser.add_argument("--json", help="write the summary here")
    parser.add_argument("--cache", help="directory for the pass-matrix cache")
    parser.add_argument("--timeout", type=float, default=0.1, help="seconds per generated test")
    parser.add_argument(
        "--check-timeout", type=float, default=0.1, help="seconds for HumanEval's check (B4: 0.1)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conair-beta0", type=float, default=1e4)
    parser.add_argument("--labels", default="1,2,3", help="label counts to report")
    args = parser.parse_args(argv)
    args.labels = sorted({int(k) for k in args.labels.split(",")})

    started = time.perf_counter()
    tasks = load(args.data)
    chosen = [tasks[i] for i in parse_tasks(args.tasks, len(tasks)) if i < len(tasks)]
    rows, skipped, build = [], 0, 0.0
    for task in chosen:
        row = evaluate_task(task, args)
        if row is None:
            skipped += 1
            print(f"{task['task_id']:>14}: no executable candidate, skipped", file=sys.stderr)
            continue
        rows.append(row)
        build += row["build_seconds"]
        p = row["pass@1"]
        print(
            f"{row['task_id']:>14}: {row['codes']:3d} codes x {row['tests']:3d} tests "
            f"{row['build_seconds']:6.1f} s  random {p['random']:.2f} codet {p['codet']:.2f} "
            f"b4 {p['b4']:.2f} conair@{max(args.labels)} {row['conair'][str(max(args.labels))]:.2f}",
            file=sys.stderr,
            flush=True,
        )
    summary = summarise(rows, args.labels)
    summary["skipped"] = skipped
    summary["matrix_build_seconds"] = round(build, 2)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["per_task"] = [
        {k: row[k] for k in ("task_id", "codes", "tests", "correct_share", "pass@1", "conair")}
        for row in rows
    ]
    summary["protocol"] = {
        "timeout": args.timeout,
        "check_timeout": args.check_timeout,
        "test_limit": TEST_LIMIT,
        "b4_alpha": ALPHA,
        "b4": "beta0=1e4",
        "conair_ranker": f"b4(alpha={ALPHA:g}, beta0={args.conair_beta0:g})",
    }

    print(f"\n{summary['tasks']} tasks with an executable candidate ({skipped} skipped)")
    print(f"{'ranker':<16}{'pass@1':>8}{'hard':>8}")
    hard = summary["hard_subset"]
    for name, value in summary["pass@1"].items():
        print(f"{name:<16}{value:8.1f}{hard[name]:8.1f}")
    for k, value in summary["conair"].items():
        print(f"{'conair (' + k + ' lbl)':<16}{value:8.1f}{hard['conair'][k]:8.1f}")
    print(f"hard subset: {hard['tasks']} tasks; labels asked per task: {summary['labels_asked']}")
    print(f"matrix build {summary['matrix_build_seconds']:.1f} s, total {summary['seconds']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
