"""Device relay under network conditions: commands reach devices exactly once and in order
through a named network profile (latency with jitter, bandwidth caps) with bursts of
connection resets, the clients retrying; the time to a confirmed ack per profile.

The devices' WebSockets and the operators' API calls both go through one fault proxy
(``target.through(proxy)``) carrying the profile's toxics (docs/faults.md, "Network profiles")
plus reset bursts (suites/resets.py). Relay contract (fixtures/refapp/relay.py): a command
carries the operator's ``key``; an enqueue retried after a lost answer stores nothing new; a
device gets its unacknowledged commands again on reconnect, in the order they were stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from typing import Any

import pytest

from pytest_roo.faults.profiles import get_profile
from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites import client
from suites.network.sizes import NETWORK, NetworkSizes
from suites.resets import ResetBursts

#: The profiles the suite judges (pytest_roo.faults.PROFILES): a mobile network with a
#: bandwidth cap, and a lossy Wi-Fi whose own resets come on top of the bursts.
JUDGED = ("3g", "lossy-wifi")
#: The server's and this shared machine's own time within the 95 %.
SERVER_MS = 300
BACKOFF = 0.05
OWNERS = 4


def ack_limit_ms(name: str) -> int:
    """The ack p95 limit of a profile: 4 round trips + 8 jitters + :data:`SERVER_MS`, plus the
    profile's own reset stall when it has one.

    A command crosses the network four times one way (enqueue up, push down, ack up,
    confirmation down: two round trips). With reset bursts, more than 5 % of the commands are
    hit by a reset, so the p95 is one of them: half a round trip travelled before the reset,
    the client's back-off (50 ms), a new connection (one round trip), the backlog's push, ack
    and confirmation (one and a half): 3.5 round trips and 7 legs of jitter, rounded up. A
    profile that resets a share of its connections after a stall (lossy-wifi: 5 % after 3 s)
    stalls every command on such a connection that long; every reconnect draws again, so with
    the bursts' reconnects more than 5 % of the commands meet one."""
    profile = get_profile(name)
    stall = profile.reset_after_ms if profile.reset_share else 0
    return 4 * profile.rtt_ms + 8 * profile.jitter_ms + SERVER_MS + stall


def judged(name: str) -> Any:
    return pytest.param(name, id=name, marks=pytest.mark.slo(
        "errors == 0", f"ack.p95 < {ack_limit_ms(name)}ms"))


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> NetworkSizes:
    """The network suite's sizes for ``--roo-profile`` (suites/network/sizes.py)."""
    return roo_sizes(NETWORK)


def devices(target: Target, n: int) -> tuple[list[client.User], list[tuple[int, str, int]]]:
    """``n`` devices over a few owners: (device id, device token, owner index)."""

    async def make() -> tuple[list[client.User], list[tuple[int, str, int]]]:
        async with client.session() as http:
            owners = await client.new_users(http, target.base_url, OWNERS, prefix="net")
            made = []
            for i in range(n):
                dev_id, token = await client.new_device(http, target.base_url,
                                                        owners[i % OWNERS], f"device-{i}")
                made.append((dev_id, token, i % OWNERS))
            return owners, made

    return client.run(make)


class Ledger:
    """What the operators had acknowledged and what the devices did, shared by the run."""

    def __init__(self, n: int, seconds: float, drain: float) -> None:
        self.run_id = secrets.token_hex(4)
        self.seconds = seconds
        self.drain = drain
        self.sent_at: dict[str, int] = {}  # key -> first attempt (perf_counter_ns)
        self.stored: list[set[str]] = [set() for _ in range(n)]  # answered 200/201
        self.operators_done = [False] * n
        self.start: float | None = None

    def deadline(self) -> float:
        assert self.start is not None
        return self.start + self.seconds + self.drain


