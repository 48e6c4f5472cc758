"""A python-socketio server (AsyncServer on aiohttp, 127.0.0.1 only) for the Socket.IO driver's
tests and bench, healthy or faulty on purpose. Prints "PORT <n>" once listening; exits when
stdin closes or after --max-seconds.

Namespaces ``/`` and ``/chat``: ``echo(data)`` acks ``data``; ``join(room)`` enters the room and
acks its name; ``publish(room, payload)`` emits ``message(payload)`` to the room and acks True.
Namespace ``/private``: CONNECT needs the auth payload ``{"token": $SIO_TEST_TOKEN}`` (from the
environment, not the command line: process lists are readable), then ``echo``.

--fault (one of):
  altered-ack      the echo ack carries the data with its last character replaced
  greeting         every echo first emits ``greeting("hello")`` to the caller, then acks
  drop-acks        every 3rd echo is never acknowledged
  refuse-connect   every CONNECT is answered with CONNECT_ERROR "server full"
  lossy-room       every 4th publish is not emitted to the room
  duplicate-room   every 5th publish is emitted to the room twice
  kick-first       the 5th publish first disconnects the room's first member from the namespace
  kick-echo        the 20th echo disconnects its caller instead of acknowledging
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
from typing import Any

import socketio
from aiohttp import web

FAULTS = ("none", "altered-ack", "greeting", "drop-acks", "refuse-connect", "lossy-room",
          "duplicate-room", "kick-first", "kick-echo")


def build_app(fault: str, token: str, ping_interval: float) -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=ping_interval,
                               ping_timeout=max(1.0, ping_interval), cors_allowed_origins=[],
                               logger=False, engineio_logger=False)
    app = web.Application()
    sio.attach(app)
    counts = {"echo": 0, "publish": 0}
    members: list[str] = []  # in the order they joined

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if fault == "refuse-connect":
            raise socketio.exceptions.ConnectionRefusedError("server full")

    async def connect_private(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not isinstance(auth, dict) or auth.get("token") != token:
            raise socketio.exceptions.ConnectionRefusedError("invalid token")

    async def echo(sid: str, data: Any, namespace: str = "/") -> Any:
        counts["echo"] += 1
        if fault == "greeting":
            await sio.emit("greeting", "hello", to=sid, namespace=namespace)
        if fault == "kick-echo" and counts["echo"] == 20:
            await sio.disconnect(sid, namespace=namespace)
            return None
        if fault == "drop-acks" and counts["echo"] % 3 == 0:
            await asyncio.sleep(3600)  # never acknowledged; ends with the connection
        if fault == "altered-ack" and isinstance(data, str) and data:
            return data[:-1] + ("y" if data[-1] != "y" else "z")
        return data

    def for_namespace(namespace: str) -> None:
        async def on_echo(sid: str, data: Any = None) -> Any:
            return await echo(sid, data, namespace)

        async def on_join(sid: str, room: str) -> str:
            await sio.enter_room(sid, room, namespace=namespace)
            members.append(sid)
            return room

        async def on_publish(sid: str, room: str, payload: Any) -> bool:
            counts["publish"] += 1
            n = counts["publish"]
            if fault == "lossy-room" and n % 4 == 0:
                return True
            if fault == "kick-first" and n == 5 and members:
                await sio.disconnect(members[0], namespace=namespace)
            await sio.emit("message", payload, to=room, namespace=namespace)
            if fault == "duplicate-room" and n % 5 == 0:
                await sio.emit("message", payload, to=room, namespace=namespace)
            return True

        sio.on("echo", on_echo, namespace=namespace)
        sio.on("join", on_join, namespace=namespace)
        sio.on("publish", on_publish, namespace=namespace)

    sio.on("connect", connect, namespace="/")
    sio.on("connect", connect, namespace="/chat")
    sio.on("connect", connect_private, namespace="/private")
    for namespace in ("/", "/chat", "/private"):
        for_namespace(namespace)
    return app


async def main(args: argparse.Namespace) -> None:
    token = os.environ.get("SIO_TEST_TOKEN") or os.urandom(16).hex()
    runner = web.AppRunner(build_app(args.fault, token, args.ping_interval),
                           access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = asyncio.Event()
    fd = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(fd, 4096):  # end of file: the parent closed the pipe
            stdin_closed.set()

    if stat.S_ISFIFO(os.fstat(fd).st_mode):  # a pipe: its end is the signal to stop
        loop.add_reader(fd, on_stdin)
    try:
        await asyncio.wait_for(stdin_closed.wait(), args.max_seconds)
    except asyncio.TimeoutError:
        pass
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--fault", choices=FAULTS, default="none")
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parsed = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parsed))
