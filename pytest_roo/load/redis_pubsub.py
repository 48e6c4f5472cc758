"""Redis pub/sub fan-out: subscribers confirmed before the first PUBLISH, every delivery timed
from the intended publish time and checked (``lost``, ``duplicate``, ``mismatch``)."""

from __future__ import annotations

import asyncio
import math
import time
import zlib
from array import array
from collections.abc import Callable
from typing import Any

from pytest_roo.load.executor import EARLY_NS, begin, is_counted, sleep_until
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.redis_client import (
    classify_redis,
    close,
    close_pubsub,
    confirm,
    connect,
    error_text,
)
from pytest_roo.load.workload import Workload

__all__ = ["pubsub_body", "pubsub_finish"]


def pubsub_finish(state: dict[str, Any], run_id: str) -> Callable[[Recorder], None]:
    """Once the run is over: count what a subscriber never received as ``lost``."""

    def finish(rec: Recorder) -> None:
        subs: list[dict[str, Any]] = state.get("subscribers", [])
        published: int = state.get("published", 0)
        ok: bytearray = state.get("published_ok", bytearray())
        lost = 0
        for sub in subs:
            seen: bytearray = sub["seen"]
            for seq in range(min(published, sub["last"])):
                if ok[seq] and (seq >= len(seen) or not seen[seq]):
                    lost += 1
        if lost:
            rec.error("lost", lost)
            rec.count("lost", lost)
        rec.result.counters["published"] = published
        rec.result.counters["subscribers"] = len(subs)
        rec.result.info["run_id"] = run_id

    return finish


