"""The candidate worker: loads one program, runs it on the verification inputs and tests, then
does what the job asks of it: calibrate, warm up, blocks of timed calls, peak memory, a line
profile.

Run as ``python -m workbench.sandbox._candidate_worker CMD_FD MSG_FD`` (started by
``sandbox.Channel``). Commands arrive as cloudpickled frames (the job is trusted); everything
this process sends back is encoded with ``_wire`` (never pickle), because the code it runs is
not trusted. It never sees what another program returned: the comparing is done by the job.

Everything the harness relies on (clock, codec, frames) is bound to locals of ``_serve``
before the program is loaded, so rebinding ``time.perf_counter`` or this module's globals from
the program changes nothing the harness uses.
"""

from __future__ import annotations


def _serve(cmd_fd: int, msg_fd: int) -> None:
    import builtins
    import gc
    import os
    import pickle
    import sys
    import time
    import traceback

    import cloudpickle  # noqa: F401  (needed to unpickle by-value functions)
    import numpy as np

    from workbench.sandbox._channel import read_frame, write_frame
    from workbench.sandbox._wire import encode

    perf = time.perf_counter
    cpu = time.process_time
    gc_enable, gc_disable, gc_collect = gc.enable, gc.disable, gc.collect
    write, read = os.write, os.read
    loads = pickle.loads
    # module globals are reachable through sys.modules["__main__"]: bind what we call now
    peak_memory, one_line, takes_argument = _peak_memory, _one_line, _takes_argument
    shares_memory, next_size = _shares_memory, _next_size
    release_free_memory = _free_memory_releaser()

    def send(msg: dict) -> None:
        write_frame(msg_fd, encode(msg), write)

    def recv() -> dict | None:
        try:
            return loads(read_frame(cmd_fd, read))
        except EOFError:
            return None

    def describe(exc: BaseException) -> str:
        return one_line(exc)

    def short_tb(exc: BaseException) -> str:
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        return "".join(lines[-6:])[-2000:]

    job = recv()
    if job is None:
        return
    role = job["role"]
    # a non-deterministic reference: random and numpy.random seeded alike before every call
    if job.get("seed"):
        import random

        py_seed, np_seed = random.seed, np.random.seed

        def reseed() -> None:
            py_seed(0)
            np_seed(0)
    else:

        def reseed() -> None:
            pass

    # GPU candidates: device sync and events bound before the program loads (CallProbe)
    probe = gpu_note = None
    if job.get("gpu"):
        try:
            from workbench.gpu._timing import MARK, call_probe

            probe = call_probe(job["gpu"], bool(job.get("marks")), perf)
        except Exception as exc:  # noqa: BLE001 - the host time still counts
            gpu_note = f"no device-side times: {one_line(exc)}"
    if probe is not None:
        probe_begin, probe_end, probe_collect = probe.begin, probe.end, probe.collect
    # Line profiler (after timing): bound before the program loads, like the clock.
    profiler_class, profiler_missing, line_profile = None, "", _line_profile
    if job.get("profile"):
        try:
            from line_profiler import LineProfiler as profiler_class
        except ImportError:
            profiler_missing = "line_profiler is not installed: no line profile"

    # Free the harness module from sys.modules: the program cannot import it to patch it.
    for name in [m for m in sys.modules if m.startswith("workbench")]:
        del sys.modules[name]

    # -- load -----------------------------------------------------------------------------
    namespace = {"__name__": "__wb_program__", "__builtins__": builtins}
    namespace.update(loads(job["context"]))
    t0 = perf()
    try:
        exec(compile(job["code"], f"<{role}>", "exec"), namespace)
        fn = namespace[job["entry"]]
        if not callable(fn):
            raise TypeError(f"{job['entry']} is not a function")
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        send({"kind": "error", "phase": "load", "error": describe(exc), "traceback": short_tb(exc)})
        return
    send({"kind": "loaded", "seconds": perf() - t0})

    # -- verification ----------------------------------------------------------------------
    last_ok = None
    for index, args in enumerate(loads(job["cases"])):
        reseed()
        t0 = perf()
        try:
            out = fn(*args)
        except BaseException as exc:  # noqa: BLE001
            send(
                {
                    "kind": "case",
                    "index": index,
                    "error": describe(exc),
                    "error_type": type(exc).__name__,
                    "traceback": short_tb(exc),
                }
            )
            continue
        seconds = perf() - t0
        last_ok = index
        aliases = [i for i, a in enumerate(args) if shares_memory(np, out, a)]
        try:
            send(
                {
                    "kind": "case",
                    "index": index,
                    "output": out,
                    "inputs_after": list(args),
                    "aliases": aliases,
                    "seconds": seconds,
                }
            )
        except BaseException as exc:  # noqa: BLE001 - a hostile output object
            send(
                {
                    "kind": "case",
                    "index": index,
                    "error": f"its result cannot be read: {describe(exc)}",
                }
            )

    # the same input once more: does the program give the same result twice?
    if job.get("again") and last_ok is not None:
        args = loads(job["cases"])[last_ok]
        reseed()
        try:
            send({"kind": "again", "index": last_ok, "output": fn(*args)})
        except BaseException as exc:  # noqa: BLE001
            send({"kind": "again", "index": last_ok, "error": describe(exc)})
    elif job.get("again"):
        send({"kind": "again"})

    # -- the user's tests ------------------------------------------------------------------
    for name, test in loads(job["tests"]):
        try:
            if takes_argument(test):
                test(fn)
            else:
                getattr(test, "__globals__", {})[job["entry"]] = fn
                test()
            send({"kind": "test", "name": name, "ok": True})
        except BaseException as exc:  # noqa: BLE001
            send({"kind": "test", "name": name, "ok": False, "error": describe(exc)})

    # -- what the job asks next ------------------------------------------------------------
    # (size, timed call k or None) -> fresh argument tuple (built by the harness, not timed)
    make = loads(job["make"])
    if probe is not None and probe.marks_enabled:
        namespace[MARK] = probe.mark  # the generated wrapper's phase marks
    while True:
        command = recv()
        if command is None or command.get("cmd") == "exit":
            return
        cmd = command["cmd"]
        if cmd == "calibrate":
            size, target = command["size"], command["target"]
            cap, limit = command["max_size"], command["max_seconds"]
            history = []
            while True:
                args = make(size)
                reseed()
                t0 = perf()
                fn(*args)
                took = perf() - t0
                history.append((size, took))
                if took >= 0.7 * target or size >= cap or took > limit:
                    break
                size = min(cap, next_size(history, target))
            send({"kind": "calibrated", "size": size, "seconds": took})
        elif cmd == "warmup":
            # JIT compilation happens here, on a size the timed calls never use
            args = make(max(1, command["size"] - 1))
            reseed()
            t0 = perf()
            fn(*args)
            if probe is not None:
                probe_end()  # work the warm-up left running does not spill into a timed call
            send({"kind": "warmup", "seconds": perf() - t0})
        elif cmd == "calls":
            # Floats in fast locals cannot be rewritten through frame inspection, unlike the
            # lists: the job checks that the lists add up to these.
            size, first, count = command["size"], command["start"], command["count"]
            times, cpus, outputs = [], [], []
            total, squares = 0.0, 0.0
            # once a block: collecting before every call would hand freed arenas back to the
            # OS and bill allocating code for fresh pages (timeit does not)
            gc_collect()
            start = perf()
            for k in range(first, first + count):
                args = make(size, k)  # fresh values for every call: a cache cannot hit
                reseed()
                gc_disable()
                if probe is not None:
                    probe_begin()
                c0 = cpu()
                t0 = perf()
                out = fn(*args)
                if probe is not None:
                    probe_end()  # the whole device: unfinished work is paid for here
                t1 = perf()
                c1 = cpu()
                gc_enable()
                if probe is not None:
                    probe_collect()
                total += t1 - t0
                squares += (t1 - t0) * (t1 - t0)
                times.append(t1 - t0)
                cpus.append(c1 - c0)
                if command["outputs"]:
                    outputs.append(out)
                del out, args
            span = perf() - start
            send({"kind": "block"})  # the job's own clock stops here, before the encoding
            try:
                send(
                    {
                        "kind": "calls",
                        "times": times,
                        "cpu_times": cpus,
                        "total": total,
                        "squares": squares,
                        "span": span,
                        "outputs": outputs if command["outputs"] else None,
                    }
                )
            except BaseException as exc:  # noqa: BLE001 - a hostile output object
                send({"kind": "calls", "error": f"its result cannot be read: {describe(exc)}"})
                return
        elif cmd == "finish":
            send(
                {
                    "kind": "finish",
                    "peak_memory": peak_memory(fn, make(command["size"]), release_free_memory),
                    "gpu": probe.report() if probe is not None else None,
                    "gpu_note": gpu_note,
                }
            )
        elif cmd == "profile":
            # after timing, never inside it
            send(
                line_profile(
                    profiler_class or profiler_missing,
                    namespace,
                    fn,
                    make,
                    command["size"],
                    command["times"],
                    command["options"],
                    f"<{role}>",
                    perf,
                    one_line,
                )
            )


