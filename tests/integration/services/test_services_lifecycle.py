"""Servers and their data never outlive the pytest process: normal exit, Ctrl-C, SIGTERM, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_roo.services import procs
from tests.integration.interruptible import interruptible
from tests.integration.processes import running

pytestmark = pytest.mark.integration

HANGING_TEST = '''
import json, os, time
import psutil
from pytest_roo.services.procs import runtime_base

def test_hang(postgres_db, redis_db):
    dirs = [str(p) for p in runtime_base().glob(f"{os.getpid()}-*")]
    pids = []
    for d in dirs:
        for line in open(os.path.join(d, "pids")):
            pid = int(line.split()[0])
            pids.append(pid)
            pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
    with open("state.tmp", "w") as fh:
        json.dump({"dirs": dirs, "pids": pids}, fh)
    os.rename("state.tmp", "state.json")
    time.sleep({sleep})
'''


@pytest.mark.parametrize("how", ["exit", "SIGINT", "SIGTERM", "SIGKILL"])
def test_nothing_remains_after_the_session_ends(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(HANGING_TEST.replace("{sleep}", "0" if how == "exit" else "120"))
    log_path = pytester.path / "pytest.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--roo-services=local",
             "-q"],
            cwd=pytester.path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=interruptible,
        )
    try:
        state_file = pytester.path / "state.json"
        deadline = time.monotonic() + 60
        while not state_file.exists():
            assert proc.poll() is None or how == "exit", log_path.read_text()
            assert time.monotonic() < deadline, "the servers did not start within 60 s"
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        if how != "exit":
            os.kill(proc.pid, getattr(signal, how))
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert state_file.exists(), log_path.read_text()
    state = json.loads(state_file.read_text())
    assert state["dirs"], "the session made no runtime directory"
    assert len(state["pids"]) >= 3, state  # postmaster, its children, redis-server
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        alive = [pid for pid in state["pids"] if running(pid)]
        left = [d for d in state["dirs"] if os.path.exists(d)]
        if not alive and not left:
            break
        time.sleep(0.05)
    assert not alive, f"processes left after {how}: {alive}"
    assert not left, f"directories left after {how}: {left}"


def test_next_session_sweeps_a_dead_owners_directory(pytester: pytest.Pytester,
                                                     tmp_path: Path) -> None:
    base = procs.runtime_base()
    base.mkdir(parents=True, exist_ok=True)
    stale = base / "999999999-dead00"
    stale.mkdir()
    (stale / procs.OWNER_FILE).write_text("999999999 0\n")
    pytester.makepyfile("def test_start(redis_server):\n    pass\n")
    result = pytester.runpytest_subprocess("--roo-services=local")
    result.assert_outcomes(passed=1)
    assert not stale.exists()
