"""An aiohttp server that answers wrongly on purpose, for the load engine's correctness checks
(127.0.0.1 only). Prints "PORT <n>" once listening; exits when stdin closes or after
--max-seconds. Serving, echo and broadcast are ws_server.py's (next to this file).

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

from aiohttp import WSMsgType, web
from ws_server import broadcast_route, echo, open_ws, serve  # this script's folder is on sys.path


def build_app() -> web.Application:
    app = web.Application()
    subscribers: list[web.WebSocketResponse] = []
    accepted: dict[str, int] = {}
    posted = {"n": 0}

    def over_limit(request: web.Request) -> bool:
        limit = int(request.query.get("n", "1000000"))
        key = request.path
        accepted[key] = accepted.get(key, 0) + 1
        return accepted[key] > limit

    async def echo_with(request: web.Request, reply: object) -> web.WebSocketResponse:
        ws = await open_ws(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                out = reply(msg.data)  # type: ignore[operator]
                if out is not None:
                    await ws.send_str(out)
        return ws

    async def truncated(request: web.Request) -> web.WebSocketResponse:
        return await echo_with(request, lambda text: text[:16])

    async def greeting(request: web.Request) -> web.WebSocketResponse:
        ws = await open_ws(request)
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
        ws = await open_ws(request)
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

    async def broadcast(request: web.Request) -> web.StreamResponse:
        return await broadcast_route(request, subscribers, fanout)

    async def broadcast_close_first(request: web.Request) -> web.StreamResponse:
        over_limit(request)
        ws = await open_ws(request)
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
        return await broadcast(request)

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=300)
    asyncio.run(serve(build_app(), max_seconds=parser.parse_args().max_seconds))
