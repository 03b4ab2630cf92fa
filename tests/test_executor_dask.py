"""Jobs on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on 127.0.0.1
(``--resources timing=1``), started by the tests. The verdicts must equal the local run's."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import workbench
from workbench import UsageError
from workbench.execute import DaskExecutor, LocalExecutor, SerialExecutor
from workbench.generator import build_pass_matrix

# end to end and long: CI runs these in its own step (pytest -m slow)
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_worker(address: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            DASK,
            "worker",
            address,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "2",
            "--no-nanny",
            "--no-dashboard",
            "--resources",
            "timing=1",
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(address, client, worker processes): a scheduler and two workers on loopback."""
    if not Path(DASK).exists() or shutil.which("dask", path=str(Path(DASK).parent)) is None:
        pytest.skip("the dask command is not installed (pip install 'workbench[distributed]')")
    logs = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]]
        + ["--no-dashboard"],
        stdout=(logs / "scheduler.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    workers = [_start_worker(address, logs / f"worker{i}.log") for i in range(2)]
    client = None
    try:
        deadline = time.monotonic() + 60
        while client is None:
            try:
                client = distributed.Client(address, timeout=5, set_as_default=False)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        client.wait_for_workers(2, timeout=60)
        yield address, client, workers
    finally:
        if client is not None:
            client.close()
        for proc in [*workers, scheduler]:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


REFERENCE = """
def norms(X):
    out = []
    for row in X:
        s = 0.0
        for v in row:
            s += v * v
        out.append(s ** 0.5)
    return np.array(out)
"""
CANDIDATES = [
    "import numpy as np\ndef norms(X):\n    return np.sqrt((X * X).sum(axis=1))\n",
    "import numpy as np\ndef norms(X):\n    return np.sqrt((X * X).sum(axis=0))\n",  # wrong axis
    "import numpy as np\ndef norms(X):\n    return np.abs(X).sum(axis=1)\n",  # wrong formula
    "import os\ndef norms(X):\n    os._exit(3)\n",  # ends its worker
]


def make_inputs(n):
    rng = np.random.default_rng(n)
    return (rng.standard_normal((n, 4)),)


def _verdicts(res) -> list[tuple[str, str]]:
    return [(c.id, c.status) for c in res.candidates]


def _run(executor) -> workbench.OptimizeResult:
    return workbench.optimize(
        REFERENCE,
        inputs=make_inputs,
        strategies=["numba"],
        candidates=CANDIDATES,
        namespace={"np": np},
        executor=executor,
    )


def test_optimize_through_dask_gives_the_local_verdicts(cluster):
    address, client, _ = cluster
    local = _run("local")
    remote = _run(address)
    assert _verdicts(remote) == _verdicts(local)
    assert [c.status for c in remote.candidates].count("passed") >= 2  # numpy + numba njit
    assert {c.status for c in remote.candidates} >= {"passed", "failed", "crashed"}
    assert all(c.timing is not None for c in remote.candidates if c.status == "passed")


def test_a_client_object_works_as_the_executor(cluster):
    _, client, _ = cluster
    res = workbench.optimize(
        REFERENCE,
        inputs=make_inputs,
        strategies=[],
        candidates=CANDIDATES[:2],
        namespace={"np": np},
        executor=client,
    )
    assert [c.status for c in res.candidates] == ["passed", "failed"]


GOOD = "def f(x):\n    return x + 1\n"
BAD = "def f(x):\n    return x - 1\n"
LOOPS = "def f(x):\n    while True:\n        pass\n"
TESTS = ["assert f(1) == 2", "assert f(0) == 1", "assert f(5) == 4", "assert f(-1) == 0"]


def test_a_pass_matrix_through_dask_equals_the_local_one(cluster):
    _, client, _ = cluster
    codes = [GOOD, BAD, LOOPS, GOOD]
    local = build_pass_matrix(codes, TESTS, entry="f", executor=LocalExecutor(2))
    remote = build_pass_matrix(codes, TESTS, entry="f", executor=DaskExecutor(client))
    serial = build_pass_matrix(codes, TESTS, entry="f", executor=SerialExecutor())
    assert (remote.outcomes == local.outcomes).all()
    assert (serial.outcomes == local.outcomes).all()
    assert remote.outcomes[2].tolist() == ["timeout"] * len(TESTS)


SLOW_CANDIDATE = (
    "import time\nimport numpy as np\n"
    "def norms(X):\n    time.sleep(1.5)\n    return np.sqrt((X * X).sum(axis=1))\n"
)


def test_a_worker_killed_mid_job_loses_nothing(cluster, tmp_path):
    """The worker running a job dies: the job runs again on the other worker, the verdict is
    the same, and the run keeps its other candidates."""
    address, client, workers = cluster
    pids = client.run(os.getpid)  # worker address -> pid
    killed: list[int] = []

    def kill_the_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                time.sleep(0.5)  # well inside the job: the candidate sleeps in every call
                pid = pids[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_busy_worker, daemon=True)
    killer.start()
    try:
        res = workbench.optimize(
            REFERENCE,
            inputs=make_inputs,
            strategies=[],
            candidates=[SLOW_CANDIDATE, CANDIDATES[1]],
            namespace={"np": np},
            sizes=[1, 3],
            executor=address,
        )
    finally:
        killer.join(timeout=5)
        # bring the cluster back to two workers for the tests after this one
        for i, proc in enumerate(workers):
            if proc.poll() is not None:
                workers[i] = _start_worker(address, tmp_path / "restarted.log")
        client.wait_for_workers(2, timeout=60)
    assert killed, "no worker was busy to kill"
    assert [c.status for c in res.candidates] == ["passed", "failed"], [
        c.reason for c in res.candidates
    ]


def test_an_unreachable_scheduler_says_where_and_what_to_check():
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(UsageError) as info:
        workbench.optimize(
            "def f(x):\n    return x\n",
            inputs=[(1,)],
            strategies=[],
            executor=address,
        )
    message = str(info.value)
    assert address in message and "dask scheduler" in message
    assert time.monotonic() - started < 30


def test_the_setting_names_the_cluster(cluster):
    address, _, _ = cluster
    workbench.configure(executor=address)
    res = workbench.optimize(
        REFERENCE,
        inputs=make_inputs,
        strategies=[],
        candidates=CANDIDATES[:1],
        namespace={"np": np},
    )
    assert [c.status for c in res.candidates] == ["passed"]


@pytest.mark.slow  # every red-team case once more, on the cluster (about 3 minutes)
def test_the_red_team_holds_through_dask(cluster, tmp_path):
    from benchmarks.redteam_cases import CASES, run_case

    address, _, _ = cluster
    base = {"home": str(tmp_path), "time_budget": 0.2, "timing_target": 0.02, "executor": address}
    wrong = []
    for case in CASES:
        row = run_case(case, base_settings=base)
        if not row.held:
            wrong.append(f"{case.name}: {row.why} ({row.reason})")
    assert not wrong, "\n".join(wrong)
