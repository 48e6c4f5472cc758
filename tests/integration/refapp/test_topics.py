"""Topics: numbered messages, resume after a lost connection, the replay buffer's gap, and the
fault switches that break a resume."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from fixtures.refapp.launcher import RefApp
from fixtures.refapp.topics import REPLAY_BUFFER
from tests.integration.refapp.refapp_client import (
    StartApp,
    in_session,
    receive_json,
    receive_until,
)

pytestmark = pytest.mark.integration


async def _publish(s: aiohttp.ClientSession, app: RefApp, topic: str, data: Any) -> int:
    async with s.post(app.url(f"/api/topics/{topic}/messages"), json=data) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        assert body["topic"] == topic
        return int(body["seq"])


async def _subscribe(s: aiohttp.ClientSession, app: RefApp, topic: str,
                     after: int | None = None) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """A connection subscribed to ``topic``: (ws, replayed messages, the confirmation)."""
    ws = await s.ws_connect(app.ws_url("/ws/topics"))
    msg: dict[str, Any] = {"type": "subscribe", "topic": topic}
    if after is not None:
        msg["after"] = after
    await ws.send_str(json.dumps(msg))
    replayed: list[dict[str, Any]] = []
    while True:
        event = await receive_json(ws)
        if event["type"] == "subscribed":
            return ws, replayed, event
        replayed.append(event)


async def _messages(ws: Any, n: int) -> list[dict[str, Any]]:
    return [await receive_until(ws, lambda m: m["type"] == "message") for _ in range(n)]


def test_messages_are_numbered_and_delivered_live(refapp: RefApp) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        ws, replayed, confirmed = await _subscribe(s, refapp, "news")
        assert replayed == [] and confirmed["seq"] == 0 and confirmed["gap"] is None
        seqs = [await _publish(s, refapp, "news", {"i": i}) for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        got = await _messages(ws, 5)
        assert [(m["seq"], m["data"]) for m in got] == [(i + 1, {"i": i}) for i in range(5)]
        assert all(m["topic"] == "news" and m["server_ts"] > 0 for m in got)
        # another topic has its own numbers and does not reach this subscriber
        assert await _publish(s, refapp, "other", "x") == 1
        await ws.send_str(json.dumps({"type": "ping", "t": 1}))
        assert await receive_json(ws) == {"type": "pong", "t": 1}
        await ws.close()

    in_session(scenario)


def test_resume_replays_exactly_what_was_missed(refapp: RefApp) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        ws, _, _ = await _subscribe(s, refapp, "feed")
        for i in range(3):
            await _publish(s, refapp, "feed", i)
        seen = await _messages(ws, 2)  # the client saw 1 and 2, then lost its connection
        await ws.close()
        for i in range(3, 6):
            await _publish(s, refapp, "feed", i)
        ws, replayed, confirmed = await _subscribe(s, refapp, "feed", after=seen[-1]["seq"])
        assert [m["seq"] for m in replayed] == [3, 4, 5, 6]
        assert confirmed == {"type": "subscribed", "topic": "feed", "seq": 6, "replayed": 4,
                             "gap": None}
        await _publish(s, refapp, "feed", 6)
        (live,) = await _messages(ws, 1)
        assert live["seq"] == 7
        await ws.close()

    in_session(scenario)


def test_resume_while_publishing_misses_and_repeats_nothing(refapp: RefApp) -> None:
    """Publishing never pauses while clients resume: each gets every number once, in order."""

    async def scenario(s: aiohttp.ClientSession) -> None:
        total = 300

        async def publisher() -> None:
            for i in range(total):
                await _publish(s, refapp, "busy", i)

        async def client() -> list[int]:
            got: list[int] = []
            ws, _, _ = await _subscribe(s, refapp, "busy")
            since = 0
            while not got or got[-1] < total:
                if since == 40:  # drop the connection now and then, resume
                    await ws.close()
                    ws, replayed, _ = await _subscribe(s, refapp, "busy", after=got[-1])
                    got += [m["seq"] for m in replayed]
                    since = 0
                    continue
                event = await receive_json(ws)
                if event["type"] == "message":
                    got.append(event["seq"])
                    since += 1
            await ws.close()
            return got

        clients = [asyncio.ensure_future(client()) for _ in range(3)]
        await asyncio.sleep(0.2)
        await publisher()
        for got in await asyncio.wait_for(asyncio.gather(*clients), 30):
            assert got == list(range(got[0], total + 1)), got

    in_session(scenario)


def test_a_resume_older_than_the_buffer_names_the_gap(refapp: RefApp) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        sem = asyncio.Semaphore(16)  # the app's Redis pool has 64 connections

        async def one(i: int) -> None:
            async with sem:
                await _publish(s, refapp, "long", i)

        await asyncio.gather(*(one(i) for i in range(REPLAY_BUFFER + 5)))
        ws, replayed, confirmed = await _subscribe(s, refapp, "long", after=2)
        assert len(replayed) == REPLAY_BUFFER
        assert replayed[0]["seq"] == 6 and confirmed["gap"] == [3, 5]
        await ws.close()

    in_session(scenario)


def test_bad_topic_messages_are_refused(refapp: RefApp) -> None:
    async def scenario(s: aiohttp.ClientSession) -> None:
        async with s.post(refapp.url("/api/topics/a%20b/messages"), json=1) as resp:
            assert resp.status == 404
            assert "A-Z a-z 0-9" in (await resp.json())["error"]
        async with s.post(refapp.url("/api/topics/ok/messages"), data=b"{nope") as resp:
            assert resp.status == 400
        ws = await s.ws_connect(refapp.ws_url("/ws/topics"))
        await ws.send_str(json.dumps({"type": "subscribe", "topic": "ok", "after": -1}))
        reply = await receive_json(ws)
        assert reply["type"] == "error" and "after must be" in reply["detail"]
        await ws.send_str("[1]")
        assert (await receive_json(ws))["code"] == "bad_message"
        await ws.close()

    in_session(scenario)


async def _resume_after_one(s: aiohttp.ClientSession, app: RefApp,
                            topic: str) -> tuple[list[int], dict[str, Any], float]:
    """Seen 1 of 1..4, resume: (replayed numbers, confirmation, seconds to resume)."""
    for i in range(4):
        await _publish(s, app, topic, i)
    started = time.perf_counter()
    ws, replayed, confirmed = await _subscribe(s, app, topic, after=1)
    elapsed = time.perf_counter() - started
    await ws.close()
    return [m["seq"] for m in replayed], confirmed, elapsed


def test_topic_resume_skip_leaves_out_the_first_missed(start_app: StartApp) -> None:
    app = start_app("topic_resume_skip=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        seqs, confirmed, _ = await _resume_after_one(s, app, "t")
        assert seqs == [3, 4] and confirmed["seq"] == 4 and confirmed["gap"] is None

    in_session(scenario)


def test_topic_resume_repeat_sends_the_last_seen_again(start_app: StartApp) -> None:
    app = start_app("topic_resume_repeat=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        seqs, _, _ = await _resume_after_one(s, app, "t")
        assert seqs == [1, 2, 3, 4]

    in_session(scenario)


def test_topic_resume_delay_ms_slows_the_resume(start_app: StartApp) -> None:
    app = start_app("topic_resume_delay_ms=400")

    async def scenario(s: aiohttp.ClientSession) -> None:
        seqs, _, elapsed = await _resume_after_one(s, app, "t")
        assert seqs == [2, 3, 4] and elapsed >= 0.4

    in_session(scenario)


def test_topic_delay_ms_delays_live_messages(start_app: StartApp) -> None:
    app = start_app("topic_delay_ms=300")

    async def scenario(s: aiohttp.ClientSession) -> None:
        ws, _, _ = await _subscribe(s, app, "slow")
        started = time.perf_counter()
        await _publish(s, app, "slow", "x")
        await _messages(ws, 1)
        assert time.perf_counter() - started >= 0.3
        await ws.close()

    in_session(scenario)


def test_two_processes_share_a_topics_numbers_and_buffer(start_app: StartApp) -> None:
    """Apps sharing Redis number a topic's messages together: published on one, delivered
    live and resumed on the other, in one sequence."""
    first, second = start_app(), start_app()

    async def scenario(s: aiohttp.ClientSession) -> None:
        ws, _, _ = await _subscribe(s, second, "shared")
        seqs = [await _publish(s, app, "shared", i) for i, app in enumerate([first, second] * 3)]
        assert seqs == [1, 2, 3, 4, 5, 6]
        got = await _messages(ws, 6)
        assert [m["seq"] for m in got] == seqs
        await ws.close()
        ws, replayed, _ = await _subscribe(s, first, "shared", after=4)
        assert [m["seq"] for m in replayed] == [5, 6]
        await ws.close()

    in_session(scenario)
