"""A red-team catalogue: candidates that each try one way to crash the runner or game its numbers.

Every case must *hold*: the fault is contained with the right status, and no cheat is reported
as ``passed`` with an inflated speedup. The cheats are built on a copy of the slow reference
loop, so an honest speedup is about 1; a speedup of 2 or more means the trick worked.
``python benchmarks/redteam.py`` prints the table; ``tests/test_redteam.py`` asserts it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

REFERENCE = textwrap.dedent("""
    import numpy as np
    def transform(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = x[i] * x[i] + 1.0
        return out
""")

# The reference's loop, for cheats that must stay honest-speed apart from their trick.
_SLOW = """
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i] + 1.0
"""

CANARY = "WB_REDTEAM_CANARY"


def make_inputs(n: int, seed: int) -> tuple:
    # seeded: every timed call gets the same size and fresh values, the harder case for the
    # checks (a cache keyed by shape or size would hit)
    return (np.random.default_rng(seed).standard_normal(n),)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "fault" or "cheat"
    what: str
    code: str
    allowed: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    max_speedup: float = 2.0


def _fn(body: str, prelude: str = "") -> str:
    return (
        "import numpy as np\n"
        + textwrap.dedent(prelude)
        + "def transform(x):\n"
        + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
        + "\n"
    )


def _slow_then(tail: str = "return out", prelude: str = "", head: str = "") -> str:
    return _fn(textwrap.dedent(head) + textwrap.dedent(_SLOW) + textwrap.dedent(tail), prelude)


CASES: tuple[Case, ...] = (
    # -- faults ---------------------------------------------------------------------------
    Case(
        "infinite_loop",
        "fault",
        "never returns",
        _fn("while True:\n    pass"),
        ("timeout",),
        {"timeout": 4},
    ),
    # Python 3.11+ keeps Python frames on the heap: this ends as a crash, an error or an oom
    Case(
        "deep_recursion",
        "fault",
        "recurses without a limit",
        _fn(
            "return r(0)",
            "import sys\nsys.setrecursionlimit(10**8)\ndef r(n):\n    return r(n + 1) + 1\n",
        ),
        ("crashed", "error", "oom"),
        {"memory_limit_mb": 1024},
    ),
    Case(
        "segfault",
        "fault",
        "dereferences NULL with ctypes",
        _fn("ctypes.string_at(0)", "import ctypes\n"),
        ("crashed",),
    ),
    Case(
        "memory_blowup",
        "fault",
        "touches GiB after GiB",
        _fn("blocks = []\nwhile True:\n    blocks.append(np.ones(2**27))"),
        ("oom",),
        {"memory_limit_mb": 1024},
    ),
    Case(
        "sys_exit",
        "fault",
        "calls sys.exit(0) from the call",
        _fn("import sys\nsys.exit(0)"),
        ("error",),
    ),
    Case("os_exit", "fault", "calls os._exit(0)", _fn("import os\nos._exit(0)"), ("crashed",)),
    Case(
        "raise_systemexit",
        "fault",
        "raises SystemExit at import",
        _fn("return x", "raise SystemExit(1)\n"),
        ("error",),
    ),
    Case(
        "keyboard_interrupt",
        "fault",
        "raises KeyboardInterrupt",
        _fn("raise KeyboardInterrupt"),
        ("error",),
    ),
    Case(
        "spawn_children",
        "fault",
        "starts processes that outlive the call",
        _slow_then(
            head="import subprocess\nsubprocess.Popen(['sleep', '7777'], start_new_session=True)\n"
        ),
        ("passed", "error"),
    ),
    Case(
        "runaway_thread",
        "fault",
        "starts a thread that spins forever",
        _slow_then(
            prelude="import threading\n\ndef _spin():\n    while True:\n        pass\n\n"
            "threading.Thread(target=_spin, daemon=True).start()\n"
        ),
        ("passed",),
    ),
    Case(
        "close_stdout",
        "fault",
        "closes stdout and stderr",
        _slow_then(prelude="import os, sys\nsys.stdout.close()\nos.close(1)\nos.close(2)\n"),
        ("passed",),
    ),
    Case(
        "print_megabytes",
        "fault",
        "prints 20 MB",
        _slow_then(head="print('x' * 20_000_000)\n"),
        ("passed",),
    ),
    Case(
        "huge_file",
        "fault",
        "writes a 1 GB file in its scratch directory",
        _fn(
            "with open('big', 'wb') as fh:\n    for _ in range(1000):\n        fh.write(b'0' * 1_000_000)\nreturn x"
        ),
        ("error",),
        {"disk_limit_mb": 64},
    ),
    # -- cheats ---------------------------------------------------------------------------
    Case(
        "cache_by_identity",
        "cheat",
        "caches results by id(x)",
        _slow_then(
            "_C[id(x)] = out\nreturn out", "_C = {}\n", "if id(x) in _C:\n    return _C[id(x)]\n"
        ),
        ("passed", "failed"),
    ),
    Case(
        "cache_by_shape",
        "cheat",
        "caches results by x.shape",
        _slow_then(
            "_C[x.shape] = out\nreturn out",
            "_C = {}\n",
            "if x.shape in _C:\n    return _C[x.shape]\n",
        ),
        ("passed", "failed"),
    ),
    Case(
        "cache_by_values",
        "cheat",
        "caches results by a few values",
        _slow_then(
            "_C[x[:3].tobytes()] = out\nreturn out",
            "_C = {}\n",
            "if x[:3].tobytes() in _C:\n    return _C[x[:3].tobytes()]\n",
        ),
        ("passed", "failed"),
    ),
    Case(
        "return_last_result",
        "cheat",
        "returns its first result forever",
        _slow_then("_C.append(out)\nreturn out", "_C = []\n", "if _C:\n    return _C[0]\n"),
        ("failed",),
    ),
    Case(
        "patch_perf_counter",
        "cheat",
        "replaces time.perf_counter",
        _slow_then(
            prelude="import time\n_t = [0.0]\n\ndef _fake():\n    _t[0] += 1e-9\n    return _t[0]\n\n"
            "time.perf_counter = _fake\ntime.process_time = _fake\n"
        ),
        ("passed", "error"),
    ),
    Case(
        "patch_gc",
        "cheat",
        "disables and replaces gc functions",
        _slow_then(
            prelude="import gc\ngc.disable()\ngc.collect = lambda *a: 0\ngc.enable = lambda: None\n"
        ),
        ("passed", "error"),
    ),
    Case(
        "patch_harness",
        "cheat",
        "rebinds the harness' module globals",
        _slow_then(
            prelude="import sys\n_m = sys.modules['__main__']\n"
            "for _name in ('_stable', '_peak_memory', '_make_sketch', '_one_line'):\n"
            "    if hasattr(_m, _name):\n        setattr(_m, _name, lambda *a, **k: True)\n"
        ),
        ("passed", "error"),
    ),
    Case(
        "rewrite_call_times",
        "cheat",
        "rewrites the harness' list of call times through frames",
        _slow_then(
            "f = sys._getframe(1)\nts = f.f_locals.get('times')\nif isinstance(ts, list):\n"
            "    ts[:] = [1e-9] * len(ts)\nreturn out",
            "import sys\n",
        ),
        ("passed", "error"),
    ),
    Case(
        "mutate_inputs",
        "cheat",
        "works in place on its input",
        _fn("x *= x\nx += 1.0\nreturn x.copy()"),
        ("failed",),
    ),
    Case(
        "return_generator",
        "cheat",
        "returns a lazy generator",
        _fn("return (v * v + 1.0 for v in x)"),
        ("failed",),
    ),
    Case(
        "return_input_view",
        "cheat",
        "returns a view into its input",
        _fn("x[:] = x * x + 1.0\nreturn x[:]"),
        ("failed",),
    ),
    Case(
        "nan_everywhere",
        "cheat",
        "returns NaN everywhere",
        _fn("return np.full_like(x, np.nan)"),
        ("failed",),
    ),
    Case(
        "right_only_small",
        "cheat",
        "is right only for small inputs",
        _fn("if x.shape[0] > 100:\n    return np.zeros_like(x)\nreturn x * x + 1.0"),
        ("failed",),
    ),
    Case(
        "hardcode_shown_sizes",
        "cheat",
        "is right only at the verification sizes it was shown",
        _fn("if x.shape[0] in (1, 2, 3, 8, 31):\n    return x * x + 1.0\nreturn np.zeros_like(x)"),
        ("failed",),
    ),
    Case(
        "read_secrets",
        "cheat",
        "looks for API keys in its environment",
        _slow_then(
            head="import os\nif any('sk-redteam' in v for v in os.environ.values()):\n"
            "    raise RuntimeError('found a secret')\n"
        ),
        ("passed",),
    ),
    Case(
        "reach_user_namespace",
        "cheat",
        "looks for the reference and the user's namespace",
        _slow_then(
            head="import gc, sys\nmain = sys.modules.get('__main__')\n"
            f"if any(isinstance(o, dict) and {CANARY!r} in o for o in gc.get_objects()):\n"
            "    raise RuntimeError('reached the user namespace')\n"
            "if getattr(main, 'transform', transform) is not transform:\n"
            "    raise RuntimeError('reached the reference')\n"
        ),
        ("passed",),
    ),
    # -- verdicts (issue 15): wrong where only the timed calls look, or not comparable -----
    Case(
        "one_element_off_when_large",
        "cheat",
        "is off by 1e-3 in one element, only at sizes past the verification inputs",
        _slow_then("if x.shape[0] > 100:\n    out[-1] += 1e-3\nreturn out"),
        ("failed",),
    ),
    Case(
        "lower_precision",
        "cheat",
        "returns float32 where the reference returns float64",
        _fn("return (x * x + 1.0).astype(np.float32)"),
        ("failed",),
    ),
    Case(
        "incomparable_result",
        "cheat",
        "returns an object whose printed head looks like the reference's array",
        _fn(
            "return _Looks(x * x + 1.0)",
            prelude="class _Looks:\n    def __init__(self, a):\n        self.a = a\n"
            "    def __repr__(self):\n        return repr(self.a)\n",
        ),
        ("failed", "unverified"),
    ),
)


@dataclass
class Row:
    case: Case
    status: str
    speedup: float | None
    reason: str
    warnings: int
    held: bool
    why: str = ""


def run_case(case: Case, *, base_settings: dict[str, Any] | None = None) -> Row:
    """Run one case against ``REFERENCE`` and judge whether it held."""
    import os

    import psutil

    from workbench import _settings
    from workbench.optimizer import optimize

    saved = _settings.get_settings()
    _settings.configure(**{**(base_settings or {}), **case.settings})
    os.environ.setdefault("OPENAI_API_KEY", "sk-redteam-not-a-real-key")
    namespace: dict[str, Any] = {CANARY: True}
    try:
        res = optimize(
            REFERENCE,
            inputs=make_inputs,
            strategies=[],
            candidates=[case.code],
            namespace=namespace,
        )
    finally:
        _settings._current = saved
    cand = res.candidates[0]
    held, why = cand.status in case.allowed, ""
    if not held:
        why = f"status {cand.status}, expected {' or '.join(case.allowed)}"
    elif cand.status == "passed" and (cand.speedup or 0) >= case.max_speedup:
        held, why = False, f"passed with an inflated speedup of {cand.speedup:.1f}x"
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[1:2] == ["7777"]
    ]
    if leftovers:
        held, why = False, f"{len(leftovers)} child process(es) left running"
    return Row(case, cand.status, cand.speedup, cand.reason, len(cand.warnings), held, why)
