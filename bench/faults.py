"""Fault proxy bench: what the in-process proxy adds to a request/response, with no toxic.

    .venv/bin/python bench/faults.py [--rounds 7] [--requests 2000] [--size 32]

A TCP echo server (asyncio + uvloop, its own process, pinned to core 0) answers ``--size``-byte
messages. One blocking client in this process (pinned to core 1, as the proxy's thread is: the
way a sync test uses the proxy) sends a message and waits for its echo, ``--requests`` times per
round, over one connection:

  direct     client -> server
  proxy      client -> LocalProxy (no toxic: the fast path) -> server
  toxic 0ms  client -> LocalProxy with a latency toxic of 0 ms (the queued path) -> server

Rounds alternate the three and the medians of the rounds' percentiles are printed, with the
ratio to direct and the latency added (target: under 100 us at p50 with no toxic). The machine
is usually shared: compare the figures of one invocation, not across runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/http.py would shadow the standard library's http package: import from the root
sys.path[0] = str(HERE.parent)
from bench._common import (  # noqa: E402
    CLIENT_CORE,
    PYTHON,
    SERVER_CORE,
    have_two_cores,
    load_average,
    pin,
    stamp,
)

SERVER = r"""
import asyncio, sys, uvloop

class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        self.transport.write(data)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes stdin
    server.close()

uvloop.run(main())
"""

VARIANTS = ("direct", "proxy", "toxic 0ms")


def start_server() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([PYTHON, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=pin(SERVER_CORE))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"echo server did not start: {line!r}")
    return proc, int(line.split()[1])


def one_round(port: int, requests: int, size: int) -> list[float]:
    """Round trips in microseconds over one connection, after 200 warm-up ones."""
    payload = b"x" * size
    samples: list[float] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(requests + 200):
            started = time.perf_counter_ns()
            sock.sendall(payload)
            got = 0
            while got < size:
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit("the connection closed during the bench")
                got += len(chunk)
            if i >= 200:
                samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()

    from pytest_roo.faults.local import LocalProxy

    pinned = have_two_cores()
    if pinned:
        os.sched_setaffinity(0, {CLIENT_CORE})  # this process: the client and the proxy thread
    server, port = start_server()
    p50: dict[str, list[float]] = {v: [] for v in VARIANTS}
    p99: dict[str, list[float]] = {v: [] for v in VARIANTS}
    try:
        with LocalProxy(f"127.0.0.1:{port}") as plain, LocalProxy(f"127.0.0.1:{port}") as toxic:
            toxic.add("latency", latency=0, stream="upstream")
            ports = {"direct": port, "proxy": plain.port, "toxic 0ms": toxic.port}
            for round_ in range(args.rounds):
                order = VARIANTS if round_ % 2 == 0 else tuple(reversed(VARIANTS))
                for variant in order:
                    samples = one_round(ports[variant], args.requests, args.size)
                    p50[variant].append(percentile(samples, 50))
                    p99[variant].append(percentile(samples, 99))
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)

    print(f"fault proxy bench, {stamp()}, {load_average()}")
    print(f"{args.rounds} rounds x {args.requests} round trips of {args.size} bytes, one "
          f"connection; server pinned to core {SERVER_CORE}, client and proxy thread to core "
          f"{CLIENT_CORE}" + ("" if pinned else " (one core only: not pinned)"))
    print(f"{'variant':<10} {'p50 us':>8} {'p99 us':>8} {'p50 ratio':>10} {'p50 added us':>13}")
    base = statistics.median(p50["direct"])
    for variant in VARIANTS:
        mid = statistics.median(p50[variant])
        tail = statistics.median(p99[variant])
        print(f"{variant:<10} {mid:8.1f} {tail:8.1f} {mid / base:10.2f} {mid - base:13.1f}")
    added = statistics.median(p50["proxy"]) - base
    verdict = "meets" if added < 100 else "MISSES"
    print(f"no toxic: {added:.1f} us added at p50 ({verdict} the target of < 100 us)")


if __name__ == "__main__":
    main()
