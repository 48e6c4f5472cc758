"""A real aiohttp server (bench/servers/ws_server.py) on 127.0.0.1, one process group each."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.integration.port_servers import start_port_server, stop_port_servers

SERVER = Path(__file__).resolve().parents[3] / "bench" / "servers" / "ws_server.py"
FAULTY = SERVER.parent / "faulty_server.py"


def raise_priority() -> None:
    """``preexec_fn``: real-time round-robin scheduling (or else nice -10) where allowed, so that
    other work on a shared machine does not delay this process's wake-ups: tests of measurement
    accuracy need the truth undisturbed. Only for short, mostly idle processes; the kernel's
    real-time throttling keeps 5 % of each core for everything else regardless."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))
    except (OSError, AttributeError):
        try:
            os.nice(-10)
        except OSError:
            pass


class Server:
    def __init__(self, port: int) -> None:
        self.port = port

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class StartServer(Protocol):
    """The ``load_server`` fixture: starts a test server and returns its addresses."""

    def __call__(self, *flags: str, priority: bool = False, faulty: bool = False) -> Server: ...


@pytest.fixture
def priority_preexec() -> Callable[[], None]:
    """A ``preexec_fn`` for client processes: a raised priority where allowed (raise_priority)."""
    return raise_priority


@pytest.fixture
def load_server() -> Iterator[StartServer]:
    """Start the test server with extra flags (``--stall-every 1``...), or with ``faulty=True``
    the server that answers wrongly on purpose (bench/servers/faulty_server.py); stopped after
    the test."""
    procs: list[subprocess.Popen[str]] = []

    def start(*flags: str, priority: bool = False, faulty: bool = False) -> Server:
        script = FAULTY if faulty else SERVER
        return Server(start_port_server(
            procs, [sys.executable, str(script), "--max-seconds", "300", *flags], "test server",
            preexec_fn=raise_priority if priority else None,
        ))

    yield start
    stop_port_servers(procs)


@pytest.fixture
def in_loop_callback() -> Callable[[Callable[[], Any]], Any]:
    """``in_loop_callback(func)`` calls ``func`` from a plain callback of a running event loop
    (no current task), as Playwright's sync API runs a test's code between its calls."""

    def call(func: Callable[[], Any]) -> Any:
        loop = asyncio.new_event_loop()
        try:
            done = loop.create_future()

            def callback() -> None:
                try:
                    done.set_result(func())
                except BaseException as exc:
                    done.set_exception(exc)

            loop.call_soon(callback)
            return loop.run_until_complete(done)
        finally:
            loop.close()

    return call
