"""Child process that serves a GGUF model with llama.cpp's OpenAI-compatible HTTP server.

Run as ``python -m workbench.llm._llama_server MODEL --parallel K ...`` by
:class:`workbench.llm.LocalModel`. It binds 127.0.0.1 on a free port, prints one JSON line
``{"address": "http://127.0.0.1:PORT"}`` once the server listens, and exits when its stdin
closes, so the server goes away with the process that started it, however that one ends.
A separate process keeps a crash in native code out of the user's kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench-llama-server")
    parser.add_argument("model")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--ctx-per-slot", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=0, help="0: llama.cpp's choice")
    parser.add_argument("--alias", default="local")
    parser.add_argument("--gpu-layers", type=int, default=-1, help="-1: llama.cpp's choice")
    args = parser.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = args.alias
    params.hostnames = ["127.0.0.1"]  # loopback only: nothing else on the network may use it
    params.port = 0  # a free port; the address is read back below
    params.n_parallel = args.parallel
    params.n_ctx = args.parallel * args.ctx_per_slot  # the context is shared out over the slots
    params.cont_batching = True
    params.ui = False
    if args.threads > 0:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    if args.gpu_layers >= 0:
        params.n_gpu_layers = args.gpu_layers
    server = xllamacpp.Server(params)
    print(json.dumps({"address": server.listening_address, "pid": os.getpid()}), flush=True)
    sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)  # skip native destructors: the process is going away anyway


if __name__ == "__main__":
    sys.exit(main())
