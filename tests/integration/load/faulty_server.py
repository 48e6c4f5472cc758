"""An aiohttp server that answers wrongly on purpose, for the load engine's correctness checks
(127.0.0.1 only). Prints "PORT <n>" once listening; exits when stdin closes or after
--max-seconds.

  GET  /ws/echo                plain echo
  GET  /ws/echo-truncated      echo cut to 16 characters
  GET  /ws/echo-greeting       a Socket.IO-like open frame ``0{"sid": ...}`` first, then echo
  GET  /ws/echo-drop?every=N   echo that never answers every Nth message of a connection
  GET  /ws/echo-limited?n=N    echo, but handshakes beyond the first N connections get 503
  GET  /ws/echo-close-first?after=N  the first connection is closed after N echoes
  GET  /ws/broadcast           fan-out of every text frame to every connection
  POST /ws/broadcast           fan-out of the body
  GET  /ws/broadcast-limited?n=N  broadcast subscriber; beyond the first N: 503
  POST /ws/broadcast-altered?every=N  fan-out, every Nth message with its padding cut short
  GET  /ws/broadcast-close-first?after=N  broadcast subscriber; the first one is closed by the
                               server after N messages
  GET  /json/{name}            JSON documents: ok -> {"ok": true, "user": {"id": 7}},
                               wrong -> {"ok": false, "user": {"id": 8}}
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys

from aiohttp import WSMsgType, web


def build_app() -> web.Application:
    app = web.Application()
    subscribers: list[web.WebSocketResponse] = []
    accepted: dict[str, int] = {}
    posted = {"n": 0}

    async def prepare(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        return ws

    def over_limit(request: web.Request) -> bool:
        limit = int(request.query.get("n", "1000000"))
        key = request.path
        accepted[key] = accepted.get(key, 0) + 1
        return accepted[key] > limit

    async def echo_with(request: web.Request, reply: object) -> web.WebSocketResponse:
        ws = await prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                out = reply(msg.data)  # type: ignore[operator]
                if out is not None:
                    await ws.send_str(out)
        return ws

    async def echo(request: web.Request) -> web.WebSocketResponse:
        return await echo_with(request, lambda text: text)

    async def truncated(request: web.Request) -> web.WebSocketResponse:
        return await echo_with(request, lambda text: text[:16])

    async def greeting(request: web.Request) -> web.WebSocketResponse:
        ws = await prepare(request)
        await ws.send_str('0{"sid":"AbCdEf","upgrades":[],"pingInterval":25000}')
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    async def drop(request: web.Request) -> web.WebSocketResponse:
        every = int(request.query["every"])
        seen = {"n": 0}

        def reply(text: str) -> str | None:
            seen["n"] += 1
            return None if seen["n"] % every == 0 else text

        return await echo_with(request, reply)

    async def limited(request: web.Request) -> web.StreamResponse:
        if over_limit(request):
            return web.Response(status=503, text="too many connections")
        return await echo(request)

    async def close_first(request: web.Request) -> web.WebSocketResponse:
        first = not over_limit(request) and accepted[request.path] == 1
        after = int(request.query["after"])
        ws = await prepare(request)
        n = 0
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                n += 1
                if first and n > after:
                    await ws.close()
                    break
                await ws.send_str(msg.data)
        return ws

    budgets: dict[int, int] = {}  # id(ws) -> messages left before the server closes it

    async def fanout(text: str) -> None:
        for ws in list(subscribers):
            if not ws.closed:
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    pass
                left = budgets.get(id(ws))
                if left is not None:
                    budgets[id(ws)] = left - 1
                    if left <= 1:
                        await ws.close()

    async def subscriber(request: web.Request) -> web.WebSocketResponse:
        ws = await prepare(request)
        subscribers.append(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await fanout(msg.data)
        finally:
            subscribers.remove(ws)
        return ws

    async def broadcast(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            await fanout(await request.text())
            return web.Response(status=204)
        return await subscriber(request)

    async def broadcast_close_first(request: web.Request) -> web.StreamResponse:
        over_limit(request)
        ws = await prepare(request)
        if accepted[request.path] == 1:
            budgets[id(ws)] = int(request.query["after"])
        subscribers.append(ws)
        try:
            async for _ in ws:
                pass
        finally:
            subscribers.remove(ws)
            budgets.pop(id(ws), None)
        return ws

    async def broadcast_limited(request: web.Request) -> web.StreamResponse:
        if over_limit(request):
            return web.Response(status=503, text="too many subscribers")
        return await subscriber(request)

    async def broadcast_altered(request: web.Request) -> web.Response:
        every = int(request.query["every"])
        text = await request.text()
        posted["n"] += 1
        if posted["n"] % every == 0:
            text = text.replace("xxxx", "", 1)  # four characters of padding lost
        await fanout(text)
        return web.Response(status=204)

    async def json_doc(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "ok":
            return web.json_response({"ok": True, "user": {"id": 7}})
        return web.json_response({"ok": False, "user": {"id": 8}})

    app.router.add_get("/ws/echo", echo)
    app.router.add_get("/ws/echo-truncated", truncated)
    app.router.add_get("/ws/echo-greeting", greeting)
    app.router.add_get("/ws/echo-drop", drop)
    app.router.add_get("/ws/echo-limited", limited)
    app.router.add_get("/ws/echo-close-first", close_first)
    app.router.add_route("*", "/ws/broadcast", broadcast)
    app.router.add_get("/ws/broadcast-limited", broadcast_limited)
    app.router.add_get("/ws/broadcast-close-first", broadcast_close_first)
    app.router.add_post("/ws/broadcast-altered", broadcast_altered)
    app.router.add_get("/json/{name}", json_doc)
    return app


async def main(max_seconds: float) -> None:
    runner = web.AppRunner(build_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = asyncio.Event()
    fd = sys.stdin.fileno()
    if stat.S_ISFIFO(os.fstat(fd).st_mode):  # a pipe: its end is the signal to stop
        def on_stdin() -> None:
            if not os.read(fd, 4096):  # end of file: the parent closed the pipe
                stdin_closed.set()

        loop.add_reader(fd, on_stdin)
    try:
        await asyncio.wait_for(stdin_closed.wait(), max_seconds)
    except asyncio.TimeoutError:
        pass
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=300)
    asyncio.run(main(parser.parse_args().max_seconds))
