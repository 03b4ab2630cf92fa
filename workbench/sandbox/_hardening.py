"""Hardened workers: a read-only world, no network, the home hidden, their own PID namespace.

Inside, a worker sees the machine's filesystem read-only apart from its scratch directory (plus
a fresh ``/dev`` with a small ``/dev/shm`` and a ``/proc`` of its own); the home, ``/tmp``,
``/var/tmp`` and ``/run`` are empty read-only tmpfs mounts, into which the interpreter, the
virtual environment, site-packages, ``PYTHONPATH`` and the workbench itself are bound back
read-only where they live there (pyenv, conda, uv and venvs under the home). It has only a
loopback interface that is down (no connections at all, the kernel's own servers included),
and its own PID namespace: when the worker ends, everything it started ends (double forks and
``setsid`` included). Processes and memory are bounded by a cgroup where this user may create
one, by ``RLIMIT_NPROC`` (and the watchdog) otherwise.

Bubblewrap (``bwrap``) builds this view when installed; otherwise ``unshare`` (util-linux)
makes the namespaces and ``_nsinit.py`` the mounts. ``sandbox()`` probes once which works and
what is missing; ``sandbox_start_failure`` turns a sandbox that did not start into its own
message, never the reference's or a candidate's fault.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import site
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._process import Limits, Worker

#: tried in this order; tests narrow it to run each path
PREFERENCE: tuple[str, ...] = ("bubblewrap", "unshare")
SHM_BYTES = 64 * 2**20
_NSINIT = Path(__file__).with_name("_nsinit.py")
_INSTALL = {
    "bubblewrap": "install bubblewrap (apt install bubblewrap, dnf install bubblewrap)",
    "unshare": "install util-linux (unshare)",
}
_NAMESPACES_HINT = (
    "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or on "
    "Ubuntu kernel.apparmor_restrict_unprivileged_userns=0), or set hardened=false"
)


@dataclass(frozen=True)
class Sandbox:
    """Which sandbox hardened workers run in, and what was not available."""

    tool: str | None  # "bubblewrap" | "unshare" | None (hardened mode unavailable)
    why_not: str = ""  # when tool is None
    missing: tuple[str, ...] = ()  # what was not available, one phrase each
    cgroup: str | None = None  # "v2" | "v1" where processes and memory get a cgroup


@dataclass
class Wrapped:
    """One worker's sandbox: its argv, the cgroup it joins, and the clean-up afterwards."""

    argv: list[str]
    tool: str
    cgroups: list[Path] = field(default_factory=list)

    def join(self) -> None:
        """Move the calling process into this run's cgroups (between fork and exec)."""
        for path in self.cgroups:
            with open(path / "cgroup.procs", "w") as fh:
                fh.write("0")

    def close(self) -> None:
        for path in self.cgroups:
            _remove_cgroup(path)


def hardening_status() -> tuple[bool, str]:
    """(available, why not): probes once per process."""
    box = sandbox()
    return box.tool is not None, box.why_not


def hardening_note() -> str:
    """What a hardened run guaranteed, which sandbox ran it and what was not available."""
    box = sandbox()
    bound = f"a cgroup ({box.cgroup})" if box.cgroup else "rlimits and the watchdog"
    note = (
        f"hardened mode ({box.tool}): workers saw a read-only filesystem apart from their "
        "scratch directory, no network, no home directory, and their own process namespace; "
        f"processes and memory bounded by {bound}"
    )
    if box.missing:
        note += "; not available: " + "; ".join(box.missing)
    return note


def sandbox() -> Sandbox:
    """The first sandbox of ``PREFERENCE`` that starts a worker here (probed once)."""
    return _choose(PREFERENCE)


