"""Execute a notebook headless and print what each cell showed (text form).

python tools/run_notebook.py notebooks/01_quickstart.ipynb [--inplace]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--inplace", action="store_true", help="save the executed notebook")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=args.timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(args.notebook.parent)}},
    )
    started = time.perf_counter()
    print(f"executing {args.notebook} ...", flush=True)
    try:
        client.execute()
    except CellExecutionError as exc:
        print(exc, file=sys.stderr)
        return 1
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                print(out["text"], end="")
            elif "data" in out and "text/plain" in out["data"]:
                print(out["data"]["text/plain"])
    print(f"\n{args.notebook} ran in {time.perf_counter() - started:.0f} s.")
    print(
        f"Open it in JupyterLab:  {Path(sys.executable).parent}/jupyter lab {args.notebook}"
        "  (pip install jupyterlab first if it is missing)"
    )
    if args.inplace:
        nbformat.write(nb, args.notebook)
    return 0


if __name__ == "__main__":
    sys.exit(main())