def _line_profile(
    profiler, namespace, fn, make, size, times, options, filename, perf, one_line
) -> dict:
    """Per-line hits and seconds of one more call of the program's own Python functions.

    The call runs on a smaller size when one timed call took over ``options["target"]``
    seconds (halving the size at least halves the time of a loop), and is skipped when even
    that call would take over ``options["max_seconds"]``. ``profiler`` is the LineProfiler
    class, or why there is none.
    """
    msg = {"kind": "profile", "note": "", "functions": [], "compiled": []}
    if isinstance(profiler, str):
        msg["note"] = profiler
        return msg
    try:
        seconds = sorted(times)[len(times) // 2]  # the timed calls' median
        plain, compiled = [], []
        for name, value in list(namespace.items()):
            py_func = getattr(value, "py_func", None)  # a Numba dispatcher
            code = getattr(py_func if py_func is not None else value, "__code__", None)
            if getattr(code, "co_filename", None) != filename:
                continue  # not defined by the program (an import, the context)
            (compiled if py_func is not None else plain).append((name, value))
        msg["compiled"] = [name for name, _ in compiled]
        if getattr(fn, "py_func", None) is not None:
            msg["note"] = "compiled with Numba: no line profile"
            return msg
        if not any(value is fn for _, value in plain):
            msg["note"] = "not a plain Python function of the program: no line profile"
            return msg
        n = size
        while seconds > options["target"] and n > 1:
            n, seconds = n // 2, seconds / 2
        if n != size:  # does a smaller size really take less time? (inputs may ignore n)
            args = make(n)
            t0 = perf()
            fn(*args)
            seconds = perf() - t0
        if seconds > options["max_seconds"]:
            msg["note"] = (
                f"one call takes {seconds:.2g} s, over the {options['max_seconds']:g} s "
                "allowed for a line profile: no line profile"
            )
            return msg
        msg["entry"] = [fn.__code__.co_name, fn.__code__.co_firstlineno]
        profiler = profiler()
        for _, value in plain:
            profiler.add_function(value)
        args = make(n)
        t0 = perf()
        profiler.enable_by_count()
        try:
            fn(*args)
        finally:
            profiler.disable_by_count()
        msg["seconds"], msg["size"] = perf() - t0, n
        stats = profiler.get_stats()
        for (_, first, name), lines in stats.timings.items():
            msg["functions"].append(
                {
                    "name": name,
                    "first": first,
                    "lines": [[line, hits, t * stats.unit] for line, hits, t in lines],
                }
            )
    except BaseException as exc:  # noqa: BLE001 - the timed calls succeeded; this is advice
        msg["functions"] = []
        msg["note"] = f"the profiled call failed ({one_line(exc)}): no line profile"
    return msg


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    if isinstance(exc, KeyboardInterrupt):
        return "raised KeyboardInterrupt"
    text = str(exc).strip()
    name = type(exc).__name__
    if type(exc).__module__.startswith("numba"):
        text = _numba_message(text)
    first = text.splitlines()[0] if text else ""
    return f"{name}: {first}"[:300] if first else name


def _numba_message(text: str) -> str:
    """Numba's typing errors are pages long: keep the line that says what failed."""
    skip = (
        "Failed in nopython mode",
        "During:",
        "File ",
        "^",
        "- Resolution failure",
        "No implementation of function",
        "During: typing",
    )
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(skip) and not set(line) <= set("^ -=>"):
            return line.replace("\x1b[1m", "").replace("\x1b[0m", "")
    return text


def _takes_argument(fn) -> bool:
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in params
    )


