"""Every toxic's effect, measured on real connections through the in-process proxy.

Timings here check the injected effect (at least the delay asked for, under a generous bound),
never the proxy's own speed: bench/faults.py measures that.
"""

from __future__ import annotations

import socket
import statistics
import time

import pytest

from pytest_roo.faults.local import LocalProxy
from pytest_roo.load.engine import classify
from tests.integration.faults.faults_servers import (
    LoopServer,
    connect,
    free_port,
    read_all,
    round_trip,
    rtt_of,
)

pytestmark = pytest.mark.integration


def tolerance(seconds: float) -> float:
    """The accuracy asked of injected delays: 10 % or 1 ms, whichever is larger."""
    return max(0.10 * seconds, 0.001)


def test_without_toxics_bytes_pass_intact_both_ways(echo: LoopServer) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy, connect(proxy.port) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)  # the half-close reaches the server, its echo comes back
        data, _ = read_all(sock)
    assert data == payload


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_is_added_within_ten_percent(realtime: None, echo: LoopServer, stream: str) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        base = rtt_of(proxy.port)
        proxy.add("latency", latency=100, stream=stream)
        added = rtt_of(proxy.port) - base
    assert abs(added - 0.100) <= tolerance(0.100), f"added {added * 1e3:.2f} ms"


def test_small_latency_within_one_millisecond(realtime: None, echo: LoopServer) -> None:
    """The fastest round trips: a busy machine only ever adds to a round trip (a median of 25
    once moved by 2.6 ms beside a suite run), the toxic's delay is never taken off."""
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        base = rtt_of(proxy.port, rounds=25, pick=min)
        proxy.add("latency", latency=5)
        added = rtt_of(proxy.port, rounds=25, pick=min) - base
    assert abs(added - 0.005) <= 0.0015, f"added {added * 1e3:.2f} ms"


def test_jitter_spreads_delays_around_the_latency(realtime: None, echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}", seed=3) as proxy:
        proxy.add("latency", latency=40, jitter=20)
        with connect(proxy.port) as sock:
            samples = [round_trip(sock) for _ in range(30)]
    assert min(samples) >= 0.020 - tolerance(0.020)  # never less than latency - jitter
    assert abs(statistics.median(samples) - 0.040) < 0.012
    # uniform over 20..60 ms: 30 samples all above 35 ms (or all below 45) is a 1e-6 chance
    assert min(samples) < 0.035 and max(samples) > 0.045


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_bandwidth_within_ten_percent(blob: LoopServer, stream: str) -> None:
    size = 200_000
    with LocalProxy(f"127.0.0.1:{blob.port}") as proxy:
        proxy.add("bandwidth", rate=100, stream=stream)  # 100 KB/s -> 2 s for 200 KB
        with connect(proxy.port, timeout=10) as sock:
            started = time.perf_counter()
            if stream == "downstream":
                sock.sendall(b"%d\n" % size)
                data, _ = read_all(sock)
                assert len(data) == size
            else:
                sock.sendall(b"UP %d\n" % size + b"u" * size)
                assert read_all(sock)[0] == b"OK\n"
            seconds = time.perf_counter() - started
    rate = size / seconds / 1000
    assert abs(rate - 100) <= 10, f"{rate:.1f} KB/s"


