"""Real servers on 127.0.0.1 for the fault proxy's tests, and small blocking clients.

Each server runs in a thread with its own event loop (the proxy has its own thread too), so the
tests themselves are plain synchronous code, as most users' tests are.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any


class LoopServer:
    """Runs ``start(loop) -> closer`` in a thread of its own; :meth:`stop` undoes it."""

    def __init__(self, start: Callable[[], Coroutine[Any, Any, tuple[int, Callable[[], Any]]]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port, self._closer = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def stop(self) -> None:
        async def close() -> None:
            await self._closer()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _serve(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
                 port: int = 0) -> tuple[int, Callable[[], Any]]:
    server = await asyncio.start_server(handler, "127.0.0.1", port)

    async def close() -> None:
        server.close()
        await server.wait_closed()

    return int(server.sockets[0].getsockname()[1]), close


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _blob(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads ``N\\n`` and answers N bytes, then closes; a client sending more bytes reads them
    all first (an upload): ``UP N\\n`` + N bytes -> ``OK\\n``."""
    try:
        line = (await reader.readline()).decode().split()
        if line and line[0] == "UP":
            await reader.readexactly(int(line[1]))
            writer.write(b"OK\n")
        elif line:
            writer.write(b"b" * int(line[0]))
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def echo_server(port: int = 0) -> LoopServer:
    return LoopServer(lambda: _serve(_echo, port))


def blob_server() -> LoopServer:
    return LoopServer(lambda: _serve(_blob))


def http_server() -> LoopServer:
    """aiohttp: ``GET /hello`` -> ``hello``; ``GET /blob?size=N`` -> N bytes; ``/ws/echo``."""

    async def start() -> tuple[int, Callable[[], Any]]:
        from aiohttp import web

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="hello")

        async def blob(request: web.Request) -> web.Response:
            return web.Response(body=b"b" * int(request.query.get("size", "1000")))

        async def ws_echo(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                if message.type == web.WSMsgType.TEXT:
                    await ws.send_str(message.data)
                elif message.type == web.WSMsgType.BINARY:
                    await ws.send_bytes(message.data)
            return ws

        app = web.Application()
        app.router.add_get("/ws/echo", ws_echo)
        app.router.add_get("/hello", hello)
        app.router.add_get("/blob", blob)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server) and server.sockets
        return int(server.sockets[0].getsockname()[1]), runner.cleanup

    return LoopServer(start)


# --- blocking clients ---------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        return int(spare.getsockname()[1])


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock: socket.socket, payload: bytes = b"x" * 32) -> float:
    """Send ``payload``, read its echo; seconds taken."""
    started = time.perf_counter()
    sock.sendall(payload)
    got = 0
    while got < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the echo arrived")
        got += len(chunk)
    return time.perf_counter() - started


def rtt_of(port: int, rounds: int = 9,
               pick: Callable[[list[float]], float] = statistics.median) -> float:
    """The median (or ``pick``) of ``rounds`` round trips on one connection."""
    with connect(port) as sock:
        round_trip(sock)  # warm the path
        return pick([round_trip(sock) for _ in range(rounds)])


def read_all(sock: socket.socket) -> tuple[bytes, int]:
    """Everything until EOF, and how many reads it took."""
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts), len(parts)
