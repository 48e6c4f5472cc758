"""Both HTTP drivers (httptools, aiohttp) and both WebSocket drivers (picows, aiohttp) read the
same answers the same way: chunked and Content-Length bodies, bodies that run to the end of the
connection, keep-alive, servers that close or reset in the middle of an answer; fragmented
WebSocket messages and pings. Real sockets on 127.0.0.1 (scripted servers in threads).

The whole load suite runs with either driver: ``ROO_HTTP_DRIVER=aiohttp ROO_WS_DRIVER=aiohttp
pytest tests/integration/load tests/integration/socketio tests/plugin/test_load_fixtures.py``
(without the variables: httptools and picows).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from pytest_roo.load import HttpLoad, WsSwarm
from tests.integration.raw_servers import closed_port

pytestmark = pytest.mark.integration

HTTP_DRIVERS = ["httptools", "aiohttp"]
WS_DRIVERS = ["picows", "aiohttp"]

Answer = Callable[[socket.socket, int], bool]


@contextmanager
def scripted_http(answer: Answer) -> Iterator[tuple[int, list[int]]]:
    """A server that reads each request (up to its blank line) and calls ``answer(conn, n)``
    (n: the request's number on that connection); it goes on while ``answer`` returns True.
    Yields the port and a list that counts the connections accepted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[int] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(5)
        n = 0
        data = b""
        with conn:
            while not stop.is_set():
                while b"\r\n\r\n" not in data:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    data += chunk
                _, _, data = data.partition(b"\r\n\r\n")
                try:
                    if not answer(conn, n):
                        return
                except OSError:
                    return
                n += 1

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def _send(text: bytes) -> Answer:
    def answer(conn: socket.socket, n: int) -> bool:
        conn.sendall(text)
        return True
    return answer


RUN = {"clients": 2, "duration": 0.5, "rate": "20/s", "timeout": 2.0}


@pytest.mark.parametrize("driver", HTTP_DRIVERS)
def test_chunked_and_sized_bodies_are_read_and_checked(driver: str) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"ok\"\r\n7\r\n: true}\r\n0\r\n\r\n")
    with scripted_http(_send(chunked)) as (port, accepted):
        ok = HttpLoad().get(f"http://127.0.0.1:{port}/", driver=driver, **RUN, expect=[
            {"ok": True}, lambda a: a.headers["content-type"] == "application/json"])
        wrong = HttpLoad().get(f"http://127.0.0.1:{port}/", expect={"ok": False},
                               driver=driver, **RUN)
    assert ok.info["driver"] == driver
    assert ok.error_count == 0 and ok.operations == 10, ok.errors
    assert wrong.errors == {"mismatch": 10}
    assert 2 <= len(accepted) <= 4  # keep-alive: at most one connection per client and run
    sized = b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"
    with scripted_http(_send(sized)) as (port, accepted):
        busy = HttpLoad().get(f"http://127.0.0.1:{port}/", driver=driver, **RUN)
        fine = HttpLoad().get(f"http://127.0.0.1:{port}/", driver=driver, expect=503, **RUN)
    assert busy.errors == {"http_5xx": 10}
    assert fine.error_count == 0 and fine.get_metric("latency").count == 10


@pytest.mark.parametrize("driver", HTTP_DRIVERS)
def test_connection_close_and_bodies_that_end_with_the_connection(driver: str) -> None:
    def until_eof(conn: socket.socket, n: int) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe whole body")
        return False  # the end of the connection ends the body

    with scripted_http(until_eof) as (port, accepted):
        result = HttpLoad().get(f"http://127.0.0.1:{port}/", driver=driver,
                                expect=lambda a: a.body == b"the whole body", **RUN)
    assert result.error_count == 0 and result.operations == 10, result.info
    assert len(accepted) == 10  # a new connection for every request


@pytest.mark.parametrize("driver", HTTP_DRIVERS)
def test_a_server_that_closes_or_resets_mid_answer(driver: str) -> None:
    def half(conn: socket.socket, n: int) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
        return False

    def reset(conn: socket.socket, n: int) -> bool:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False  # closed with linger 0: an RST

    with scripted_http(half) as (port, _):
        closed = HttpLoad().get(f"http://127.0.0.1:{port}/", driver=driver, **RUN)
    with scripted_http(reset) as (port, _):
        reset_result = HttpLoad().get(f"http://127.0.0.1:{port}/", driver=driver, **RUN)
    assert closed.errors == {"closed": 10}, closed.errors
    assert closed.get_metric("latency").count == 0
    assert reset_result.errors == {"reset": 10}, reset_result.errors


def test_tls_falls_back_to_aiohttp_and_says_why() -> None:
    result = HttpLoad().get(f"https://127.0.0.1:{closed_port()}/", clients=1, duration=0.3,
                            rate="10/s", timeout=1.0, driver="httptools")
    assert result.info["driver"] == "aiohttp"
    assert "TLS" in result.info["driver_fallback"]
    assert set(result.errors) == {"refused"}


# -- WebSocket: a picows server that fragments its echoes and pings before each --


@contextmanager
def fragmenting_echo_server(ping: bool) -> Iterator[int]:
    """A picows WebSocket server on its own loop in a thread: every text message is echoed as
    two fragments (a text frame without FIN, then a continuation), after a ping when ``ping``."""
    import picows

    ready: list[int] = []
    started = threading.Event()
    holder: dict[str, object] = {}

    class Echo(picows.WSListener):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if frame.msg_type == picows.WSMsgType.TEXT:
                data = frame.get_payload_as_bytes()
                if ping:
                    transport.send_ping(b"are you there")
                half = max(1, len(data) // 2)
                transport.send(picows.WSMsgType.TEXT, data[:half], fin=False)
                transport.send(picows.WSMsgType.CONTINUATION, data[half:], fin=True)
            elif frame.msg_type == picows.WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop

        async def main() -> None:
            server = await picows.ws_create_server(lambda _: Echo(), "127.0.0.1", 0)
            ready.append(server.sockets[0].getsockname()[1])
            holder["server"] = server
            started.set()
            await server.serve_forever()

        try:
            loop.run_until_complete(main())
        except (asyncio.CancelledError, RuntimeError):
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "the picows test server did not start"
    try:
        yield ready[0]
    finally:
        loop = holder["loop"]
        server = holder["server"]
        loop.call_soon_threadsafe(server.close)  # type: ignore[attr-defined]
        thread.join(5)


@pytest.mark.parametrize("driver", WS_DRIVERS)
@pytest.mark.parametrize("rate", [None, "100/s"])
def test_fragmented_echoes_and_pings_are_reassembled_and_unseen(driver: str,
                                                                rate: str | None) -> None:
    with fragmenting_echo_server(ping=True) as port:
        result = WsSwarm(driver=driver).echo(f"ws://127.0.0.1:{port}/", clients=3,
                                             duration=0.5, rate=rate, message_size=64,
                                             timeout=2.0)
    assert result.info["driver"] == driver
    assert result.error_count == 0, result.info.get("error_examples")
    assert result.get_metric("rtt").count > 0
    assert result.counters.get("unexpected", 0) == 0  # pings are answered, never data


def test_a_wrong_ws_driver_is_refused_before_the_run() -> None:
    with pytest.raises(ValueError, match="invalid driver='tornado'"):
        WsSwarm(driver="tornado")
