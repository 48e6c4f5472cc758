"""WebSocket connection failures under load: many subscribed clients, connections reset at
random through a fault proxy; each client reconnects and resumes its subscription.

One run serves the module's four tests, one criterion each: no client misses a message the
server acknowledged, none gets a message twice after resuming, the time to reconnect and catch
up (p95), and the live delivery time (p99).

Server contract (fixtures/refapp/topics.py, docs/refapp.md "Topics"): a message published to a
topic (``POST /api/topics/{topic}/messages``, answered 201 with its sequence number once
stored) goes to every subscriber of ``/ws/topics``; a client that subscribes again with
``after`` = the last sequence number it saw gets every later message from the replay buffer,
then the live ones, each once and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import secrets
import time
from collections import Counter
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.results.metrics import LoadResult
from pytest_roo.settings import Settings
from pytest_roo.target import Target
from suites.logs import fanout_roles
from suites.reconnect.sizes import RECONNECT, ReconnectSizes
from suites.resets import ResetBursts

#: A client waits this long (uniformly at random, so that the clients of one burst do not
#: come back at the same instant) before it reconnects.
BACKOFF = (0.02, 0.08)
#: After the last publish, how long clients may take to get the last messages.
DRAIN = 5.0
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> ReconnectSizes:
    """The reconnect suite's sizes for ``--roo-profile`` (suites/reconnect/sizes.py)."""
    return roo_sizes(RECONNECT)


class Topic:
    """Shared state of the run: what the server acknowledged, what each client got."""

    def __init__(self, clients: int, rate: float, seconds: float) -> None:
        self.name = "resume-" + secrets.token_hex(4)
        self.clients = clients
        self.rate = rate
        self.seconds = seconds
        self.ready = 0
        self.all_ready: asyncio.Event | None = None
        self.done: asyncio.Event | None = None
        self.done_at = 0.0
        self.acked: set[int] = set()  # sequence numbers of the messages answered 201
        self.got: list[set[int]] = [set() for _ in range(clients)]
        self.duplicates = [0] * clients
        self.gaps = [0] * clients

    def events(self) -> tuple[asyncio.Event, asyncio.Event]:
        # made inside the run's event loop, by the first user that needs them
        if self.all_ready is None or self.done is None:
            self.all_ready, self.done = asyncio.Event(), asyncio.Event()
        return self.all_ready, self.done


@dataclasses.dataclass
class ReconnectRun:
    """The run (``reconnect``, ``delivery``, ``catchup`` metrics) and the two census results
    the correctness tests judge."""

    result: LoadResult
    lost: LoadResult
    duplicates: LoadResult


def _proxy(settings: Settings, upstream: str) -> Any:
    """The fault proxy the ``fault_proxy`` fixture would make (a module needs its own)."""
    toxiproxy = getattr(settings, "toxiproxy", None)
    name = f"reconnect-{secrets.token_hex(3)}"  # unique on a Toxiproxy server shared by workers
    if toxiproxy:
        from pytest_roo.faults.toxiproxy import ToxiproxyProxy

        return ToxiproxyProxy(toxiproxy, upstream, name=name)
    from pytest_roo.faults.local import LocalProxy

    return LocalProxy(upstream, name=name)


