"""A small aiohttp server for the load engine's tests and benches (127.0.0.1 only).

Endpoints (the contract of docs/load.md plus failure modes):
  GET  /ws/echo        WebSocket echo, in order
  GET  /ws/broadcast   WebSocket fan-out of every text frame to every connection
  POST /ws/broadcast   fan-out of the request body
  GET  /ws/echo-slow-first  WebSocket echo whose first reply waits --slow-first-ms
  GET  /ws/silent      WebSocket that never answers (timeouts)
  GET  /ws/close       WebSocket closed by the server on the first message
  GET  /delay          HTTP answer after a delay drawn from --delay (seeded)
  GET  /status/{code}  HTTP answer with that status
  GET  /health         200 "ok"

  --stall-every S --stall-ms MS   freeze the whole event loop for MS every S seconds
  --drop-every N                  broadcast: skip every Nth message for the first subscriber
  --dup-every N                   broadcast: send every Nth message twice to the first subscriber
  --delay uniform:LO:HI           /delay sleeps uniformly between LO and HI milliseconds

Prints "PORT <n>" once listening; exits when stdin closes or after --max-seconds.

:func:`serve`, :func:`open_ws`, :func:`echo` and :func:`broadcast_route` also serve
faulty_server.py (the server that answers wrongly on purpose), which imports them from here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import stat
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from aiohttp import WSMsgType, web

Fanout = Callable[[str], Awaitable[None]]


async def open_ws(request: web.Request) -> web.WebSocketResponse:
    """The server side of a WebSocket: no compression, no message size limit."""
    ws = web.WebSocketResponse(compress=False, max_msg_size=0)
    await ws.prepare(request)
    return ws


async def echo(request: web.Request) -> web.WebSocketResponse:
    """Echo every text and binary frame, in order."""
    ws = await open_ws(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def broadcast_route(request: web.Request, subscribers: list[web.WebSocketResponse],
                          fanout: Fanout) -> web.StreamResponse:
    """POST: fan the body out; GET: a subscriber, each of whose text frames is fanned out."""
    if request.method == "POST":
        await fanout(await request.text())
        return web.Response(status=204)
    ws = await open_ws(request)
    subscribers.append(ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await fanout(msg.data)
    finally:
        subscribers.remove(ws)
    return ws


async def serve(app: web.Application, *, max_seconds: float, port: int = 0, backlog: int = 128,
                beside: Iterable[Coroutine[Any, Any, None]] = ()) -> None:
    """Serve ``app`` on 127.0.0.1, print "PORT <n>", run the ``beside`` coroutines, and stop when
    stdin (a pipe) closes or after ``max_seconds``."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=backlog)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    running = [asyncio.ensure_future(task) for task in beside]  # referenced while serving
    loop = asyncio.get_running_loop()
    stdin_closed = asyncio.Event()
    fd = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(fd, 4096):
            stdin_closed.set()

    if stat.S_ISFIFO(os.fstat(fd).st_mode):  # a pipe: its end is the signal to stop
        loop.add_reader(fd, on_stdin)
    try:
        await asyncio.wait_for(stdin_closed.wait(), max_seconds)
    except asyncio.TimeoutError:
        pass
    for task in running:
        task.cancel()
    await runner.cleanup()


def build_app(args: argparse.Namespace) -> web.Application:
    app = web.Application()
    subscribers: list[web.WebSocketResponse] = []
    counter = {"n": 0}
    rng = random.Random(1234)

    async def echo_slow_first(request: web.Request) -> web.WebSocketResponse:
        """Echo, but the first reply comes after --slow-first-ms (the rest wait behind it)."""
        ws = await open_ws(request)
        first = True
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if first:
                    first = False
                    await asyncio.sleep(args.slow_first_ms / 1000)
                await ws.send_str(msg.data)
        return ws

    async def fanout(text: str) -> None:
        counter["n"] += 1
        n = counter["n"]
        for i, ws in enumerate(list(subscribers)):
            if ws.closed:
                continue
            if i == 0 and args.drop_every and n % args.drop_every == 0:
                continue
            try:
                await ws.send_str(text)
                if i == 0 and args.dup_every and n % args.dup_every == 0:
                    await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                pass

    async def broadcast(request: web.Request) -> web.StreamResponse:
        return await broadcast_route(request, subscribers, fanout)

    async def silent(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    async def close(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for _ in ws:
            await ws.close()
        return ws

    handled: list[float] = []

    async def delay(request: web.Request) -> web.Response:
        t0 = time.perf_counter()
        lo, hi = args.delay
        await asyncio.sleep(rng.uniform(lo, hi) / 1000)
        handled.append(time.perf_counter() - t0)
        return web.Response(text="ok")

    async def delay_stats(request: web.Request) -> web.Response:
        """The delays actually served (seconds), as JSON: the truth the client is checked by."""
        return web.json_response(handled)

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/ws/echo", echo)
    app.router.add_route("*", "/ws/broadcast", broadcast)
    app.router.add_get("/ws/echo-slow-first", echo_slow_first)
    app.router.add_get("/ws/silent", silent)
    app.router.add_get("/ws/close", close)
    app.router.add_get("/delay", delay)
    app.router.add_get("/delay/stats", delay_stats)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/health", health)
    return app


async def staller(every: float, ms: float) -> None:
    while True:
        await asyncio.sleep(every)
        time.sleep(ms / 1000)  # freezes the whole server, on purpose


async def main(args: argparse.Namespace) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:  # one file per connection: let the idle bench hold 10,000 of them
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    beside = [staller(args.stall_every, args.stall_ms)] if args.stall_every else []
    await serve(build_app(args), max_seconds=args.max_seconds, port=args.port, backlog=4096,
                beside=beside)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--stall-every", type=float, default=0.0)
    p.add_argument("--stall-ms", type=float, default=200.0)
    p.add_argument("--drop-every", type=int, default=0)
    p.add_argument("--dup-every", type=int, default=0)
    p.add_argument("--slow-first-ms", type=float, default=1000.0)
    p.add_argument("--delay", default="uniform:5:25")
    p.add_argument("--max-seconds", type=float, default=600.0)
    args = p.parse_args(argv)
    kind, lo, hi = args.delay.split(":")
    if kind != "uniform":
        p.error(f"--delay {args.delay!r}: expected uniform:LO:HI (milliseconds)")
    args.delay = (float(lo), float(hi))
    return args


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parse()))
