"""Writes 03_gpu.ipynb (run: python notebooks/build_03_gpu.py [--execute])."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

CELLS = [
    new_markdown_cell(
        "# GPU targets: device, kernels, honest timing\n\n"
        "This notebook runs anywhere. With a CUDA GPU it uses CuPy and Numba CUDA on it; "
        "without one it runs the Numba CUDA kernels on Numba's **CUDA simulator** (on the "
        "CPU: correct results, meaningless times) and says what it skipped."
    ),
    new_code_cell(
        "import ctypes.util\n"
        "import os\n"
        "import sys\n"
        "from pathlib import Path\n"
        "\n"
        "# Numba reads this once, when numba.cuda is first imported: no CUDA driver -> simulator\n"
        'os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "0" if ctypes.util.find_library("cuda") else "1")\n'
        "# kernels_cuda lives at the repository root: find it when it is not installed\n"
        "try:\n"
        "    import kernels_cuda\n"
        "except ImportError:\n"
        '    root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "kernels_cuda").is_dir())\n'
        "    sys.path.insert(0, str(root))"
    ),
    new_markdown_cell("## 1. What this machine has\n\nOne line, with what was skipped and why."),
    new_code_cell(
        "from workbench.gpu._device import detect_device\n"
        "\n"
        "device = detect_device()\n"
        "print(device.summary())\n"
        'print("targets:", ", ".join(device.targets))'
    ),
    new_markdown_cell(
        "## 2. A reference kernel against its NumPy reference\n\n"
        "`kernels_cuda` holds six tasks (SAXPY, sum reduction, tiled matmul, 2-D stencil, row "
        "softmax, histogram), each with a NumPy reference and naive and tuned kernels in Numba "
        "CUDA and CUDA C (`.cu`, loaded by CuPy). Here: one heat step of the 5-point stencil."
    ),
    new_code_cell(
        "import kernels_cuda\n"
        "\n"
        'task = kernels_cuda.TASKS["stencil2d"]\n'
        "print(task.description)\n"
        'backend_of = {"numba": "numba-cuda", "cupy": "cupy"}\n'
        "variants = [v for v in kernels_cuda.VARIANTS if backend_of[v.split('-')[0]] in device.targets]\n"
        "if not variants:\n"
        '    print("no GPU target available: skipped (see the device line above)")\n'
        "for variant in variants:\n"
        "    result = kernels_cuda.check(task.name, variant)\n"
        "    print(f\"{variant:<12} n={result.n}: {'matches' if result.ok else 'DIFFERS'} "
        '(max abs error {result.max_abs_error})")'
    ),
    new_code_cell(
        "# the tuned CUDA C kernel: a shared-memory tile with a one-cell halo\n"
        'source = kernels_cuda.cuda_source("stencil2d")\n'
        'print(source[source.index("// Shared tile"):][:900])'
    ),
    new_markdown_cell(
        "## 3. Timing done right\n\n"
        "`time_gpu` records CUDA events on the stream in use *and* waits for the whole device "
        "before it stops the host clock: a kernel still running, or one launched on another "
        "stream, is paid for. Warm-ups are not timed; the L2 cache can be flushed between "
        "trials; copies to and from the device are reported apart from compute. On the "
        "simulator events record nothing, so `device_ms` is `None` and the host time counts."
    ),
    new_code_cell(
        "from workbench.gpu._timing import time_gpu\n"
        "\n"
        'saxpy = kernels_cuda.TASKS["saxpy"]\n'
        "size = saxpy.sim_size if device.simulator and not device.has_device else 1 << 24\n"
        "args = saxpy.make_inputs(size)\n"
        "timings = {}\n"
        "for variant in variants:\n"
        "    backend = backend_of[variant.split('-')[0]]\n"
        "    timings[variant] = time_gpu(saxpy.launcher(variant), args, backend=backend, "
        "label=variant, warmups=1, repeats=5, flush_l2=True, to_device=True)\n"
        "    print(timings[variant].summary())\n"
        "    for note in timings[variant].notes:\n"
        '        print("   note:", note)\n'
        "if not variants:\n"
        '    print("no GPU target available: timing skipped")'
    ),
    new_markdown_cell(
        "## 4. A mechanical CuPy candidate\n\n"
        "`cupy_variant` rewrites NumPy code for CuPy: NumPy calls become CuPy calls, inputs go "
        "to the device, the result comes back and the device is synchronised. Verification "
        "compares it with the NumPy reference using float32-friendly tolerances."
    ),
    new_code_cell(
        "import numpy as np\n"
        "\n"
        "from workbench.optimizer.strategies._gpu import cupy_variant, gpu_tolerances\n"
        "\n"
        'source = """\n'
        "import numpy as np\n"
        "\n"
        "def normalise(x):\n"
        "    centred = x - np.mean(x, axis=0)\n"
        "    return centred / np.sqrt(np.sum(centred * centred, axis=0))\n"
        '"""\n'
        'candidate = cupy_variant(source, "normalise")\n'
        "print(candidate)"
    ),
    new_code_cell(
        "x = np.random.default_rng(0).random((2000, 64), dtype=np.float32)\n"
        "reference = {}\n"
        "exec(source, reference)\n"
        "expected = reference['normalise'](x)\n"
        'if "cupy" in device.targets:\n'
        "    namespace = {}\n"
        "    exec(candidate, namespace)\n"
        "    rtol, atol = gpu_tolerances(expected.dtype)\n"
        "    ok = np.allclose(namespace['normalise'](x), expected, rtol=rtol, atol=atol)\n"
        '    print("CuPy candidate", "matches" if ok else "DIFFERS", f"(rtol={rtol}, atol={atol})")\n'
        "else:\n"
        '    print("CuPy candidate not run:", device.cupy.reason)'
    ),
    new_markdown_cell(
        "## 5. A mechanical Numba CUDA candidate, inside `optimize`\n\n"
        'With `target="numba-cuda"` the loop that fills a fresh array becomes a `@cuda.jit` '
        "kernel (one thread per element) behind a wrapper with the same signature. "
        "`optimize` verifies it like any candidate and times it on the host, with the device "
        "synchronised before the clock stops; the *gpu split* column says how much of a call "
        "was copying in, kernel and copying out (CUDA events; on the simulator, the host "
        "clock between the same marks)."
    ),
    new_code_cell(
        "import workbench\n"
        "\n"
        'loop_source = """\n'
        "import numpy as np\n"
        "\n"
        "def clipped_diff(x, y):\n"
        "    out = np.empty((x.shape[0], y.shape[0]))\n"
        "    for i in range(x.shape[0]):\n"
        "        for j in range(y.shape[0]):\n"
        "            out[i, j] = min(abs(x[i] - y[j]), 0.5)\n"
        "    return out\n"
        '"""\n'
        "\n"
        "def pairs(n):\n"
        "    rng = np.random.default_rng(n)\n"
        "    return (rng.random(n), rng.random(n))\n"
        "\n"
        "small = device.simulator and not device.has_device  # the simulator is slow\n"
        'loop_result = workbench.optimize(loop_source, inputs=pairs, target="numba-cuda",\n'
        "                                 sizes=[3, 16, 32] if small else None, time_budget=0.5)\n"
        "print(loop_result)"
    ),
    new_markdown_cell(
        "## 6. The timeline\n\n"
        "Every timed region was also an NVTX range (domain `workbench`, visible in Nsight "
        "Systems when the `nvtx` package is installed) and an entry in the in-memory timeline "
        "that the workbench keeps for its views."
    ),
    new_code_cell(
        "from workbench._timeline import TIMELINE, nvtx_available\n"
        "\n"
        'print("NVTX ranges sent:", nvtx_available())\n'
        "entries = sorted(TIMELINE.entries, key=lambda e: e.start)  # kept in order of ending\n"
        "t0 = entries[0].start if entries else 0.0\n"
        "for entry in entries:\n"
        '    print(f"{entry.name:<14} +{(entry.start - t0) * 1e3:8.2f} ms  '
        '{entry.duration * 1e3:8.2f} ms  {entry.attributes}")'
    ),
]


def build() -> Path:
    notebook = new_notebook(cells=CELLS)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = HERE / "03_gpu.ipynb"
    nbformat.write(notebook, path)
    return path


if __name__ == "__main__":
    path = build()
    print(f"wrote {path}")
    if "--execute" in sys.argv:
        from nbclient import NotebookClient

        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(HERE)}}).execute()
        print("executed without errors")