def _shares_memory(np, out, arg) -> bool:
    try:
        if isinstance(out, np.ndarray) and isinstance(arg, np.ndarray):
            return bool(np.shares_memory(out, arg))
    except Exception:
        return False
    return False


def _next_size(history: list[tuple[int, float]], target: float) -> int:
    """Aim the next calibration size at ``target`` seconds, from the growth seen so far."""
    import math

    n, t = history[-1]
    exponent = 2.0  # assume quadratic until two points say otherwise
    if len(history) > 1:
        n0, t0 = history[-2]
        if t0 > 0 and t > t0 and n > n0:
            exponent = min(3.0, max(0.5, math.log(t / t0) / math.log(n / n0)))
    if t <= 1e-4:
        return n * 4
    growth = (target / t) ** (1 / exponent)
    return int(n * min(16.0, max(1.25, growth))) + 1


def _free_memory_releaser():
    """glibc's ``malloc_trim(0)``, or None: hands freed heap memory back to the OS, so that a
    call's allocations land on fresh pages and show in resident memory."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


def _peak_memory(fn, args, release_free_memory=None) -> int | None:
    """Peak resident memory one call adds (bytes), from the kernel's high-water mark. Freed
    heap memory is released first: memory the allocator reuses would not show as growth."""
    try:
        if release_free_memory is not None:
            release_free_memory()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _status_kb("VmRSS")
        fn(*args)
        return max(0, (_status_kb("VmHWM") - before) * 1024)
    except (OSError, ValueError):
        return None
    except BaseException:  # noqa: BLE001 - the timed calls succeeded; memory is a bonus
        return None


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise ValueError(key)


if __name__ == "__main__":
    import sys

    _serve(int(sys.argv[1]), int(sys.argv[2]))