@functools.lru_cache(maxsize=4)
def _choose(preference: tuple[str, ...]) -> Sandbox:
    failures = []
    for tool in preference:
        ok, why = _probe(tool)
        if ok:
            missing = tuple(f"{t}: {w}" for t, w in failures)
            cgroup, why_cg = _cgroup_kind()
            if cgroup is None:
                missing += (f"cgroup ({why_cg})",)
                if os.geteuid() == 0:
                    missing += (
                        "a kernel process bound (root ignores RLIMIT_NPROC; the watchdog "
                        "stops a run over the process limit)",
                    )
            if tool == "bubblewrap" and shutil.which("prlimit") is None:
                missing += ("prlimit (util-linux): no RLIMIT_NPROC inside bubblewrap",)
            return Sandbox(tool, missing=missing, cgroup=cgroup)
        failures.append((tool, why))
    why_not = "; ".join(f"{t}: {w}" for t, w in failures) or "no sandbox tried"
    return Sandbox(None, why_not=why_not)


def _probe(tool: str) -> tuple[bool, str]:
    exe = "bwrap" if tool == "bubblewrap" else "unshare"
    if shutil.which(exe) is None:
        return False, f"not installed; {_INSTALL[tool]}"
    scratch = Path(_tmpdir()) / f"wb-probe-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        # the interpreter starts inside and finds the workbench (without importing it)
        find = "import importlib.util as u, sys; sys.exit(u.find_spec('workbench') is None)"
        argv = _argv(tool, [sys.executable, "-c", find], scratch, 64)
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=20, cwd=scratch)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{exe} failed to run ({exc})"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if probe.returncode == 1 and not probe.stderr.strip():
        return False, f"{exe} started, but the workbench is not importable inside"
    if probe.returncode != 0:
        detail = " ".join(probe.stderr.split())[-300:] or f"exit code {probe.returncode}"
        return False, f"{exe} could not start a worker ({detail}); {_NAMESPACES_HINT}"
    return True, ""


def wrap(argv: list[str], scratch: Path, limits: Limits) -> Wrapped:
    """``argv`` inside the sandbox ``sandbox()`` chose, with its own cgroup where there is one."""
    box = _available()
    cgroups = _make_cgroup(box.cgroup, limits) if box.cgroup else []
    return Wrapped(_argv(box.tool, argv, scratch, limits.processes), box.tool, cgroups)


def wrap_argv(argv: list[str], scratch: Path, processes: int = 1024) -> list[str]:
    """``argv`` inside the chosen sandbox (no cgroup): for a one-off command."""
    return _argv(_available().tool, argv, scratch, processes)


def _available() -> Sandbox:
    box = sandbox()
    if box.tool is None:
        from .._errors import UsageError

        raise UsageError(f"hardened mode is not available here ({box.why_not}); set hardened=false")
    return box


def sandbox_start_failure(worker: Worker) -> str | None:
    """A clear message if ``worker`` ended because its sandbox failed to start, else None."""
    tool = getattr(worker, "sandbox", None)
    code = worker.process.poll()
    if tool is None or code is None or code < 0:
        return None
    try:
        with open(worker.scratch / ".wb" / "stderr.txt", "rb") as fh:
            head = fh.read(4000).decode("utf-8", "replace")
    except OSError:
        head = ""
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    # The sandbox speaks before the program could: its message is the first line, or the
    # interpreter could not find the workbench in the view, or nothing ran at all.
    own = ("bwrap:", "unshare:", "prlimit:", "workbench sandbox:")
    if lines and lines[0].startswith(own):
        detail = " | ".join(line for line in lines[:3] if line.startswith(own))
    elif any("No module named" in line and "workbench" in line for line in lines[:3]):
        detail = lines[0] if len(lines) == 1 else " | ".join(lines[:2])
    elif not lines and code in (126, 127):
        detail = f"exit code {code} and no message: the interpreter could not be run"
    else:
        return None
    detail = detail[:500]
    if "No such file" in detail or "No module named" in detail or code in (126, 127):
        fix = (
            "the interpreter, its packages or the workbench lie where the sandbox hides them "
            "(the home, /tmp, /run) and were not bound back; set hardened=false meanwhile"
        )
    else:
        fix = _NAMESPACES_HINT
    return (
        f"could not start: the hardened sandbox ({tool}) failed ({detail}); this is the "
        f"sandbox's failure, not the code's: {fix}"
    )


