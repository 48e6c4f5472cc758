"""The fixtures on a real aiohttp server: fault_proxy, timed faults, profiles, recovery_meter,
the load engine through the proxy, and teardown."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request

import aiohttp
import pytest

from pytest_roo import slo
from pytest_roo.fixtures.faults import FaultProxyFactory, RecoveryMeter
from pytest_roo.load.http import HttpLoad
from tests.integration.faults.faults_servers import LoopServer, echo_server, free_port

pytestmark = pytest.mark.integration


def get(url: str, timeout: float = 5.0) -> tuple[bytes, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body, time.perf_counter() - started


def test_proxy_url_points_clients_through_the_proxy(http: LoopServer,
                                                    fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    assert proxy.url == f"http://127.0.0.1:{proxy.port}" and proxy.port != http.port
    assert get(proxy.url + "/hello")[0] == b"hello"


def test_fault_lasts_the_block(http: LoopServer, fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(f"127.0.0.1:{http.port}")
    url = f"http://{proxy.address}/hello"
    with proxy.fault("latency", latency=150) as window:
        _, slow = get(url)
    _, fast = get(url)
    assert 0.150 * 0.9 <= slow < 2.0
    assert fast < 0.150
    assert window.started is not None and window.ended is not None


def test_fault_with_a_duration_ends_inside_the_block(http: LoopServer,
                                                     fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    with proxy.fault("down", duration=0.3) as window:
        with pytest.raises(OSError):
            get(proxy.url + "/hello", timeout=1)
        deadline = time.monotonic() + 5
        while window.ended is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert get(proxy.url + "/hello")[0] == b"hello"
    assert window.ended is not None and window.started is not None
    assert 0.3 <= window.ended - window.started < 2.0


def test_profile_3g_slows_a_download(http: LoopServer, fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    size = 50_000
    with proxy.profile("3g"):
        body, seconds = get(proxy.url + f"/blob?size={size}", timeout=20)
    assert len(body) == size
    # one round trip of 300 ms (connect is not delayed; request up, response down) plus the
    # transfer at 94 KB/s
    floor = 0.9 * (0.300 + size / 94_000)
    assert floor <= seconds < 15, seconds
    assert get(proxy.url + "/hello")[1] < 0.3  # removed with the block


def test_aiohttp_sees_resets_as_reset(http: LoopServer, fault_proxy: FaultProxyFactory) -> None:
    from pytest_roo.load.engine import classify

    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    proxy.add("reset_peer", timeout=0)

    async def fetch() -> BaseException | None:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.get(proxy.url + "/hello") as response:
                    await response.read()
            except aiohttp.ClientError as exc:
                return exc
        return None

    error = asyncio.run(fetch())
    assert error is not None and classify(error) == "reset"


def test_load_engine_counts_resets_through_the_proxy(http: LoopServer,
                                                     fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    proxy.add("reset_peer", timeout=0)
    result = HttpLoad(max_generator_cpu=4.0).get(proxy.url + "/hello", clients=2,
                                                  duration="0.5s", timeout=2)
    assert result.errors["reset"] > 0
    assert set(result.errors) == {"reset"}
    proxy.remove("reset_peer_downstream")
    healthy = HttpLoad(max_generator_cpu=4.0).get(proxy.url + "/hello", clients=2,
                                                   duration="0.5s", timeout=2)
    assert healthy.error_count == 0 and healthy.operations > 0


def test_recovery_after_an_outage(http: LoopServer, fault_proxy: FaultProxyFactory,
                                  recovery_meter: RecoveryMeter) -> None:
    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    with proxy.fault("down") as window, pytest.raises(OSError):
        get(proxy.url + "/hello", timeout=1)
    result = recovery_meter(lambda: get(proxy.url + "/hello", timeout=1), since=window)
    assert result.get_metric("recovery").count == 1
    slo.check(result, "recovery.max < 5s")


def test_recovery_of_a_server_that_comes_back_later(fault_proxy: FaultProxyFactory,
                                                    recovery_meter: RecoveryMeter) -> None:
    port = free_port()
    proxy = fault_proxy(f"127.0.0.1:{port}")

    def probe() -> bool:
        with socket.create_connection((proxy.host, proxy.port), timeout=1) as sock:
            sock.sendall(b"ping")
            return sock.recv(10) == b"ping"

    fault_end = time.monotonic()
    try:  # the upstream is not there yet: the proxy closes the connection at once
        answered = probe()
    except OSError:
        answered = False
    assert not answered
    servers: list[LoopServer] = []

    def start_later() -> None:
        time.sleep(0.4)
        servers.append(echo_server(port))

    starter = threading.Thread(target=start_later)
    starter.start()
    try:
        result = recovery_meter(probe, since=fault_end, interval=0.02, timeout=10)
    finally:
        starter.join()
        for server in servers:
            server.stop()
    assert 0.4 <= result.get_metric("recovery").max < 10
    assert result.counters["recovery_probes"] > 1


def test_proxies_are_closed_after_the_test(pytester: pytest.Pytester, http: LoopServer) -> None:
    ports = pytester.path / "ports.txt"
    pytester.makepyfile(
        f"""
        import pathlib

        def test_one(fault_proxy):
            proxy = fault_proxy("127.0.0.1:{http.port}")
            proxy.add("latency", latency=10)
            pathlib.Path({str(ports)!r}).write_text(str(proxy.port))
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:playwright")
    result.assert_outcomes(passed=1)
    port = int(ports.read_text())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_toxiproxy_option_selects_the_toxiproxy_backend(pytester: pytest.Pytester) -> None:
    port = free_port()  # nothing listens: the request must fail, naming the server
    pytester.makepyfile(
        """
        def test_one(fault_proxy):
            fault_proxy("127.0.0.1:6379")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:playwright",
                                          f"--roo-toxiproxy=http://127.0.0.1:{port}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*ToxiproxyError: cannot reach Toxiproxy at http://127.0.0.1:{port}/proxies*"])


def test_websocket_swarm_through_the_proxy(http: LoopServer,
                                           fault_proxy: FaultProxyFactory) -> None:
    from pytest_roo.load.ws import WsSwarm

    proxy = fault_proxy(f"ws://127.0.0.1:{http.port}")
    url = proxy.url + "/ws/echo"
    healthy = WsSwarm(max_generator_cpu=4.0).echo(url, clients=4, duration="0.5s", timeout=2)
    assert healthy.error_count == 0 and healthy.get_metric("rtt").count > 0

    # resets in the middle of the run: every connection ends with an error, none hangs
    with proxy.fault("reset_peer", after=0.5, timeout=0):
        cut = WsSwarm(max_generator_cpu=4.0).echo(url, clients=4, duration="2s", timeout=2)
    assert cut.get_metric("rtt").count > 0  # traffic flowed before the fault
    assert cut.error_count >= 4
    # the WebSocket driver reports a reset seen by aiohttp as a closed connection
    assert set(cut.errors) <= {"reset", "closed"}

    # a reset during the handshake is a connect failure of kind reset with aiohttp; picows does
    # not pass the connection's error on, so there it reads as closed during the upgrade
    proxy.add("reset_peer", timeout=0)
    refused = WsSwarm(max_generator_cpu=4.0, driver="aiohttp").echo(
        url, clients=4, duration="0.5s", timeout=2)
    assert refused.errors == {"reset": 4}, refused.info.get("error_examples")
    fast = WsSwarm(max_generator_cpu=4.0, driver="picows").echo(
        url, clients=4, duration="0.5s", timeout=2)
    assert sum(fast.errors.get(kind, 0) for kind in ("reset", "closed")) == 4, fast.errors
    assert "during the WebSocket upgrade" in str(fast.info.get("error_examples")), fast.info


def test_blackhole_is_bounded_by_the_runs_timeout(http: LoopServer,
                                                  fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(f"http://127.0.0.1:{http.port}")
    proxy.add("timeout", timeout=0)  # requests vanish; connections stay open
    started = time.monotonic()
    result = HttpLoad(max_generator_cpu=4.0).get(proxy.url + "/hello", clients=2,
                                                  duration="1s", timeout=0.5)
    elapsed = time.monotonic() - started
    assert result.error_count > 0 and set(result.errors) == {"timeout"}
    assert elapsed < 10  # ends by itself: each request is cut at the run's timeout
