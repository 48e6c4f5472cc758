"""A python-socketio server (sio_server.py) on 127.0.0.1, one process group each, stopped
after the test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.port_servers import start_port_server, stop_port_servers

SERVER = Path(__file__).resolve().parent / "sio_server.py"
TOKEN = "t0ken-for-tests"


@pytest.fixture
def sio_server() -> Iterator[Callable[..., str]]:
    """``sio_server(fault="none", ping_interval=1.0)`` starts the server and returns its base
    URL (``http://127.0.0.1:<port>``); ``/private`` wants ``{"token": TOKEN}``. The short
    ping interval makes the server drop a client that does not answer pings within ~2 s."""
    procs: list[subprocess.Popen[str]] = []

    def start(fault: str = "none", ping_interval: float = 1.0) -> str:
        port = start_port_server(
            procs, [sys.executable, str(SERVER), "--max-seconds", "300", "--fault", fault,
                    "--ping-interval", str(ping_interval)], "socket.io test server",
            env={**os.environ, "SIO_TEST_TOKEN": TOKEN},  # not on the command line
        )
        return f"http://127.0.0.1:{port}"

    yield start
    stop_port_servers(procs)


NODE_SERVER = Path(__file__).resolve().parent / "sio_server.js"


@pytest.fixture
def node_sio_server() -> Iterator[Callable[..., str]]:
    """``node_sio_server(ping_interval=1.0)``: the same contract served by node socket.io 4.8
    (sio_server.js); its base URL."""
    import shutil

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: apt-get install -y nodejs npm")
    if not (NODE_SERVER.parent / "node_modules" / "socket.io").is_dir():
        pytest.skip("the npm package socket.io is not installed: "
                    "cd tests/integration/socketio && npm ci")
    procs: list[subprocess.Popen[str]] = []

    def start(ping_interval: float = 1.0) -> str:
        port = start_port_server(
            procs, [node, str(NODE_SERVER)], "node socket.io server", cwd=NODE_SERVER.parent,
            env={**os.environ, "SIO_TEST_TOKEN": TOKEN,
                 "SIO_PING_INTERVAL_MS": str(int(ping_interval * 1000))},
        )
        return f"http://127.0.0.1:{port}"

    yield start
    stop_port_servers(procs)
