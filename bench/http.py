"""HTTP load bench: pytest-roo's ``HttpLoad`` (httptools and aiohttp drivers) against wrk on the
same aiohttp endpoint.

    .venv/bin/python bench/http.py [--clients 100] [--duration 10] [--rounds 3] [--path /health]

The server is bench/servers/ws_server.py (aiohttp + uvloop, pinned to core 0); ``GET /health``
answers "ok". Rounds alternate ``wrk -t1 -cN -dD --latency`` (one thread: one core),
``HttpLoad().get(url, clients=N, duration=D)`` with its default driver (httptools:
"pytest-roo") and with ``driver="aiohttp"`` ("roo-aiohttp"), and a bare asyncio Protocol with
httptools and no checks or histogram ("bare-httptools": the floor of a Python client), closed
model, keep-alive, each pinned to core 1. Prints requests per second, latency percentiles,
client CPU per request (wrk's from its rusage), the server's CPU (near 100 %: the server is the
limit, and the ratio says more about the server than the clients) and the ratios against the
targets: pytest-roo at least 0.9x wrk's requests per second and at most 10 us of client CPU per
request. Install wrk with ``apt-get install -y wrk``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# bench/ is not put first on sys.path: bench/http.py would shadow the standard library's
# http package (aiohttp, locust and urllib import it). Import the helpers from the root.
sys.path[0] = str(HERE.parent)
from bench._common import (  # noqa: E402
    CLIENT_CORE,
    PYTHON,
    ROOT,
    SERVER_CORE,
    Server,
    fmt,
    load_average,
    median,
    run_client,
    stamp,
)

ROO = r"""
import json, sys, time
import aiohttp, numpy, hdrh.histogram, uvloop  # imported before the CPU clock starts
from pytest_roo.load import HttpLoad
try:
    import httptools
except ImportError:
    pass
url, clients, duration, driver = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
c0 = time.process_time()
r = HttpLoad(max_generator_cpu=4.0).get(url, clients=clients, duration=duration, driver=driver)
cpu = time.process_time() - c0
m = r.get_metric("latency")
print(json.dumps({"rps": m.count / r.duration, "count": m.count, "errors": r.error_count,
                  "driver": r.info["driver"],
                  "cpu": cpu, "p50": m.percentile(50) * 1e3, "p75": m.percentile(75) * 1e3,
                  "p90": m.percentile(90) * 1e3, "p99": m.percentile(99) * 1e3}))
"""

#: the floor of a Python client here: an asyncio Protocol per connection, httptools parsing,
#: a closed loop per connection, no checks, no histogram (latencies kept in a list)
BARE = r"""
import asyncio, json, sys, time
from urllib.parse import urlsplit
import httptools, numpy as np, uvloop
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
parts = urlsplit(url)
REQUEST = (f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
           "Accept: */*\r\n\r\n").encode()
samples = []


class Conn(asyncio.Protocol):
    waiter = None

    def __init__(self):
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.parser.feed_data(data)

    def on_message_complete(self):
        waiter, self.waiter = self.waiter, None
        waiter.set_result(self.parser.get_status_code())


async def main():
    loop = asyncio.get_running_loop()
    c0 = time.process_time()
    conns = [(await loop.create_connection(Conn, parts.hostname, parts.port))[1]
             for _ in range(clients)]
    t0 = time.perf_counter()
    end = t0 + duration
    errors = 0
    async def one(conn):
        nonlocal errors
        buf = []
        while time.perf_counter() < end:
            t = time.perf_counter_ns()
            conn.waiter = waiter = loop.create_future()
            conn.transport.write(REQUEST)
            if await waiter != 200:
                errors += 1
            buf.append(time.perf_counter_ns() - t)
        samples.extend(buf)
    await asyncio.gather(*(one(c) for c in conns))
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    for conn in conns:
        conn.transport.close()
    a = np.array(samples) / 1e6
    print(json.dumps({"rps": len(a) / seconds, "count": len(a), "errors": errors, "cpu": cpu,
                      **{f"p{p}": float(np.percentile(a, p)) for p in (50, 75, 90, 99)}}))
