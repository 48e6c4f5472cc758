"""Raw test endpoints: echo, broadcast, health, metrics, dashboard, clean shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from fixtures.refapp.launcher import (
    REPO_ROOT,
    RefApp,
    RefAppError,
    remove_orphaned_logs,
    start_refapp,
)
from tests.integration.refapp.refapp_client import Client, StartApp

if TYPE_CHECKING:
    from tests.integration.refapp.conftest import Backends

pytestmark = pytest.mark.integration


def test_echo_returns_every_frame_unchanged_in_order(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(refapp.ws_url("/ws/echo")) as ws:
            sent: list[str | bytes] = [f'{{"roo": "roo:abcdef:{i}", "pad": "{"x" * i}"}}'
                                       for i in range(50)]
            sent += [b"\x00\x01binary\xff", "", "ü ✓"]
            for item in sent:
                if isinstance(item, bytes):
                    await ws.send_bytes(item)
                else:
                    await ws.send_str(item)
            got = []
            for _ in sent:
                msg = await asyncio.wait_for(ws.receive(), 5)
                got.append(msg.data)
            assert got == sent

    asyncio.run(scenario())


def test_broadcast_reaches_every_client_including_sender(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            clients = [await s.ws_connect(refapp.ws_url("/ws/broadcast")) for _ in range(5)]
            payload = json.dumps({"roo": "roo:0a0b0c:1", "seq": 1, "t": time.time_ns()})
            await clients[0].send_str(payload)
            for ws in clients:
                msg = await asyncio.wait_for(ws.receive(), 5)
                assert msg.data == payload
            async with s.post(refapp.url("/ws/broadcast"), data='{"roo": "roo:0a0b0c:2"}',
                              headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 200
                assert (await resp.json())["clients"] == 5
            for ws in clients:
                msg = await asyncio.wait_for(ws.receive(), 5)
                assert msg.data == '{"roo": "roo:0a0b0c:2"}'
            for ws in clients:
                await ws.close()

    asyncio.run(scenario())


def test_health_and_metrics(refapp: RefApp) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(refapp.ws_url("/ws/echo")) as ws:
                await ws.send_str("x")
                await ws.receive()
                async with s.get(refapp.url("/metrics")) as resp:
                    open_metrics = await resp.text()
            async with s.get(refapp.url("/health")) as resp:
                assert resp.status == 200
                assert resp.content_type == "application/json"
                body = await resp.json()
            async with s.get(refapp.url("/metrics")) as resp:
                assert resp.status == 200
                assert resp.content_type == "text/plain"
                text = await resp.text()
            async with s.get(refapp.url("/")) as resp:
                assert resp.status == 200
                page = await resp.text()
        assert (body["status"], body["database"], body["redis"]) == ("ok", "ok", "ok")
        assert 'refapp_ws_connections{path="/ws/echo"} 1' in open_metrics
        assert 'refapp_ws_connections{path="/ws/echo"} 0' in text
        assert 'refapp_http_requests_total{method="GET",route="/health",status="200"}' in text
        assert "refapp_http_request_duration_seconds_bucket{" in text
        rss = [ln for ln in text.splitlines() if ln.startswith("process_resident_memory_bytes ")]
        assert int(rss[0].split()[1]) > 10_000_000
        assert '<html lang="en">' in page
        assert 'name="viewport"' in page
        assert 'data-testid="login-form"' in page

    asyncio.run(scenario())


def test_work_holds_pool_connections_and_metrics_show_the_concurrency(refapp: RefApp) -> None:
    """``GET /api/work?db_ms=N`` holds one pooled connection for N ms; ``/metrics`` shows the
    peak of connections in use, callers waiting for one and requests in flight."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            c = await Client(refapp.base_url, s).signup()
            assert (await c.call("GET", "/api/work?db_ms=5000"))[0] == 400
            assert (await c.call("GET", "/api/work?db_ms=x"))[0] == 400
            assert (await c.call("GET", "/api/work?db_ms=10", token=""))[0] == 401
            started = time.perf_counter()
            answers = await asyncio.gather(*(c.call("GET", "/api/work?db_ms=800")
                                             for _ in range(40)))
            elapsed = time.perf_counter() - started
            async with s.get(refapp.url("/metrics")) as resp:
                text = await resp.text()
        assert all(status == 200 for status, _ in answers), answers
        gauges = dict(line.split(" ", 1) for line in text.splitlines()
                      if line.startswith(("refapp_db_pool_", "refapp_http_in_flight")))
        # 40 requests of 800 ms on a pool of 30: 30 at once, the other 10 waited
        assert float(gauges["refapp_db_pool_in_use_peak"]) == 30, gauges
        assert float(gauges["refapp_db_pool_waiting_peak"]) >= 10, gauges
        assert float(gauges["refapp_http_in_flight_peak"]) > 30, gauges
        assert float(gauges["refapp_db_pool_in_use"]) == 0, gauges
        assert elapsed >= 1.6  # two rounds of 800 ms

    asyncio.run(scenario())


