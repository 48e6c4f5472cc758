"""start_process: a third-party command becomes a Target that dies with pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_roo.launch import StartError, start_process
from pytest_roo.services.procs import free_port
from pytest_roo.target import TargetError, pid_alive

SERVER = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def test_a_server_starts_answers_and_stops(tmp_path: Path) -> None:
    port = free_port()
    target = start_process(
        [*SERVER, str(port)], health=f"http://127.0.0.1:{port}/", cwd=tmp_path,
        log_path=tmp_path / "server.log",
    )
    try:
        assert target.base_url == f"http://127.0.0.1:{port}"
        assert target.health("/")[0] == 200
        assert target.alive() and target.startup_seconds is not None
    finally:
        target.stop()
    assert gone_within(target.pids[0], 10)
    assert (tmp_path / "server.log").exists()


def test_a_process_that_exits_fails_with_its_status_and_output(tmp_path: Path) -> None:
    code = "import sys; print('cannot bind: port taken', flush=True); sys.exit(3)"
    with pytest.raises(StartError) as caught:
        start_process([sys.executable, "-c", code], health="http://127.0.0.1:9/health",
                      timeout=30, log_path=tmp_path / "log")
    message = str(caught.value)
    assert "exited with status 3" in message
    assert "cannot bind: port taken" in message


def test_not_ready_in_time_is_stopped(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    code = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(300)"
    with pytest.raises(StartError, match="not ready"):
        start_process([sys.executable, "-c", code], health=lambda: False,
                      base_url="http://127.0.0.1:9", timeout=1.5)
    assert gone_within(int(marker.read_text()), 10)


def test_a_temporary_log_is_removed_with_the_process(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    port = free_port()
    target = start_process([*SERVER, str(port)], health=f"http://127.0.0.1:{port}/")
    assert target.log_path is not None and target.log_path.parent.parent == tmp_path
    target.stop()
    code = "import sys; print('cannot bind: port taken', flush=True); sys.exit(3)"
    with pytest.raises(StartError, match=r"(?s)Last lines of its output:.*port taken"):
        start_process([sys.executable, "-c", code], health="http://127.0.0.1:9/health")
    assert not list(tmp_path.iterdir())


def test_children_of_the_process_are_stopped_too(tmp_path: Path) -> None:
    port = free_port()
    child_pid = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {child_pid}; exec {sys.executable} -m http.server --bind 127.0.0.1 {port}"
    target = start_process(["sh", "-c", script], health=f"http://127.0.0.1:{port}/", cwd=tmp_path)
    grandchild = int(child_pid.read_text())
    assert pid_alive(grandchild)
    target.stop()
    assert gone_within(grandchild, 10)


def test_secrets_go_through_the_environment_not_the_command_line(tmp_path: Path) -> None:
    port = free_port()
    target = start_process(
        [*SERVER, str(port)], health=f"http://127.0.0.1:{port}/", cwd=tmp_path,
        env={"APP_DB_PASSWORD": "s3cr3t-value"},
    )
    try:
        pid = target.pids[0]
        assert b"s3cr3t-value" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"APP_DB_PASSWORD=s3cr3t-value" in Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        target.stop()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cmd": []}, "empty command"),
        ({"cmd": ["true"], "health": lambda: True}, "give base_url="),
        ({"cmd": ["true"], "timeout": 0}, "timeout=0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    args = {"health": "http://127.0.0.1:9/", **kwargs}
    with pytest.raises(TargetError, match=message):
        start_process(args.pop("cmd"), **args)


def test_the_server_dies_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    port = free_port()
    pid_file = tmp_path / "server.pid"
    code = f"""
import os, signal
from pytest_roo.launch import start_process
t = start_process({[*SERVER, str(port)]!r}, health="http://127.0.0.1:{port}/", cwd={str(tmp_path)!r})
open({str(pid_file)!r}, "w").write(str(t.pids[0]))
os.kill(os.getpid(), signal.SIGKILL)
"""
    # TMPDIR: where the temporary log goes, so that the test sees it removed
    subprocess.run([sys.executable, "-c", code], timeout=60, check=False,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
                        "TMPDIR": str(tmp_path)})
    server = int(pid_file.read_text())
    assert gone_within(server, 15)
    deadline = time.monotonic() + 10  # the watchdog removes the log after the server is gone
    while [p.name for p in tmp_path.iterdir()] != ["server.pid"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.name for p in tmp_path.iterdir()] == ["server.pid"]
