"""The pass-matrix worker: runs many (candidate, test) cells in one process, each under a timer.

Run as ``python -m workbench.sandbox._test_worker CMD_FD MSG_FD``. Batches from the kernel arrive on
CMD_FD; one result per cell goes back on MSG_FD, encoded with ``_wire`` (never pickle), in the
order of the batch, so the kernel knows which cell was running if this process dies.

Each cell runs in a fresh namespace: the prelude and the candidate are executed anew before the
test, so a cell sees what it would see in a process of its own (module state of imported
libraries aside). A per-cell ``setitimer`` raises a ``BaseException`` subclass (so ``except
Exception`` in a candidate cannot swallow it) and keeps firing until the cell ends; code that
blocks signals is left to the kernel's watchdog, which kills and restarts this process.
"""

from __future__ import annotations

import ast

CAPTURE_NAME = "__wb_capture__"
LOAD_TEST = ""  # the test text of a "load" cell: run the candidate only
REPR_CAP = 200


class CellTimeout(BaseException):
    """Raised by the timer inside a cell that ran past its time."""


def instrument(test: str) -> tuple[str, str | None]:
    """The test with its call expression wrapped for capture, and that call's source.

    Only ``assert CALL == ...`` / ``assert CALL`` (and other comparisons with a call on the
    left) are instrumented; anything else runs unchanged and captures nothing.
    """
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return test, None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return test, None
    node = tree.body[0]
    target = node.test
    if isinstance(target, ast.Compare) and isinstance(target.left, ast.Call):
        call = target.left
        target.left = _wrap(call)
    elif isinstance(target, ast.Call):
        call = target
        node.test = _wrap(call)
    else:
        return test, None
    source = ast.get_source_segment(test, call)
    return ast.unparse(ast.fix_missing_locations(tree)), source


def _wrap(call: ast.expr) -> ast.expr:
    return ast.Call(func=ast.Name(id=CAPTURE_NAME, ctx=ast.Load()), args=[call], keywords=[])


def test_functions(test: str) -> list[str]:
    """Names of the top-level ``test*`` functions a test defines (called after it runs)."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return []
    return [
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")
    ]


def load_timeout(timeout: float) -> float:
    """Seconds a cell's code may take to load (imports such as pandas are slow the first time):
    the test's own limit starts after that."""
    return max(5.0, 20 * timeout)


def _serve(cmd_fd: int, msg_fd: int) -> None:
    import builtins
    import io
    import os
    import pickle
    import signal
    import sys

    from workbench.sandbox._channel import read_frame, write_frame
    from workbench.sandbox._wire import encode

    # Bound to locals now, so a candidate that rebinds module globals cannot change the harness.
    write, read, loads = os.write, os.read, pickle.loads
    setitimer, set_handler, ITIMER_REAL, SIGALRM = (
        signal.setitimer,
        signal.signal,
        signal.ITIMER_REAL,
        signal.SIGALRM,
    )
    timeout_cls = CellTimeout
    real_repr = repr
    state = {"armed": False}

    def on_alarm(signum, frame):  # noqa: ARG001
        if state["armed"]:
            raise timeout_cls()

    def send(msg) -> None:
        write_frame(msg_fd, encode(msg), write)

    sink = io.StringIO()

    while True:
        try:
            batch = loads(read_frame(cmd_fd, read))  # from the kernel, which is trusted
        except EOFError:
            return
        timeout = float(batch["timeout"])
        load_limit = load_timeout(timeout)
        prelude = compile(batch["prelude"], "<prelude>", "exec")
        codes: dict[int, object] = {}
        for cid, source in batch["codes"].items():
            try:
                codes[cid] = compile(source, "<candidate>", "exec")
            except BaseException as exc:  # a SyntaxError makes every cell of it an error
                codes[cid] = exc
        tests: dict[int, tuple[object, str | None, list[str]]] = {}
        for tid, source in batch["tests"].items():
            text, call = instrument(source)
            try:
                tests[tid] = (compile(text, "<test>", "exec"), call, test_functions(source))
            except BaseException as exc:
                tests[tid] = (exc, None, [])
        load_failed: dict[int, tuple[str, str]] = {}

        for cid, tid in batch["cells"]:
            code = codes[cid]
            test_code, call, functions = tests[tid] if tid >= 0 else (None, None, [])
            captured: list[str] = []
            if cid in load_failed:
                send([cid, tid, *load_failed[cid], None])
                continue
            if isinstance(code, BaseException):
                load_failed[cid] = ("error", f"load: {type(code).__name__}")
                send([cid, tid, *load_failed[cid], None])
                continue
            if isinstance(test_code, BaseException):
                send([cid, tid, "error", f"test: {type(test_code).__name__}", None])
                continue

            def capture(value, _captured=captured):
                try:
                    _captured.append(real_repr(value)[:REPR_CAP])
                except BaseException as exc:
                    _captured.append(f"<repr failed: {type(exc).__name__}>")
                return value

            namespace = {"__name__": "__wb_candidate__", "__builtins__": builtins}
            phase = "load"
            outcome, detail = "passed", ""
            saved_out, saved_err = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = sink
            set_handler(SIGALRM, on_alarm)
            state["armed"] = True
            # keeps firing, in case the candidate swallows the first one with a bare except;
            # loading gets its own, longer limit: a slow import is not a test timeout
            setitimer(ITIMER_REAL, load_limit, load_limit)
            try:
                exec(prelude, namespace)
                exec(code, namespace)
                if test_code is not None:
                    setitimer(ITIMER_REAL, timeout, timeout)
                    phase = "test"
                    namespace[CAPTURE_NAME] = capture
                    exec(test_code, namespace)
                    for name in functions:
                        namespace[name]()
            except CellTimeout:
                outcome, detail = "timeout", phase
            except AssertionError:
                outcome, detail = ("failed", "") if phase == "test" else ("error", "load")
            except BaseException as exc:  # SystemExit, KeyboardInterrupt too: contained
                outcome, detail = "error", f"{phase}: {type(exc).__name__}"
            finally:
                state["armed"] = False
                setitimer(ITIMER_REAL, 0, 0)
                sys.stdout, sys.stderr = saved_out, saved_err
            sink.seek(0)
            sink.truncate()
            if phase == "load" and outcome != "passed":
                load_failed[cid] = (outcome, detail or "load")
            send([cid, tid, outcome, detail, captured[0] if captured else None])
        send("done")


def main() -> None:
    import sys

    _serve(int(sys.argv[1]), int(sys.argv[2]))


if __name__ == "__main__":
    main()