def test_health_is_503_when_redis_is_gone(refapp_backends: Backends, tmp_path: object) -> None:
    """A private redis-server, killed under a running app: /health answers 503, not 200."""
    import shutil
    import socket

    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    redis = subprocess.Popen(
        [redis_bin, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        app = start_refapp(refapp_backends.pg_url, f"redis://127.0.0.1:{port}/0")
        try:
            assert app.health()[0] == 200
            os.killpg(redis.pid, signal.SIGKILL)
            redis.wait(5)
            status, body = app.health(timeout=5)
            assert status == 503
            assert body["redis"].startswith("error")
            assert body["database"] == "ok"
        finally:
            assert app.stop() == 0
        # its log was a temporary file of the launcher's choosing: gone with the app
        assert not app.log_path.exists() and not Path(f"{app.log_path}.port").exists()
    finally:
        if redis.poll() is None:
            os.killpg(redis.pid, signal.SIGKILL)
            redis.wait(5)


def test_bad_configuration_is_a_clear_error(refapp_backends: Backends, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown fault 'typo_ms'"):
        start_refapp("postgresql://x", "redis://x", faults="typo_ms=1")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "fixtures.refapp", "--pg-dsn", "postgresql://x/y",
         "--redis-url", "redis://x", "--faults", "drop_messages=7"],
        capture_output=True, text=True, timeout=30, env=env, cwd=REPO_ROOT,
    )
    assert run.returncode == 2
    assert "drop_messages='7'" in run.stderr
    assert "fraction between 0 and 1" in run.stderr
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RefAppError, match="exited with code 1"):
        start_refapp("postgresql://nobody@127.0.0.1:1/none", "redis://127.0.0.1:1/0", timeout=20)
    assert not list(tmp_path.iterdir())  # the temporary log: its last lines are in the error


def test_sigterm_stops_app_and_its_group(start_app: StartApp) -> None:
    app = start_app()
    cmdline = Path(f"/proc/{app.pid}/cmdline").read_bytes().replace(b"\0", b" ")
    assert b"refapp" in cmdline
    assert os.getpgid(app.pid) == app.pid  # its own process group
    started = time.monotonic()
    assert app.stop() == 0
    assert time.monotonic() - started < 5
    assert "REFAPP_LISTENING http://127.0.0.1:" in app.output()


def test_app_dies_with_its_parent(refapp_backends: Backends, tmp_path: Path) -> None:
    """The launcher's --die-with-parent: killing the starting process takes the app with it."""
    code = (
        "import sys, time\n"
        "from fixtures.refapp.launcher import start_refapp\n"
        "app = start_refapp(sys.argv[1], sys.argv[2])\n"
        "print(app.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    backends = refapp_backends
    parent = subprocess.Popen(
        [sys.executable, "-c", code, backends.pg_url, backends.redis_url],
        stdout=subprocess.PIPE, cwd=REPO_ROOT, start_new_session=True,
        # TMPDIR: where the killed starter's temporary log stays, for the next start to remove
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(tmp_path)},
    )
    try:
        assert parent.stdout is not None
        app_pid = int(parent.stdout.readline())
        os.kill(app_pid, 0)  # running
        parent.kill()
        parent.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(app_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.killpg(app_pid, signal.SIGKILL)
            pytest.fail(f"reference app {app_pid} outlived its parent")
        # the killed starter's log and port file stay, named by its pid, until a later start
        # removes them; a running starter's files stay
        left = sorted(p.name for p in tmp_path.iterdir())
        assert len(left) == 2 and left[0].startswith(f"refapp-{parent.pid}-"), left
        assert left[0].endswith(".log") and left[1] == left[0] + ".port", left
        mine = tmp_path / f"refapp-{os.getpid()}-running.log"
        mine.touch()
        removed = remove_orphaned_logs(tmp_path)
        assert sorted(p.name for p in removed) == left
        assert [p.name for p in tmp_path.iterdir()] == [mine.name]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
        if parent.stdout is not None:
            parent.stdout.close()
