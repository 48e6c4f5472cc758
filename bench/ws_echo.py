"""Echo swarm bench: pytest-roo's WsSwarm vs a bare aiohttp+uvloop loop, same server.

    .venv/bin/python bench/ws_echo.py [--clients 100] [--duration 10]

Each client runs in its own process (one core); the server is bench/servers/ws_server.py.
Prints msgs/s, p50/p95/p99, client CPU per message, RSS and the ratio to pytest-roo.
(Locust and Artillery columns: see docs/load.md for how they were measured.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BARE = r"""
import asyncio, json, resource, sys, time
import aiohttp, numpy as np, uvloop
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
samples = []
async def main():
    async with aiohttp.ClientSession() as http:
        conns = [await http.ws_connect(url, compress=0) for _ in range(clients)]
        end = time.perf_counter() + duration
        async def loop(ws):
            buf = []
            while time.perf_counter() < end:
                t0 = time.perf_counter_ns()
                await ws.send_str("x" * 32)
                await ws.receive()
                buf.append(time.perf_counter_ns() - t0)
            samples.extend(buf)
        c0 = time.process_time()
        await asyncio.gather(*(loop(ws) for ws in conns))
        cpu = time.process_time() - c0
        for ws in conns:
            await ws.close()
    a = np.array(samples) / 1e6
    print(json.dumps({"msgs": len(a), "seconds": duration, "cpu": cpu,
                      "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
                      "p99": float(np.percentile(a, 99)),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
uvloop.install()
asyncio.run(main())
"""

ROO = r"""
import json, resource, sys
from pytest_roo.load import WsSwarm
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
r = WsSwarm().echo(url, clients=clients, duration=duration, message_size=32)
m = r.get_metric("rtt_raw")
print(json.dumps({"msgs": r.operations, "seconds": r.duration,
                  "cpu": r.generator["cpu"] * r.generator["wall_seconds"] * r.operations
                  / max(1, r.operations),
                  "p50": m.percentile(50) * 1e3, "p95": m.percentile(95) * 1e3,
                  "p99": m.percentile(99) * 1e3,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_client(code: str, url: str, clients: int, duration: float) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, url, str(clients), str(duration)],
                         capture_output=True, text=True, timeout=duration + 120, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=10.0)
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, str(HERE / "servers" / "ws_server.py")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        url = f"ws://127.0.0.1:{port}/ws/echo"
        rows = {}
        for name, code in (("pytest-roo", ROO), ("bare aiohttp", BARE)):
            rows[name] = run_client(code, url, args.clients, args.duration)
            time.sleep(1)
        base = rows["pytest-roo"]["msgs"] / rows["pytest-roo"]["seconds"]
        print(f"{'client':14} {'msgs/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'us/msg':>7} {'RSS MB':>7} {'roo/x':>6}")
        for name, r in rows.items():
            rate = r["msgs"] / r["seconds"]
            print(f"{name:14} {rate:9.0f} {r['p50']:7.2f} {r['p95']:7.2f} {r['p99']:7.2f} "
                  f"{r['cpu'] / r['msgs'] * 1e6:7.1f} {r['rss_mb']:7.0f} {base / rate:6.2f}")
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(10)
    _ = resource


if __name__ == "__main__":
    main()
