"""A real aiohttp server (bench/servers/ws_server.py) on 127.0.0.1 for Artillery to drive, and
the Artillery runner (skipped with the install hint when it is not installed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[3] / "bench" / "servers" / "ws_server.py"


class Server:
    def __init__(self, port: int) -> None:
        self.port = port
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"


@pytest.fixture
def aiohttp_server() -> Iterator[Server]:
    """The test server in its own process group; stopped after the test."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--max-seconds", "300"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), f"test server did not start: {line!r}"
    yield Server(int(line.split()[1]))
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(3)
    proc.stdout.close()


@pytest.fixture
def artillery_command() -> list[str]:
    """The command that runs Artillery here; a skip with the install hint when there is none."""
    from pytest_roo.artillery import ArtilleryUnavailable, find_artillery

    try:
        return find_artillery()
    except ArtilleryUnavailable as exc:
        pytest.skip(str(exc))
