"""Hardened workers: Linux namespaces with no network and the user's home hidden.

``unshare --user --map-root-user --net --mount`` gives the worker its own network namespace
(only a loopback interface that is down: no connections anywhere, the kernel's own servers
included) and its own mount namespace, in which an empty tmpfs is mounted over the user's home
directory (no SSH keys, cloud credentials, notebooks or dotfiles to read). Where the OS does
not allow unprivileged namespaces, ``hardening_status`` says why and the workbench falls back
to the default isolation, saying so in the result's notes.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

_UNSHARE = ["unshare", "--user", "--map-root-user", "--net", "--mount", "--"]
# Mount an empty tmpfs over the home directory, then become the worker.
_SHELL = 'mount -t tmpfs -o size=16m tmpfs "$1" || exit 97; shift; exec "$@"'


@functools.lru_cache(maxsize=1)
def hardening_status() -> tuple[bool, str]:
    """(available, why not): probes once per process."""
    if shutil.which("unshare") is None:
        return False, "the unshare command is not installed (util-linux)"
    try:
        probe = subprocess.run(
            [*_UNSHARE, "sh", "-c", _SHELL, "sh", str(_home()), "true"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"unshare failed: {exc}"
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"the OS refuses unprivileged namespaces ({detail})"
    return True, ""


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home()).resolve()


def wrap_argv(argv: list[str]) -> list[str]:
    """``argv`` run inside fresh user, network and mount namespaces with the home hidden."""
    return [*_UNSHARE, "sh", "-c", _SHELL, "sh", str(_home()), *argv]