@pytest.mark.parametrize("network", [judged(name) for name in JUDGED])
def test_commands_exactly_once_in_order(network: str, ws_swarm: Any, fault_proxy: Any,
                                        target: Target, sizes: NetworkSizes) -> None:
    """Each device holds ``/ws/device`` through the network; its operator enqueues commands
    for it at a steady pace (``POST /api/devices/{id}/commands`` with a key), not waiting for
    the previous one's ack, and retries an enqueue whose answer was lost with the same key.
    The device executes each key once and acks it; ``ack``: first enqueue attempt ->
    the device has the server's confirmation of its ack. ``duplicate``: a key delivered
    again under another command id; ``out_of_order``: a command older than one already
    executed; ``lost``: a command the API acknowledged that no device executed."""
    import aiohttp

    owners, devs = devices(target, sizes.devices)
    proxy = fault_proxy(target.url())
    proxy.profile(network)
    net = target.through(proxy)
    profile = get_profile(network)
    ledger = Ledger(sizes.devices, sizes.duration,
                    drain=6.0 + 6 * profile.rtt_ms / 1000 + profile.reset_after_ms / 1000)
    interval = sizes.devices / sizes.rate
    request_timeout = aiohttp.ClientTimeout(total=5.0 + 2 * profile.rtt_ms / 1000
                                            + profile.reset_after_ms / 1000)

    async def operator(session: Any) -> None:
        dev_id, _, owner = devs[session.vu]
        url = net.url(f"/api/devices/{dev_id}/commands")
        start = time.monotonic() + interval * session.vu / sizes.devices
        n = 0
        while True:
            n += 1
            due = start + (n - 1) * interval
            if due >= ledger.start + ledger.seconds:  # type: ignore[operator]
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            key = f"{ledger.run_id}-{session.vu}-{n}"
            ledger.sent_at[key] = time.perf_counter_ns()
            if await enqueue(session, url, owners[owner].auth, key, n):
                ledger.stored[session.vu].add(key)
        ledger.operators_done[session.vu] = True

    async def enqueue(session: Any, url: str, headers: dict[str, str], key: str,
                      n: int) -> bool:
        body = {"payload": {"key": key, "n": n}, "key": key}
        give_up = time.monotonic() + 15.0
        attempts = 0
        while time.monotonic() < give_up:
            attempts += 1
            try:
                async with session.http.post(url, json=body, headers=headers,
                                             timeout=request_timeout) as resp:
                    answer = await resp.json(content_type=None)
                    status = resp.status
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
                session.count("enqueue_retried")  # reset, or the answer cut: send it again
                await asyncio.sleep(BACKOFF)
                continue
            if status in (200, 201):
                session.count("enqueued")
                if answer.get("duplicate"):
                    session.count("retry_found_stored")  # the retry the key made harmless
                return True
            if status < 500:
                session.error("http_4xx")
                return False
            await asyncio.sleep(BACKOFF)
        session.error("enqueue_failed")
        return False

    async def device(session: Any) -> None:
        _, token, _ = devs[session.vu]
        url = net.ws_url(f"/ws/device?token={token}")
        executed: dict[str, int] = {}  # key -> command id
        key_of: dict[int, str] = {}
        confirmed: set[str] = set()
        newest = 0
        connects = 0

        def finished() -> bool:
            if time.monotonic() > ledger.deadline():
                return True
            mine = ledger.stored[session.vu]
            return bool(ledger.operators_done[session.vu] and mine <= confirmed)

        while not finished():
            try:
                ws = await asyncio.wait_for(session.http.ws_connect(url, autoping=True),
                                            request_timeout.total)
                hello = await ws.receive_json(timeout=request_timeout.total)
                if hello.get("type") != "hello":
                    raise ValueError(f"expected hello, got {hello!r}")
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError,
                    TypeError):
                session.count("device_connect_failed")
                await asyncio.sleep(BACKOFF)
                continue
            connects += 1
            try:
                # an ack whose confirmation was lost with the old connection: ack again
                # (acks are idempotent), so that the device learns it arrived
                for key, cid in executed.items():
                    if key not in confirmed:
                        await ws.send_str(json.dumps({"type": "ack", "id": cid}))
                while not finished():
                    try:
                        msg = await ws.receive(timeout=0.25)
                    except asyncio.TimeoutError:
                        continue
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        session.count("device_dropped")
                        break
                    event = json.loads(msg.data)
                    kind = event.get("type")
                    if kind == "command":
                        payload = event.get("payload") or {}
                        key, n, cid = str(payload.get("key")), int(payload.get("n", 0)), event["id"]
                        key_of[cid] = key
                        if key in executed:
                            if executed[key] != cid:  # the same key as a new command
                                session.error("duplicate")
                                session.count("duplicate")
                            else:
                                session.count("redelivered")  # not acked yet: handled once
                        else:
                            if n < newest:
                                session.error("out_of_order")
                                session.count("out_of_order")
                            executed[key] = cid
                            newest = max(newest, n)
                        await ws.send_str(json.dumps({"type": "ack", "id": cid}))
                    elif kind == "acked":
                        key = key_of.get(event.get("id"), "")
                        if key in ledger.sent_at and key not in confirmed:
                            confirmed.add(key)
                            session.record("ack", (time.perf_counter_ns()
                                                   - ledger.sent_at[key]) / 1e9)
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                session.count("device_dropped")
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 1.0)
            await asyncio.sleep(BACKOFF)
        session.count("device_connects", connects)
        mine = ledger.stored[session.vu]
        lost = len(mine - set(executed))
        if lost:
            session.error("lost", lost)
            session.count("lost", lost)
        unconfirmed = len((mine & set(executed)) - confirmed)
        if unconfirmed:  # executed, but the ack never confirmed before the deadline
            session.error("timeout", unconfirmed)
            session.count("unconfirmed", unconfirmed)

    async def role(session: Any) -> None:
        if session.iteration > 1:  # one long iteration per device; then idle until the end
            await asyncio.sleep(0.25)
            return
        if ledger.start is None:
            ledger.start = time.monotonic()
        await asyncio.gather(operator(session), device(session))

    bursts = ResetBursts(proxy, share=sizes.reset_share, every=sizes.reset_every,
                         window=sizes.reset_window, duration=sizes.duration)
    with bursts:
        # the run ends when every device is done: the enqueuing lasts sizes.duration, the
        # last deliveries and acks take at most the drain (the grace of the run's end)
        result = ws_swarm.run(role, clients=sizes.devices, duration=sizes.duration,
                              primary="ack", name=f"network.relay[{network}]",
                              timeout=ledger.drain + 5)
    result.info["network"] = {"profile": network, "rtt_ms": profile.rtt_ms,
                              "jitter_ms": profile.jitter_ms, "down_kbps": profile.down_kbps,
                              "up_kbps": profile.up_kbps, "reset_share": profile.reset_share,
                              "ack_limit_ms": ack_limit_ms(network),
                              "reset_bursts": bursts.describe()}
    stored = sum(len(keys) for keys in ledger.stored)
    result.counters["commands_stored"] = stored
    assert stored >= sizes.rate * sizes.duration * 0.8, (
        f"only {stored} commands stored of {sizes.rate * sizes.duration:.0f} scheduled")
