"""Hardened mode: no network, no home directory; or a clear fallback where not permitted."""

from __future__ import annotations

import socket

import numpy as np
import pytest

import workbench
from workbench.sandbox._hardening import hardening_status

CELL = "def double(x):\n    return x * 2.0\n"


def make(n):
    return (np.arange(float(n)),)


@pytest.mark.skipif(
    not hardening_status()[0], reason=f"no namespaces here: {hardening_status()[1]}"
)
def test_hardened_worker_has_no_network_and_no_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text("credentials")
    monkeypatch.setenv("HOME", str(home))
    hardening_status.cache_clear()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    probe = (
        "import os, socket\n"
        "def double(x):\n"
        f"    if os.path.exists({str(home / 'secret.txt')!r}):\n"
        "        raise RuntimeError('home is visible')\n"
        "    try:\n"
        f"        socket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n"
        "    except OSError:\n"
        "        return x * 2.0\n"
        "    raise RuntimeError('network is reachable')\n"
    )
    try:
        workbench.configure(hardened=True)
        res = workbench.optimize(
            CELL, inputs=make, strategies=[], candidates=[probe], sizes=[2, 20]
        )
    finally:
        server.close()
    assert res.candidates[0].status == "passed", res.candidates[0].reason
    assert any("hardened mode: workers had no network" in n for n in res.notes)

    workbench.configure(hardened=False)  # the same probe, default isolation: both are reachable
    res = workbench.optimize(CELL, inputs=make, strategies=[], candidates=[probe], sizes=[2, 20])
    assert res.candidates[0].status == "error" and "home is visible" in res.candidates[0].reason


def test_fallback_says_why(monkeypatch):
    from workbench.sandbox import _hardening

    monkeypatch.setattr(
        _hardening, "hardening_status", lambda: (False, "the OS refuses unprivileged namespaces")
    )
    workbench.configure(hardened=True)
    res = workbench.optimize(
        CELL,
        inputs=make,
        strategies=[],
        candidates=["def double(x):\n    return x + x\n"],
        sizes=[2, 20],
    )
    assert res.candidates[0].status == "passed"
    assert any("not available here (the OS refuses" in n for n in res.notes)