async def pubsub_body(url: str, rec: Recorder, channel: str, wl: Workload, timeout: float,
                      run_id: str, state: dict[str, Any]) -> None:
    """Subscribe ``wl.clients`` connections, then publish on ``wl``'s schedule until the end
    and wait (up to ``timeout``) for the last deliveries; ``state`` keeps what
    :func:`pubsub_finish` needs."""
    from pytest_roo.load.ws_client import TOKEN_RE, make_payload

    schedule = wl.schedule()
    intended: list[int] = []  # perf_counter_ns of each message's intended publish time
    crcs = array("L")  # crc32 of each published body: the subscribers check what arrives
    published_ok = bytearray()
    subscribers: list[dict[str, Any]] = []
    state.update(subscribers=subscribers, published=0, published_ok=published_ok)
    pc = time.perf_counter_ns
    finder = TOKEN_RE.search
    crc32 = zlib.crc32
    buf = rec.batch("delivery")
    channel_bytes = channel.encode()
    sem = asyncio.Semaphore(256)

    async def subscribe(i: int) -> tuple[Any, Any] | None:
        async with sem:
            if rec.stopping:
                return None
            try:
                # no socket timeout: a quiet channel is no error, the run ends the readers
                client = await connect(url, rec, timeout, socket_timeout=0)
            except Exception:
                rec.ops += 1
                return None
            pubsub = client.pubsub()
            try:
                await asyncio.wait_for(pubsub.subscribe(channel), timeout)
                # redis-py sends SUBSCRIBE without reading the reply: read it here, so no
                # message is published before this subscriber is really listening.
                confirmed = await asyncio.wait_for(confirm(pubsub), timeout)
                if not confirmed:
                    raise ConnectionError("no subscribe confirmation")
            except Exception as exc:
                if not is_counted(exc):
                    rec.error(classify_redis(exc))
                    rec.result.info.setdefault("first_error", error_text(exc))
                rec.ops += 1
                await close_pubsub(pubsub, client)
                return None
            return client, pubsub

    pairs = await asyncio.gather(*(subscribe(i) for i in range(wl.clients)))
    live = [p for p in pairs if p is not None]
    publisher = None
    if not rec.stopping:
        try:
            publisher = await connect(url, rec, timeout)
        except Exception:
            rec.stop("the publisher could not connect")
    if publisher is not None and live:
        # the server's own count: every confirmed subscriber is registered
        try:
            numsub = await asyncio.wait_for(
                publisher.execute_command("PUBSUB", "NUMSUB", channel), timeout)
            rec.result.counters["numsub_at_start"] = int(numsub[1])
        except Exception as exc:
            rec.error(classify_redis(exc))
            rec.stop("PUBSUB NUMSUB failed")

    async def reader(pubsub: Any, sub: dict[str, Any]) -> None:
        seen: bytearray = sub["seen"]
        get = pubsub.get_message
        # no timer per message: the run cancels the readers when it is over
        while not rec.stopping:
            try:
                msg = await get(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                rec.error(classify_redis(exc))
                sub["last"] = state["published"]
                return
            if msg is None or msg.get("type") != "message":
                continue
            now = pc()
            data = msg["data"]
            if msg.get("channel") != channel_bytes:
                continue
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            match = finder(text)
            if match is None or match.group(1) != run_id:
                continue  # another run's or another publisher's message
            seq = int(match.group(2))
            if seq >= len(intended):
                rec.error("protocol")
                continue
            raw = data if isinstance(data, bytes) else text.encode()
            if crc32(raw) != crcs[seq]:
                # a wrong body under a right token: an error of its own, and not a
                # delivery (the right copy, if it comes, still counts)
                rec.error("mismatch")
                rec.count("mismatch")
                rec.result.info.setdefault("first_mismatch", f"seq {seq}: {text[:120]!r}")
                continue
            if seq >= len(seen):
                seen.extend(bytes(seq + 1024 - len(seen)))
            if seen[seq]:
                rec.error("duplicate")
                rec.count("duplicate")
                continue
            seen[seq] = 1
            buf.append((now - intended[seq]) // 1000)

    readers: list[asyncio.Future[Any]] = []
    for _, pubsub in live:
        sub: dict[str, Any] = {"seen": bytearray(), "last": 1 << 62}
        subscribers.append(sub)
        readers.append(asyncio.ensure_future(reader(pubsub, sub)))
    begin(rec, wl.duration)
    start_ns = int(rec.window_start * 1e9)
    deadline_ns = int(rec.deadline * 1e9)
    epoch_offset = time.time_ns() - pc()
    n_live = len(subscribers)
    publish_buf = rec.batch("publish")
    counters = rec.result.counters
    try:
        seq = 0
        while publisher is not None and n_live and not rec.stopping:
            t = schedule.time_of(seq)
            if math.isinf(t):
                break
            due = start_ns + int(t * 1e9)
            if due >= deadline_ns:
                break
            if due > pc() + EARLY_NS and not await sleep_until(rec, due):
                break
            now = pc()
            start = due if due <= now else now  # an early publish: from its start
            payload = make_payload(run_id, seq, wl.message_size, due + epoch_offset).encode()
            intended.append(start)
            crcs.append(crc32(payload))
            published_ok.append(1)
            state["published"] = seq + 1
            rec.ops += n_live
            try:
                receivers = await asyncio.wait_for(
                    publisher.execute_command("PUBLISH", channel, payload), timeout)
            except Exception as exc:
                published_ok[seq] = 0
                rec.error(classify_redis(exc))
                rec.count("publish_failed")
            else:
                publish_buf.append((pc() - now) // 1000)
                counters["receivers"] += int(receivers)
            seq += 1
        # grace: until every subscriber has every message, or the delivery timeout
        end = pc() + int(timeout * 1e9)
        want = sum(published_ok)
        while not rec.stopping and pc() < end and subscribers:
            if all(sum(sub["seen"]) >= want for sub in subscribers):
                break
            await asyncio.sleep(0.05)
    finally:
        for task in readers:
            task.cancel()
        if readers:
            await asyncio.wait(readers, timeout=1.0)
        await asyncio.gather(*(close_pubsub(p, c) for c, p in live),
                             return_exceptions=True)
        if publisher is not None:
            await close(publisher)