# -- the view ------------------------------------------------------------------------------
def _hidden() -> list[Path]:
    """Directories replaced by empty read-only tmpfs mounts."""
    homes = {os.environ.get("HOME") or "", os.path.expanduser("~")}
    try:
        import pwd

        homes.add(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError):
        pass
    dirs = [*homes, "/tmp", "/var/tmp", "/run", _tmpdir()]
    real = {Path(os.path.realpath(d)) for d in dirs if d and os.path.isdir(d)}
    real -= {Path("/")}
    return sorted(real)


def _kept(hidden: list[Path]) -> list[Path]:
    """What the worker needs from under the hidden directories, bound back read-only."""
    paths: set[str] = {
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
        os.path.dirname(sys.executable),
        os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
        str(Path(__file__).resolve().parents[2]),  # the workbench package's root
    }
    for var in ("PYTHONPATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX"):
        paths.update(p for p in os.environ.get(var, "").split(os.pathsep) if p)
    sitedirs = site.getsitepackages()  # not the user site: workers have the scratch as home
    paths.update(sitedirs)
    for sitedir in sitedirs:
        paths.update(_pth_paths(Path(sitedir)))
    kept = set()
    for p in paths:
        if not os.path.isabs(p) or not os.path.exists(p):
            continue
        if not os.path.isdir(p):
            p = os.path.dirname(p)  # a zip on PYTHONPATH: bind its folder (binds are folders)
        real = Path(os.path.realpath(p))
        if any(real == h or h in real.parents for h in hidden):
            kept.add(real)
        # a symlinked prefix: its own path under a hidden directory as well
        if Path(p) != real and any(h in Path(p).parents for h in hidden) and os.path.isdir(p):
            kept.add(Path(os.path.abspath(p)))
    return sorted(kept)


def _pth_paths(sitedir: Path) -> list[str]:
    """Directories that ``.pth`` files and editable-install finders add to ``sys.path``."""
    found = []
    try:
        entries = list(sitedir.iterdir())
    except OSError:
        return found
    for entry in entries:
        try:
            if entry.suffix == ".pth":
                for line in entry.read_text(errors="replace").splitlines():
                    line = line.strip()
                    if line and not line.startswith(("#", "import ", "import\t")):
                        found.append(str(sitedir / line))
            elif entry.name.startswith("__editable__") and entry.suffix == ".py":
                tree = ast.parse(entry.read_text(errors="replace"))
                for node in tree.body:
                    target = node.target if isinstance(node, ast.AnnAssign) else None
                    if isinstance(node, ast.Assign):
                        target = node.targets[0]
                    if getattr(target, "id", "") in ("MAPPING", "NAMESPACES") and node.value:
                        for v in ast.literal_eval(node.value).values():
                            found.extend(v if isinstance(v, list) else [v])
        except (OSError, ValueError, SyntaxError):
            continue
    return found


def _plan() -> list[tuple[str, Path]]:
    """("hide", dir) and ("keep", dir) in the order to mount them, outermost first, the deeper
    rule winning (a hidden home inside a kept checkout is hidden again; a venv inside that home
    is bound back again); rules that change nothing are left out."""
    hidden = _hidden()
    rules = [("hide", h) for h in hidden] + [("keep", k) for k in _kept(hidden)]
    rules.sort(key=lambda r: (len(r[1].parts), r[0] == "keep"))
    plan: list[tuple[str, Path]] = []
    for op, path in rules:
        around = [r for r in plan if r[1] == path or r[1] in path.parents]
        covering = max(around, key=lambda r: len(r[1].parts))[0] if around else "keep"
        if (op == "hide") != (covering == "hide"):  # a hide where visible, a keep where hidden
            plan.append((op, path))
    return plan


def _tmpdir() -> str:
    import tempfile

    return os.path.realpath(tempfile.gettempdir())


