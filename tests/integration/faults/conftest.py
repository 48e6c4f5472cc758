"""Servers on 127.0.0.1 for the fault proxy's integration tests; each stopped after its test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faults_servers import LoopServer, blob_server, echo_server, http_server


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
