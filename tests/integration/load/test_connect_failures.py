"""Load drivers say truthfully why a connection failed: nothing listening (``refused``), no
TCP connection in time (``timeout``, connect timeout), a connection accepted and then no answer
(``timeout``, saying so), an answer to a WebSocket upgrade that is not HTTP, or a 101 with a
wrong Sec-WebSocket-Accept (``protocol``, naming what came back). Real sockets on 127.0.0.1."""

from __future__ import annotations

from typing import TypedDict

import pytest

from pytest_roo.load import HttpLoad, WsSwarm
from tests.integration.raw_servers import (
    GARBAGE,
    WRONG_ACCEPT,
    closed_port,
    full_backlog_server,
    raw_server,
)

pytestmark = pytest.mark.integration


class Run(TypedDict):
    """The keywords every run here shares: one client for one second, 1 s timeouts."""

    clients: int
    duration: str
    timeout: float


RUN: Run = {"clients": 1, "duration": "1s", "timeout": 1.0}


def test_http_to_a_server_that_accepts_and_never_answers() -> None:
    with raw_server(None) as port:
        result = HttpLoad().get(f"http://127.0.0.1:{port}/x", **RUN)
    assert set(result.errors) == {"timeout"}
    example = result.info["error_examples"]["timeout"]
    assert "accepted but no response came within 1 s" in example, example
    assert "nothing accepted" not in example


def test_http_connect_timeout_is_not_called_accepted() -> None:
    with full_backlog_server() as port:
        result = HttpLoad().get(f"http://127.0.0.1:{port}/x", **RUN)
    assert set(result.errors) == {"timeout"}
    example = result.info["error_examples"]["timeout"]
    assert "connect timeout: no TCP connection within 1 s" in example, example


def test_http_refused() -> None:
    result = HttpLoad().get(f"http://127.0.0.1:{closed_port()}/x", **RUN)
    assert set(result.errors) == {"refused"}


def test_ws_to_a_server_that_accepts_and_never_answers() -> None:
    with raw_server(None) as port:
        result = WsSwarm().echo(f"ws://127.0.0.1:{port}/ws", **RUN)
    assert set(result.errors) == {"timeout"}
    assert result.counters["clients_connected"] == 0
    example = result.info["error_examples"]["timeout"]
    assert ("the connection was accepted but no answer to the WebSocket upgrade came within 1 s"
            in example), example


def test_ws_connect_timeout_is_not_called_accepted() -> None:
    with full_backlog_server() as port:
        result = WsSwarm().echo(f"ws://127.0.0.1:{port}/ws", **RUN)
    assert set(result.errors) == {"timeout"}
    example = result.info["error_examples"]["timeout"]
    assert "connect timeout: no TCP connection within 1 s" in example, example


def test_ws_refused_says_nothing_listens() -> None:
    result = WsSwarm().echo(f"ws://127.0.0.1:{closed_port()}/ws", **RUN)
    assert set(result.errors) == {"refused"}
    assert "nothing listens" in result.info["error_examples"]["refused"]


def test_ws_garbage_answer_to_the_upgrade_is_a_protocol_error() -> None:
    with raw_server(GARBAGE) as port:
        result = WsSwarm().echo(f"ws://127.0.0.1:{port}/ws?token=tok-secret-1", **RUN)
    assert set(result.errors) == {"protocol"}, result.errors  # not http_4xx
    example = result.info["error_examples"]["protocol"]
    assert "is not HTTP" in example, example
    assert r"b'\x00\x01\xffSSH-2.0-not-http" in example, example  # the first bytes, escaped
    assert "hunter2" not in example and "tok-secret-1" not in example
    assert "Sec-WebSocket-Key" not in example  # no request headers in the words
    assert result.info["connect_error"] == example


def test_ws_wrong_accept_key_is_a_protocol_error() -> None:
    with raw_server(WRONG_ACCEPT) as port:
        result = WsSwarm().echo(f"ws://127.0.0.1:{port}/ws", **RUN)
    assert set(result.errors) == {"protocol"}, result.errors
    example = result.info["error_examples"]["protocol"]
    assert "101 Switching Protocols with a wrong Sec-WebSocket-Accept" in example, example


def test_ws_broadcast_counts_a_garbage_answer_as_protocol() -> None:
    with raw_server(GARBAGE) as port:
        url = f"ws://127.0.0.1:{port}/ws"
        result = WsSwarm().broadcast(url, clients=2, duration="1s", timeout=1.0, rate="5/s")
    assert result.errors and set(result.errors) <= {"protocol"}, result.errors
    assert "is not HTTP" in result.info["error_examples"]["protocol"]


def test_http_garbage_answer_is_protocol_and_the_request_headers_stay_out() -> None:
    with raw_server(GARBAGE) as port:
        result = HttpLoad().get(f"http://127.0.0.1:{port}/x", headers={
            "Authorization": "Bearer hdr-secret-1"}, **RUN)
    assert set(result.errors) == {"protocol"}, result.errors  # not http_4xx
    example = result.info["error_examples"]["protocol"]
    assert "not HTTP" in example, example
    assert "hdr-secret-1" not in example and "hunter2" not in example