def _argv(tool: str, argv: list[str], scratch: Path, processes: int) -> list[str]:
    plan = _plan()
    scratch = Path(os.path.realpath(scratch))
    if tool == "bubblewrap":
        return _bwrap(argv, scratch, plan, processes)
    spec = {
        "plan": [(op, str(path)) for op, path in plan],
        "scratch": str(scratch),
        "shm_bytes": SHM_BYTES,
        "nproc": processes,
    }
    return [
        "unshare",
        "--user",
        "--map-root-user",
        "--net",
        "--mount",
        "--ipc",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-I",
        "-S",
        str(_NSINIT),
        json.dumps(spec),
        *argv,
    ]


def _bwrap(
    argv: list[str], scratch: Path, plan: list[tuple[str, Path]], processes: int
) -> list[str]:
    out = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    out += ["--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    for dev in _gpu_devices():  # the fresh /dev has no GPU: bind the host's device nodes
        out += ["--dev-bind", dev, dev]
    # bind sources come from the host's tree, so the order only decides what covers what
    for op, path in plan:
        out += ["--tmpfs", str(path)] if op == "hide" else ["--ro-bind", str(path), str(path)]
    out += ["--bind", str(scratch), str(scratch)]
    for op, path in plan:  # last: bubblewrap's remount is not recursive, the binds stay as they are
        if op == "hide":
            out += ["--remount-ro", str(path)]
    out += ["--chdir", str(scratch), "--"]
    if shutil.which("prlimit"):
        out += ["prlimit", f"--nproc={processes}:{processes}", "--"]
    return out + list(argv)


def _gpu_devices() -> list[str]:
    import glob

    return sorted(glob.glob("/dev/nvidia*") + glob.glob("/dev/dri") + glob.glob("/dev/kfd"))


# -- cgroups ---------------------------------------------------------------------------------
def _own_cgroups() -> list[Path]:
    """Where this process's pids and memory cgroups are, v2 (one) or v1 (two)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        for line in lines:
            if line.startswith("0::"):
                return [root / line[3:].lstrip("/")]
        return []
    found = []
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        for ctrl in ("pids", "memory"):
            if ctrl in ctrls.split(","):
                found.append(root / ctrl / path.lstrip("/"))
    return found if len(found) == 2 else []


def _cgroup_kind() -> tuple[str | None, str]:
    bases = _own_cgroups()
    if not bases:
        return None, "no pids and memory cgroup found"
    kind = "v2" if len(bases) == 1 else "v1"
    made: list[Path] = []
    try:
        for base in bases:
            path = base / f"wb-probe-{uuid.uuid4().hex[:8]}"
            path.mkdir()
            made.append(path)
            wanted = ("pids.max", "memory.max") if kind == "v2" else ("pids.max",)
            if kind == "v1" and "memory" in base.parts:
                wanted = ("memory.limit_in_bytes",)
            if not all((path / w).exists() for w in wanted):
                return None, "the pids and memory controllers are not delegated to this user"
        return kind, ""
    except OSError as exc:
        return None, f"this user may not create one: {exc.strerror}"
    finally:
        for path in made:
            _remove_cgroup(path)


def _make_cgroup(kind: str, limits: Limits) -> list[Path]:
    memory = (limits.memory_mb + 512) * 2**20
    made = []
    try:
        for base in _own_cgroups():
            path = base / f"wb-{uuid.uuid4().hex[:12]}"
            path.mkdir()
            made.append(path)
            if kind == "v2":
                (path / "pids.max").write_text(str(limits.processes))
                (path / "memory.max").write_text(str(memory))
            elif "pids" in base.parts:
                (path / "pids.max").write_text(str(limits.processes))
            else:
                (path / "memory.limit_in_bytes").write_text(str(memory))
    except OSError:
        for path in made:
            _remove_cgroup(path)
        return []  # rlimits and the watchdog still bound the run
    return made


def _remove_cgroup(path: Path) -> None:
    import time

    kill = path / "cgroup.kill"
    for _ in range(50):
        try:
            if kill.exists():
                kill.write_text("1")
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
