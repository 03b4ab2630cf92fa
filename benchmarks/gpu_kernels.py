"""GPU kernels of kernels_cuda against their NumPy references, with a roofline figure.

    python benchmarks/gpu_kernels.py [--tasks saxpy,matmul] [--scale 0.25] [--out DIR]

Per task and variant (CuPy and Numba CUDA, naive and tuned): the honest per-call time from
``workbench.gpu._timing.time_gpu`` (CUDA events and a device-wide synchronise, L2 flushed
between trials, inputs already on the device), the speedup over the NumPy reference measured
in the same run, the speedup once host<->device copies are counted, and the achieved
bandwidth and FLOP/s as a share of the device's peak. Writes ``gpu_kernels.json`` and, with
matplotlib, ``gpu_kernels_roofline.png`` to ``--out``.

Without a CUDA device it prints why and exits 0. ``--allow-simulator`` (with
``NUMBA_ENABLE_CUDASIM=1``) runs the Numba variants at tiny sizes on the simulator to check
the script end to end: its times say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kernels_cuda  # noqa: E402
from workbench.gpu._device import detect_device  # noqa: E402
from workbench.gpu._timing import time_gpu  # noqa: E402


def numpy_ms(fn, args, repeats: int) -> float:
    fn(*args)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def max_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = max(float(np.abs(expected).max()), 1e-30)
    return float(np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max() / scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(kernels_cuda.names()))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the problem sizes")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--allow-simulator", action="store_true")
    options = parser.parse_args(argv)

    device = detect_device()
    simulator = device.simulator and not device.has_device
    if not device.has_device and not (simulator and options.allow_simulator):
        print(f"skipped: no CUDA device. {device.summary()}")
        return 0
    print(device.summary())
    if simulator:
        print("SIMULATOR RUN: tiny sizes, times are not GPU times; this only checks the script")
    variants = []
    if device.cupy.available:
        variants += ["cupy-naive", "cupy-tuned"]
    if device.numba_cuda.available:
        variants += ["numba-naive", "numba-tuned"]

    rows = []
    for name in options.tasks.split(","):
        task = kernels_cuda.TASKS[name]
        size = task.sim_size if simulator else max(1, int(task.bench_size * options.scale))
        args = task.make_inputs(size)
        expected = task.reference(*args)
        reference_ms = numpy_ms(task.reference, args, 3 if simulator else 5)
        for variant in variants:
            backend = "cupy" if variant.startswith("cupy") else "numba-cuda"
            try:
                error = max_relative_error(task.run(variant, *args), expected)
                timing = time_gpu(
                    task.launcher(variant),
                    args,
                    backend=backend,
                    warmups=1 if simulator else 3,
                    repeats=3 if simulator else options.repeats,
                    flush_l2=True,
                    to_device=True,
                    max_seconds=10.0,
                )
            except Exception as exc:  # one broken variant must not hide the others
                print(f"{name:<11} {variant:<12} failed: {type(exc).__name__}: {exc}")
                continue
            seconds = timing.median_ms / 1e3
            with_copies = timing.median_ms + (timing.transfer_ms or 0.0)
            row = {
                "task": name,
                "variant": variant,
                "size": size,
                "numpy_ms": reference_ms,
                "gpu_ms": timing.median_ms,
                "spread_ms": timing.spread_ms,
                "device_ms": timing.device_ms,
                "host_ms": timing.host_ms,
                "transfer_ms": timing.transfer_ms,
                "speedup": reference_ms / timing.median_ms,
                "speedup_with_copies": reference_ms / with_copies,
                "gbs": task.bytes_moved(size) / seconds / 1e9,
                "gflops": task.flops(size) / seconds / 1e9,
                "intensity": task.flops(size) / task.bytes_moved(size),
                "max_relative_error": error,
            }
            if device.peak_bandwidth_gbs:
                row["bandwidth_share"] = row["gbs"] / device.peak_bandwidth_gbs
            if device.peak_fp32_gflops:
                row["flops_share"] = row["gflops"] / device.peak_fp32_gflops
            rows.append(row)
            print(format_row(row))

    options.out.mkdir(parents=True, exist_ok=True)
    report = {
        "device": device.summary(),
        "simulator": simulator,
        "peak_bandwidth_gbs": device.peak_bandwidth_gbs,
        "peak_fp32_gflops": device.peak_fp32_gflops,
        "rows": rows,
    }
    (options.out / "gpu_kernels.json").write_text(json.dumps(report, indent=2))
    title = device.summary().split(";")[0] + (" (simulator: not GPU times)" if simulator else "")
    figure = roofline(rows, device.peak_bandwidth_gbs, device.peak_fp32_gflops, options.out, title)
    print(f"wrote {options.out / 'gpu_kernels.json'}" + (f" and {figure}" if figure else ""))
    return 0


def format_row(row: dict) -> str:
    share = row.get("bandwidth_share")
    peak = f" ({share:.0%} of peak)" if share is not None else ""
    return (
        f"{row['task']:<11} {row['variant']:<12} {row['gpu_ms']:9.3f} ms  "
        f"x{row['speedup']:7.1f} vs NumPy (x{row['speedup_with_copies']:.1f} with copies)  "
        f"{row['gbs']:8.1f} GB/s{peak}  {row['gflops']:9.1f} GFLOP/s  "
        f"rel.err {row['max_relative_error']:.1e}"
    )


def roofline(rows: list[dict], peak_gbs, peak_gflops, out: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no figure")
        return None
    fig, (ax_roof, ax_bw) = plt.subplots(1, 2, figsize=(13, 5))
    points = [r for r in rows if r["gflops"] > 0]
    if peak_gbs and peak_gflops:
        x = np.logspace(-2, 3, 200)
        ax_roof.plot(x, np.minimum(peak_gflops, x * peak_gbs), "k-", lw=1.5, label="roofline")
    markers = {"naive": "o", "tuned": "^"}
    for row in points:
        kind = row["variant"].split("-")[1]
        ax_roof.loglog(row["intensity"], row["gflops"], markers[kind], ms=8,
                       label=f"{row['task']} {row['variant']}")  # fmt: skip
    ax_roof.set_xscale("log")
    ax_roof.set_yscale("log")
    ax_roof.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax_roof.set_ylabel("achieved GFLOP/s")
    ax_roof.set_title("Roofline (FP32)")
    ax_roof.legend(fontsize=7, ncol=2)
    labels = [f"{r['task']}\n{r['variant']}" for r in rows]
    values = [r["gbs"] for r in rows]
    ax_bw.bar(
        range(len(rows)), values, color=["C0" if "naive" in r["variant"] else "C2" for r in rows]
    )
    if peak_gbs:
        ax_bw.axhline(peak_gbs, color="k", lw=1, ls="--", label=f"peak {peak_gbs:.0f} GB/s")
        ax_bw.legend()
    ax_bw.set_xticks(range(len(rows)), labels, rotation=90, fontsize=7)
    ax_bw.set_ylabel("achieved bandwidth (GB/s)")
    ax_bw.set_title("Memory bandwidth (minimal DRAM traffic / time)")
    fig.suptitle(title)
    fig.tight_layout()
    path = out / "gpu_kernels_roofline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
