"""Servers on 127.0.0.1 for the fault proxy's integration tests; each stopped after its test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.faults.faults_servers import (
    LoopServer,
    blob_server,
    echo_server,
    http_server,
)


@pytest.fixture
def realtime() -> Iterator[None]:
    """Real-time round-robin scheduling, where allowed, for this thread and the threads started
    while it is on (the servers' and the proxy's: list this fixture first). Timing tests of the
    injected delays need wake-ups that other work on a shared machine does not hold back; these
    threads are mostly idle, and the kernel keeps 5 % of each core for everything else anyway."""
    try:
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))
    except (OSError, AttributeError):
        yield  # not allowed here: the tests run at normal priority
        return
    try:
        yield
    finally:
        os.sched_setscheduler(0, policy, param)


@pytest.fixture
def echo() -> Iterator[LoopServer]:
    """An asyncio TCP echo server (echoes until EOF, then half-closes)."""
    server = echo_server()
    yield server
    server.stop()


@pytest.fixture
def blob() -> Iterator[LoopServer]:
    """An asyncio server: ``N\\n`` -> N bytes then close; ``UP N\\n`` + N bytes -> ``OK\\n``."""
    server = blob_server()
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[LoopServer]:
    """An aiohttp server: ``GET /hello``, ``GET /blob?size=N``."""
    server = http_server()
    yield server
    server.stop()
