"""Every fault switch takes effect (and none is on by default)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fixtures.refapp.faults import SWITCHES, parse_faults
from fixtures.refapp.launcher import RefApp
from tests.integration.refapp.refapp_client import (
    Client,
    StartApp,
    in_session,
    receive_json,
    receive_until,
)

pytestmark = pytest.mark.integration


def test_no_fault_is_on_by_default(refapp: RefApp) -> None:
    assert parse_faults("").active() == {}
    assert "REFAPP_FAULTS" not in refapp.output()


async def _metric(s: aiohttp.ClientSession, app: RefApp, name: str) -> float:
    async with s.get(app.url("/metrics")) as resp:
        text = await resp.text()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def _echo_rtt(app: RefApp, s: aiohttp.ClientSession) -> float:
    async with s.ws_connect(app.ws_url("/ws/echo")) as ws:
        started = time.perf_counter()
        await ws.send_str("ping")
        await asyncio.wait_for(ws.receive(), 5)
        return time.perf_counter() - started


async def _broadcast_delays(app: RefApp, s: aiohttp.ClientSession, n: int) -> list[float | None]:
    """Per message: seconds to arrive at a listener, None if it did not come within 1 s."""
    async with s.ws_connect(app.ws_url("/ws/broadcast")) as ws:
        out: list[float | None] = []
        for i in range(n):
            started = time.perf_counter()
            async with s.post(app.url("/ws/broadcast"), data=f'{{"i": {i}}}') as resp:
                assert resp.status == 200
            try:
                msg = await asyncio.wait_for(ws.receive(), 1.0)
                assert msg.data == f'{{"i": {i}}}'
                out.append(time.perf_counter() - started)
            except asyncio.TimeoutError:
                out.append(None)
        return out


def test_echo_delay_ms(start_app: StartApp) -> None:
    app = start_app("echo_delay_ms=150")

    async def scenario(s: aiohttp.ClientSession) -> None:
        assert await _echo_rtt(app, s) >= 0.150

    in_session(scenario)


def test_broadcast_delay_ms_and_drop_messages(start_app: StartApp) -> None:
    delayed = start_app("broadcast_delay_ms=150")
    dropping = start_app("drop_messages=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        delays = await _broadcast_delays(delayed, s, 3)
        assert all(d is not None and d >= 0.150 for d in delays), delays
        assert await _broadcast_delays(dropping, s, 3) == [None, None, None]

    in_session(scenario)


def test_drop_messages_affects_log_delivery(start_app: StartApp) -> None:
    app = start_app("drop_messages=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = await Client(app.base_url, s).signup()
        dep = await c.deployment()
        ws = await c.watch_logs(dep)
        assert (await c.call("POST", f"/api/deployments/{dep}/logs", {"line": "x"}))[0] == 202
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            await receive_until(ws, lambda m: m["type"] == "log", 0.5)
        await ws.close()

    in_session(scenario)


def test_slow_queries_ms_and_pool_size(start_app: StartApp) -> None:
    app = start_app("slow_queries_ms=120,pool_size=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = await Client(app.base_url, s).signup()
        started = time.perf_counter()
        assert (await c.call("GET", "/api/deployments"))[0] == 200
        assert time.perf_counter() - started >= 0.120
        assert await _metric(s, app, "refapp_db_pool_max") == 1

    in_session(scenario)


def test_leak_kb_per_conn(start_app: StartApp) -> None:
    app = start_app("leak_kb_per_conn=256")

    async def scenario(s: aiohttp.ClientSession) -> None:
        before = await _metric(s, app, "refapp_leaked_bytes")
        for _ in range(8):
            await _echo_rtt(app, s)
        after = await _metric(s, app, "refapp_leaked_bytes")
        assert after - before == 8 * 256 * 1024

    in_session(scenario)


def test_login_fail_rate(start_app: StartApp) -> None:
    app = start_app("login_fail_rate=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = Client(app.base_url, s)
        body = {"username": "carol", "password": "password123"}
        assert (await c.call("POST", "/api/auth/register", body))[0] == 201
        assert (await c.call("POST", "/api/auth/login", body))[0] == 503

    in_session(scenario)


def test_api_error_rate(start_app: StartApp) -> None:
    app = start_app("api_error_rate=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = Client(app.base_url, s)
        assert (await c.call("GET", "/api/deployments"))[0] == 500
        async with s.get(app.url("/health")) as resp:  # only /api/* is affected
            assert resp.status == 200

    in_session(scenario)


@pytest.mark.parametrize(("fault", "expected"), [("relay_drop=1", 0), ("relay_duplicate=1", 2)])
def test_relay_faults(start_app: StartApp, fault: str, expected: int) -> None:
    app = start_app(fault)

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = await Client(app.base_url, s).signup()
        status, dev = await c.call("POST", "/api/devices", {"name": "d"})
        assert status == 201
        ws = await c.ws("/ws/device", token=dev["token"])
        assert (await receive_json(ws))["type"] == "hello"
        status, _ = await c.call("POST", f"/api/devices/{dev['id']}/commands", {"payload": 1})
        assert status == 201
        got = 0
        try:
            while True:
                msg = await receive_json(ws, 0.5)
                got += msg["type"] == "command"
        except (TimeoutError, asyncio.TimeoutError):
            pass
        assert got == expected
        await ws.close()

    in_session(scenario)


def test_cold_start_delay_ms(start_app: StartApp) -> None:
    app = start_app("cold_start_delay_ms=700")
    assert app.ready_seconds >= 0.7


def test_dashboard_faults_reach_the_page(start_app: StartApp) -> None:
    app = start_app("firefox_script_error=1,slow_log_panel_ms=300,overflow_on_phone=1,"
                    "dashboard_no_reconnect=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        async with s.get(app.url("/")) as resp:
            page = await resp.text()
        config = '{"faults": {"firefox_script_error": 1, "slow_log_panel_ms": 300.0, '
        assert config + '"overflow_on_phone": 1, "dashboard_no_reconnect": 1}}' in page

    in_session(scenario)


def test_every_switch_is_tested_here() -> None:
    here = Path(__file__).parent
    source = "".join((here / name).read_text()
                     for name in ("test_faults.py", "test_resource_faults.py",
                                  "test_topics.py", "test_socketio.py",
                                  "test_service_faults.py"))
    assert [name for name in SWITCHES if f"{name}=" not in source] == []


def test_login_any_password(start_app: StartApp) -> None:
    app = start_app("login_any_password=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = Client(app.base_url, s)
        body = {"username": "dave", "password": "password123"}
        assert (await c.call("POST", "/api/auth/register", body))[0] == 201
        wrong = {"username": "dave", "password": "not-the-password"}
        assert (await c.call("POST", "/api/auth/login", wrong))[0] == 200
        # an unknown user is still refused
        assert (await c.call("POST", "/api/auth/login", {**wrong, "username": "x"}))[0] == 401

    in_session(scenario)


def test_writes_skip_owner(start_app: StartApp) -> None:
    app = start_app("writes_skip_owner=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        alice = await Client(app.base_url, s).signup()
        bob = await Client(app.base_url, s).signup()
        dep = await alice.deployment()
        assert (await bob.call("GET", f"/api/deployments/{dep}"))[0] == 404  # reads: still
        assert (await bob.call("POST", f"/api/deployments/{dep}/logs", {"line": "x"}))[0] == 202
        assert (await bob.call("POST", f"/api/deployments/{dep}/start"))[0] == 200
        assert (await bob.call("POST", f"/api/deployments/{dep}/stop"))[0] == 200
        assert (await bob.call("DELETE", f"/api/deployments/{dep}"))[0] == 204
        assert (await alice.call("GET", f"/api/deployments/{dep}"))[0] == 404

    in_session(scenario)


def test_stop_keeps_emitting(start_app: StartApp) -> None:
    app = start_app("stop_keeps_emitting=1", env={"REFAPP_EMIT_INTERVAL_MS": "100"})

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = await Client(app.base_url, s).signup()
        dep = await c.deployment()
        ws = await c.watch_logs(dep)
        assert (await c.call("POST", f"/api/deployments/{dep}/start"))[0] == 200
        assert (await c.call("POST", f"/api/deployments/{dep}/stop"))[0] == 200
        await receive_until(ws, lambda m: m.get("status") == "stopped")
        line = await receive_until(ws, lambda m: m["type"] == "log", 2.0)
        assert line["source"] == "app"
        await ws.close()

    in_session(scenario)


def test_echo_truncate(start_app: StartApp) -> None:
    app = start_app("echo_truncate=16")

    async def scenario(s: aiohttp.ClientSession) -> None:
        async with s.ws_connect(app.ws_url("/ws/echo")) as ws:
            await ws.send_str("a" * 40)
            assert (await asyncio.wait_for(ws.receive(), 5)).data == "a" * 16
            await ws.send_str("short")
            assert (await asyncio.wait_for(ws.receive(), 5)).data == "short"

    in_session(scenario)


def test_log_alter_rate(start_app: StartApp) -> None:
    app = start_app("log_alter_rate=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = await Client(app.base_url, s).signup()
        dep = await c.deployment()
        ws = await c.watch_logs(dep)
        body = {"line": "hello world", "id": 7}
        assert (await c.call("POST", f"/api/deployments/{dep}/logs", body))[0] == 202
        event = await receive_until(ws, lambda m: m["type"] == "log")
        assert event["line"] == "hello worl?" and event["meta"] == body
        await ws.close()

    in_session(scenario)


def test_api_warmup_ms(start_app: StartApp) -> None:
    app = start_app("api_warmup_ms=60000")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = Client(app.base_url, s)
        assert (await c.call("GET", "/api/deployments"))[0] == 503
        async with s.get(app.url("/health")) as resp:
            assert resp.status == 200

    in_session(scenario)


def test_api_tail_rate_and_ms(start_app: StartApp) -> None:
    app = start_app("api_tail_rate=1,api_tail_ms=200")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = Client(app.base_url, s)
        started = time.perf_counter()
        assert (await c.call("GET", "/api/me"))[0] == 401
        assert time.perf_counter() - started >= 0.2
        started = time.perf_counter()
        async with s.get(app.url("/health")) as resp:
            assert resp.status == 200
        assert time.perf_counter() - started < 0.2  # not an /api/* route

    in_session(scenario)


def test_broadcast_tail_rate_and_ms(start_app: StartApp) -> None:
    app = start_app("broadcast_tail_rate=1,broadcast_tail_ms=150")

    async def scenario(s: aiohttp.ClientSession) -> None:
        delays = await _broadcast_delays(app, s, 3)
        assert all(d is not None and d >= 0.150 for d in delays), delays

    in_session(scenario)


def test_log_stall_ms_and_every_ms(start_app: StartApp) -> None:
    # a 400 ms stall every 500 ms: most deliveries wait, none waits longer than the stall
    app = start_app("log_stall_ms=400,log_stall_every_ms=500")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c = await Client(app.base_url, s).signup()
        dep = await c.deployment()
        ws = await c.watch_logs(dep)
        delays = []
        for i in range(6):
            started = time.perf_counter()
            await c.call("POST", f"/api/deployments/{dep}/logs", {"line": f"l{i}"})
            await receive_until(ws, lambda m, i=i: m.get("line") == f"l{i}")
            delays.append(time.perf_counter() - started)
            await asyncio.sleep(0.13)
        assert sum(d >= 0.1 for d in delays) >= 3 and max(delays) < 2.0, delays
        await ws.close()

    in_session(scenario)


def test_log_leak_rate(start_app: StartApp) -> None:
    app = start_app("log_leak_rate=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        alice = await Client(app.base_url, s).signup()
        bob = await Client(app.base_url, s).signup()
        secret, own = await alice.deployment(), await bob.deployment()
        ws = await bob.watch_logs(own)
        body = {"line": "alice's secret"}
        assert (await alice.call("POST", f"/api/deployments/{secret}/logs", body))[0] == 202
        leaked = await receive_until(ws, lambda m: m["type"] == "log")
        assert (leaked["deployment_id"], leaked["line"]) == (secret, "alice's secret")
        await ws.close()

    in_session(scenario)


async def _relay_device(s: aiohttp.ClientSession, app: RefApp) -> tuple[Client, str, Any]:
    c = await Client(app.base_url, s).signup()
    status, dev = await c.call("POST", "/api/devices", {"name": "d"})
    assert status == 201
    ws = await c.ws("/ws/device", token=dev["token"])
    assert (await receive_json(ws))["type"] == "hello"
    return c, f"/api/devices/{dev['id']}/commands", ws


def test_relay_ignore_key_delivers_a_retried_command_again(start_app: StartApp) -> None:
    app = start_app("relay_ignore_key=1")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c, path, ws = await _relay_device(s, app)
        statuses = [(await c.call("POST", path, {"payload": 1, "key": "same"}))[0]
                    for _ in range(2)]
        assert statuses == [201, 201]
        got = [await receive_until(ws, lambda m: m["type"] == "command") for _ in range(2)]
        assert got[0]["id"] != got[1]["id"]
        await ws.close()

    in_session(scenario)


def test_relay_reorder_lets_later_commands_overtake(start_app: StartApp) -> None:
    app = start_app("relay_reorder=1,relay_reorder_ms=200")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c, path, ws = await _relay_device(s, app)
        started = time.perf_counter()
        status, first = await c.call("POST", path, {"payload": 1})
        assert status == 201
        got = await receive_until(ws, lambda m: m["type"] == "command")
        assert got["id"] == first["id"] and time.perf_counter() - started >= 0.2
        await ws.close()

    in_session(scenario)


def test_relay_push_delay_ms_delays_the_push(start_app: StartApp) -> None:
    app = start_app("relay_push_delay_ms=300")

    async def scenario(s: aiohttp.ClientSession) -> None:
        c, path, ws = await _relay_device(s, app)
        started = time.perf_counter()
        assert (await c.call("POST", path, {"payload": 1}))[0] == 201
        await receive_until(ws, lambda m: m["type"] == "command")
        assert time.perf_counter() - started >= 0.3
        await ws.close()

    in_session(scenario)