uvloop.install()
asyncio.run(main())
"""

#: wrk under a wrapper that reports the CPU wrk used (user + system, from its rusage)
WRK = r"""
import json, resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(out)
print(json.dumps({"cpu": use.ru_utime + use.ru_stime}))
"""

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
#: targets of pytest-roo (httptools) against wrk: requests/s at least this share of wrk's
RPS_TARGET = 0.9
#: ... and client CPU per request at most this many microseconds
CPU_TARGET_US = 10.0
TOOLS = ("pytest-roo", "roo-aiohttp", "bare-httptools", "wrk")


def parse_wrk(out: str) -> dict[str, Any]:
    def ms(text: str) -> float:
        m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
        if m is None:
            raise ValueError(f"unexpected wrk latency {text!r}")
        return float(m.group(1)) * UNITS[m.group(2)]

    r: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    r["rps"] = float(m.group(1)) if m else None
    for p in (50, 75, 90, 99):
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        r[f"p{p}"] = ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    errors = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    r["errors"] = errors
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--path", default="/health")
    args = ap.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    print(f"# http GET {args.path}: {args.clients} connections, {args.duration:.0f}s x "
          f"{args.rounds} rounds; {stamp()}; {load_average()}; server core {SERVER_CORE}, "
          f"clients core {CLIENT_CORE}")
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in TOOLS}
    with Server() as server:
        url = server.http(args.path)
        for rnd in range(args.rounds):
            order = list(TOOLS) if rnd % 2 == 0 else list(reversed(TOOLS))
            for tool in order:
                s0 = server.cpu_seconds()
                if tool == "wrk":
                    out, rss = run_client([PYTHON, "-c", WRK, wrk, "-t1", f"-c{args.clients}",
                                           f"-d{int(args.duration)}s", "--latency", url],
                                          timeout=args.duration + 60)
                    r = parse_wrk(out)
                    seconds = args.duration
                    r["count"] = (r["rps"] or 0) * seconds
                    r["cpu"] = json.loads(out.strip().splitlines()[-1])["cpu"]
                elif tool == "bare-httptools":
                    out, rss = run_client([PYTHON, "-c", BARE, url, str(args.clients),
                                           str(args.duration)],
                                          timeout=args.duration + 60, cwd=ROOT)
                    r = json.loads(out.strip().splitlines()[-1])
                    seconds = r["count"] / max(r["rps"], 1e-9)
                else:
                    driver = "aiohttp" if tool == "roo-aiohttp" else "httptools"
                    out, rss = run_client([PYTHON, "-c", ROO, url, str(args.clients),
                                           str(args.duration), driver],
                                          timeout=args.duration + 120, cwd=ROOT)
                    r = json.loads(out.strip().splitlines()[-1])
                    seconds = r["count"] / max(r["rps"], 1e-9)
                r["us_per_req"] = r["cpu"] / max(1, r["count"]) * 1e6
                r["server_cpu"] = (server.cpu_seconds() - s0) / max(seconds, 1e-3)
                r["rss_mb"] = rss
                runs[tool].append(r)
                print(f"  round {rnd + 1} {tool:14} {r['rps'] or 0:9.0f} req/s  "
                      f"{r['us_per_req']:6.1f} us/req  server CPU {r['server_cpu']:4.0%}  "
                      f"errors {r['errors']}", flush=True)
    print()
    print(f"{'client':14} {'req/s':>9} {'p50 ms':>7} {'p75 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
          f"{'us/req':>7} {'RSS MB':>7} {'srv CPU':>7} {'x/wrk':>6}")
    base = median([r["rps"] for r in runs["wrk"]]) or 0.0
    for tool, rs in runs.items():
        rps = median([r["rps"] for r in rs]) or 0.0
        print(f"{tool:14} {rps:9.0f} "
              + " ".join(fmt(median([r[f"p{p}"] for r in rs]), "7.2f") for p in (50, 75, 90, 99))
              + f" {fmt(median([r.get('us_per_req') for r in rs]), '7.1f')}"
              f" {median([r['rss_mb'] for r in rs]) or 0:7.0f}"
              f" {median([r['server_cpu'] for r in rs]) or 0:7.0%}"
              f" {fmt(rps / base if base else None, '6.2f')}")
    roo = median([r["rps"] for r in runs["pytest-roo"]]) or 0.0
    aio = median([r["rps"] for r in runs["roo-aiohttp"]]) or 0.0
    roo_cpu = median([r["us_per_req"] for r in runs["pytest-roo"]]) or 0.0
    aio_cpu = median([r["us_per_req"] for r in runs["roo-aiohttp"]]) or 0.0
    server_cpu = median([r["server_cpu"] for r in runs["pytest-roo"]]) or 0.0
    if base:
        print(f"\npytest-roo (httptools) / wrk requests/s: {roo / base:.2f} "
              f"(target >= {RPS_TARGET:g}: {'ok' if roo / base >= RPS_TARGET else 'MISS'})")
    print(f"pytest-roo (httptools) client CPU per request: {roo_cpu:.1f} us "
          f"(target <= {CPU_TARGET_US:g} us: {'ok' if roo_cpu <= CPU_TARGET_US else 'MISS'})")
    bare_cpu = median([r["us_per_req"] for r in runs["bare-httptools"]]) or 0.0
    if bare_cpu:
        print(f"pytest-roo (httptools) / the bare httptools loop, client CPU per request: "
              f"{roo_cpu / bare_cpu:.2f}x (the harness's share: timing, checks, histograms)")
    if aio and aio_cpu:
        print(f"httptools / aiohttp driver: {roo / aio:.2f}x the requests/s, "
              f"{aio_cpu / max(roo_cpu, 1e-9):.1f}x less client CPU per request")
    if server_cpu >= 0.85:
        print(f"the server used {server_cpu:.0%} of its core during the pytest-roo runs: the "
              "server is the limit, so the requests/s ratio measures it, not the clients")
    print(f"(medians over {args.rounds} rounds; server core {SERVER_CORE}, clients core "
          f"{CLIENT_CORE})")


if __name__ == "__main__":
    main()