def test_reset_peer_is_a_reset_for_the_client_and_the_load_engine(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        proxy.add("reset_peer", timeout=0)
        with connect(proxy.port) as sock:
            sock.sendall(b"ping")
            with pytest.raises(ConnectionResetError) as info:
                sock.recv(100)
    assert classify(info.value) == "reset"


def test_reset_peer_waits_its_timeout_after_the_first_data(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        proxy.add("reset_peer", timeout=200, stream="upstream")
        with connect(proxy.port) as sock:
            started = time.perf_counter()
            sock.sendall(b"ping")
            with pytest.raises(ConnectionResetError):
                sock.recv(100)
            waited = time.perf_counter() - started
    assert 0.200 - tolerance(0.2) <= waited < 2.0


def test_blackhole_is_bounded_by_the_clients_timeout(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        handle = proxy.add("timeout", timeout=0)
        with connect(proxy.port, timeout=0.3) as sock:
            sock.sendall(b"ping")
            started = time.perf_counter()
            with pytest.raises(TimeoutError) as info:
                sock.recv(100)
            waited = time.perf_counter() - started
            assert classify(info.value) == "timeout"
            assert 0.3 - tolerance(0.3) <= waited < 2.0
            assert proxy.connections == 1  # held open, not closed
            handle.remove()
            # as Toxiproxy: a connection whose data was dropped is closed when the toxic goes
            sock.settimeout(5)
            assert sock.recv(100) == b""
        with connect(proxy.port) as sock:
            round_trip(sock)  # new connections are clean


def test_timeout_closes_the_connection_after_its_time(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        proxy.add("timeout", timeout=200)
        with connect(proxy.port) as sock:
            started = time.perf_counter()
            sock.sendall(b"dropped")
            data, _ = read_all(sock)
            waited = time.perf_counter() - started
    assert data == b""
    assert 0.200 - tolerance(0.2) <= waited < 2.0


def test_slow_close_delays_the_close(blob: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{blob.port}") as proxy:
        proxy.add("slow_close", delay=300)
        with connect(proxy.port) as sock:
            sock.sendall(b"10\n")
            first = sock.recv(100)
            started = time.perf_counter()
            rest, _ = read_all(sock)
            waited = time.perf_counter() - started
    assert first + rest == b"b" * 10
    assert 0.300 - tolerance(0.3) <= waited < 2.0


def test_limit_data_closes_after_its_bytes(blob: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{blob.port}") as proxy:
        proxy.add("limit_data", bytes=1000)
        with connect(proxy.port) as sock:
            sock.sendall(b"5000\n")
            data, _ = read_all(sock)
    assert data == b"b" * 1000


def test_slicer_cuts_data_into_pieces_that_arrive_apart(blob: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{blob.port}", seed=1) as proxy:
        proxy.add("slicer", average_size=100, size_variation=20, delay=2000)
        with connect(proxy.port) as sock:
            sock.sendall(b"2000\n")
            data, reads = read_all(sock)
    assert data == b"b" * 2000
    assert reads >= 5  # 2 ms between pieces of ~100 bytes: the client sees many reads


def test_toxicity_applies_to_a_share_of_connections(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}", seed=11) as proxy:
        proxy.add("latency", latency=60, toxicity=0.5)
        delayed = 0
        for _ in range(40):
            with connect(proxy.port) as sock:
                delayed += round_trip(sock) >= 0.060
    assert 8 <= delayed <= 32, delayed


def test_toxics_change_while_traffic_flows(realtime: None, echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy, connect(proxy.port) as sock:
        handle = proxy.add("latency", latency=30)
        before = statistics.median(round_trip(sock) for _ in range(5))
        handle.update(latency=120)
        after = statistics.median(round_trip(sock) for _ in range(5))
        handle.remove()
        removed = statistics.median(round_trip(sock) for _ in range(5))
    assert 0.030 - tolerance(0.03) <= before < 0.120
    assert 0.120 - tolerance(0.12) <= after < 0.5
    assert removed < 0.030


def test_removing_a_toxic_releases_the_data_it_holds(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy, connect(proxy.port) as sock:
        handle = proxy.add("latency", latency=60_000)
        sock.sendall(b"held")
        time.sleep(0.05)
        started = time.perf_counter()
        handle.remove()
        assert sock.recv(100) == b"held"
        assert time.perf_counter() - started < 5


def test_down_cuts_and_refuses_then_up_accepts_on_the_same_port(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        port = proxy.port
        with connect(port) as sock:
            round_trip(sock)
            proxy.down()
            try:
                closed = sock.recv(100) == b""
            except ConnectionResetError:
                closed = True
            assert closed
        with pytest.raises(ConnectionRefusedError) as info:
            connect(port)
        assert classify(info.value) == "refused"
        proxy.up()
        assert proxy.port == port
        with connect(port) as sock:
            round_trip(sock)


def test_upstream_gone_closes_the_clients_connection() -> None:
    with LocalProxy(f"127.0.0.1:{free_port()}") as proxy, connect(proxy.port) as sock:
        data, _ = read_all(sock)
    assert data == b""


def test_many_connections_at_once(echo: LoopServer) -> None:
    with LocalProxy(f"127.0.0.1:{echo.port}") as proxy:
        proxy.add("latency", latency=20)
        socks = [connect(proxy.port) for _ in range(50)]
        try:
            for i, sock in enumerate(socks):
                sock.sendall(b"%04d" % i)
            answers = [sock.recv(100) for sock in socks]
            assert proxy.connections == 50
        finally:
            for sock in socks:
                sock.close()
    assert answers == [b"%04d" % i for i in range(50)]


def test_data_stays_intact_and_in_order_through_a_chain_of_toxics(echo: LoopServer) -> None:
    import os
    import threading

    payload = os.urandom(400_000)
    with LocalProxy(f"127.0.0.1:{echo.port}", seed=5) as proxy:
        proxy.add("bandwidth", rate=4000, stream="upstream")
        proxy.add("slicer", average_size=500, size_variation=100, stream="upstream")
        proxy.add("latency", latency=10, jitter=5)
        proxy.add("slicer", average_size=1000, size_variation=300, delay=50)
        with connect(proxy.port, timeout=20) as sock:
            def send() -> None:  # while the echo is read: neither side's buffers fill up
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)

            started = time.perf_counter()
            sender = threading.Thread(target=send)
            sender.start()
            data, _ = read_all(sock)
            seconds = time.perf_counter() - started
            sender.join(20)
    assert data == payload
    assert seconds >= 0.9 * len(payload) / 4_000_000  # the upload went at 4000 KB/s at most