@pytest.fixture(scope="module")
def outage_run(target: Target, sizes: ReconnectSizes,
               roo_settings: Settings) -> ReconnectRun:
    """One run of ``sizes.clients`` resuming subscribers under reset bursts."""
    import aiohttp

    from pytest_roo.load.ws import WsSwarm

    topic = Topic(sizes.clients, sizes.rate, sizes.duration)
    proxy = _proxy(roo_settings, target.url())
    net = target.through(proxy)
    ws_url = net.ws_url("/ws/topics")
    publish_url = target.url(f"/api/topics/{topic.name}/messages")  # the publisher is not cut

    async def subscriber(session: Any) -> None:
        all_ready, done = topic.events()
        got = topic.got[session.vu]
        last: int | None = None
        dropped_at: float | None = None
        first = True

        def caught_up() -> bool:
            if not done.is_set():
                return False
            return topic.acked <= got or time.monotonic() - topic.done_at > DRAIN

        def take(event: dict[str, Any], live: bool) -> None:
            nonlocal last
            seq = int(event["seq"])
            if seq in got:
                topic.duplicates[session.vu] += 1
                return
            got.add(seq)
            last = seq if last is None else max(last, seq)
            data = event.get("data") or {}
            if isinstance(data, dict) and "t" in data:
                age = (time.perf_counter_ns() - int(data["t"])) / 1e9
                session.record("delivery" if live else "catchup", age)

        while not caught_up():
            try:
                ws = await asyncio.wait_for(session.http.ws_connect(ws_url, autoping=True),
                                            TIMEOUT)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                session.count("connect_failed")
                await asyncio.sleep(random.uniform(*BACKOFF))
                continue
            try:
                await ws.send_str(json.dumps({"type": "subscribe", "topic": topic.name,
                                              "after": last}))
                subscribed = False
                while not caught_up():
                    try:
                        msg = await ws.receive(timeout=0.25)
                    except asyncio.TimeoutError:
                        continue
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    event = json.loads(msg.data)
                    kind = event.get("type")
                    if kind == "message":
                        take(event, live=subscribed)
                    elif kind == "subscribed":
                        subscribed = True
                        if event.get("gap"):
                            topic.gaps[session.vu] += 1
                        if last is None:
                            last = int(event["seq"])
                        if dropped_at is not None:
                            session.record("reconnect", time.monotonic() - dropped_at)
                            session.count("resumed")
                            dropped_at = None
                        if first:
                            first = False
                            topic.ready += 1
                            if topic.ready == topic.clients:
                                all_ready.set()
                    elif kind == "error":
                        session.error("protocol")
                        return
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 1.0)
            if caught_up():
                break
            if dropped_at is None:  # the connection was cut (or never confirmed)
                dropped_at = time.monotonic()
                session.count("dropped")
            await asyncio.sleep(random.uniform(*BACKOFF))

    async def publisher(session: Any) -> None:
        all_ready, done = topic.events()
        try:
            await asyncio.wait_for(all_ready.wait(), TIMEOUT * 3)
        except asyncio.TimeoutError:
            session.error("timeout")
            session.count("subscribers_not_ready", topic.clients - topic.ready)
            topic.done_at = time.monotonic()
            done.set()
            return
        start = time.perf_counter_ns() + 50_000_000
        total = int(topic.rate * topic.seconds)

        async def publish(k: int, intended: int) -> None:
            try:
                body = await session.request("POST", publish_url, name="publish",
                                             json={"k": k, "t": intended})
            except Exception:
                return  # counted by session.request: not acknowledged
            topic.acked.add(int(json.loads(body)["seq"]))

        tasks = []
        for k in range(total):
            intended = start + int(k / topic.rate * 1e9)
            await asyncio.sleep(max(0.0, (intended - time.perf_counter_ns()) / 1e9))
            tasks.append(asyncio.ensure_future(publish(k, intended)))
        await asyncio.gather(*tasks)
        session.count("published", len(topic.acked))
        topic.done_at = time.monotonic()
        done.set()

    role = fanout_roles(topic.clients, subscriber, publisher)

    swarm = WsSwarm(max_generator_cpu=roo_settings.max_generator_cpu)
    bursts = ResetBursts(proxy, share=sizes.reset_share, every=sizes.reset_every,
                         window=sizes.reset_window, duration=sizes.duration + 1)
    try:
        with bursts:
            result = swarm.run(role, clients=topic.clients + 1, duration=sizes.duration + 1,
                               primary="delivery", name="reconnect.topics",
                               timeout=TIMEOUT + DRAIN)
    finally:
        proxy.close()
    result.info["reset_bursts"] = bursts.describe()
    result.info["topic"] = topic.name
    return ReconnectRun(result, *_census(topic, result))


def _census(topic: Topic, result: LoadResult) -> tuple[LoadResult, LoadResult]:
    """Every client's every acknowledged message, counted (not sampled)."""
    acked = len(topic.acked)
    lost_per_client = [len(topic.acked - got) for got in topic.got]
    lost = LoadResult(name="reconnect.acknowledged", started_at=result.started_at,
                      duration=result.duration, operations=acked * topic.clients,
                      errors=Counter(lost=sum(lost_per_client)))
    lost.counters.update(acknowledged=acked, clients=topic.clients,
                         clients_with_loss=sum(1 for n in lost_per_client if n),
                         resumes_with_gap=sum(topic.gaps))
    lost.info.update(census=True, lost_per_client={
        i: n for i, n in enumerate(lost_per_client) if n})
    received = sum(len(got) for got in topic.got) + sum(topic.duplicates)
    duplicates = LoadResult(name="reconnect.received", started_at=result.started_at,
                            duration=result.duration, operations=received,
                            errors=Counter(duplicate=sum(topic.duplicates)))
    duplicates.counters.update(clients=topic.clients, clients_with_duplicates=sum(
        1 for n in topic.duplicates if n))
    duplicates.info.update(census=True)
    for census in (lost, duplicates):
        census.counters["resumed"] = result.counters.get("resumed", 0)
    return lost, duplicates


@pytest.mark.slo("errors == 0")
def test_no_acknowledged_message_is_lost(outage_run: ReconnectRun, roo_record: Any) -> None:
    """Every message the server acknowledged (publish answered 201) reached every client,
    across its resets and resumes: ``lost`` counts, per client, the acknowledged sequence
    numbers it never got."""
    roo_record(outage_run.lost)
    assert outage_run.lost.counters["resumed"] > 0, "no client was reset: nothing was proven"


@pytest.mark.slo("errors == 0")
def test_no_message_twice_after_resume(outage_run: ReconnectRun, roo_record: Any) -> None:
    """A resumed subscription replays only what the client missed: a sequence number a client
    receives a second time is a ``duplicate``."""
    roo_record(outage_run.duplicates)
    assert outage_run.duplicates.counters["resumed"] > 0, "no client was reset"


@pytest.mark.slo("reconnect.p95 < 1s")
def test_reconnect_and_catch_up_time(outage_run: ReconnectRun, roo_record: Any) -> None:
    """``reconnect``: from the client noticing its connection was cut to the confirmation of
    its resumed subscription, every missed message received (the back-off of 20-80 ms,
    failed attempts, the handshake and the replay included)."""
    roo_record(outage_run.result)


@pytest.mark.slo("delivery.p99 < 250ms")
def test_live_delivery_under_resets(outage_run: ReconnectRun, roo_record: Any) -> None:
    """``delivery``: a message's scheduled publish -> its arrival at a subscribed client, for
    every live message of every client while others are being reset (messages caught up
    after a reset are the ``catchup`` metric, recorded, not judged)."""
    roo_record(outage_run.result)
