"""Socket.IO emit-with-ack bench: pytest-roo's driver against python-socketio's AsyncClient and
Artillery's socketio engine.

    .venv/bin/python bench/socketio.py [--clients 50] [--duration 5] [--rounds 3]
                                       [--server python|node] [--tools pytest-roo,artillery]

The same workload for all: ``--clients`` Socket.IO clients (WebSocket transport, default
namespace), each emitting ``echo`` with a 32-character string and waiting for its ack (closed
loop), against the same server pinned to core 0: python-socketio (tests/integration/socketio/
sio_server.py, AsyncServer on aiohttp + uvloop) or, with ``--server node``, node socket.io 4.8
(sio_server.js beside it; ``cd tests/integration/socketio && npm ci`` first). Each client runs
in its own process pinned to core 1. Rounds rotate the tools and the medians are printed, with
the ratios of pytest-roo's figures to each anchor's. Client CPU per ack is measured inside each
client over its measured window (``time.process_time``; node's ``process.cpuUsage`` from the
first user's start to the last user's end). The server is Python too: with enough clients it is
the bottleneck, and the throughput ratio then says little; the CPU per ack says what each
client costs.

Artillery (2.0.34, ``npm install`` at the root; its socketio engine runs socket.io-client 4.8)
has no closed loop of its own: its users all arrive in the first second and each loops ``emit``
with ``acknowledge`` (the ack's data checked) until the measured window ends. Its latencies are
its own summary of ``socketio.response_time`` (from each emit to its ack, Artillery's sketch),
not HdrHistogram data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# bench/ is not put first on sys.path: bench/http.py would shadow the standard library's
# http package. Import the helpers from the root.
sys.path[0] = str(HERE.parent)
from bench._common import (  # noqa: E402
    PYTHON,
    ROOT,
    Server,
    fmt,
    have_two_cores,
    last_json,
    load_average,
    median,
    run_client,
    stamp,
)

SERVERS = ROOT / "tests" / "integration" / "socketio"

ROO = r"""
import json, sys, time
import aiohttp, numpy, hdrh.histogram, uvloop  # imported before the CPU clock starts
from pytest_roo.load.socketio import SioSwarm
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
c0 = time.process_time()
r = SioSwarm(max_generator_cpu=4.0).call(url, "echo", clients=clients, duration=duration,
                                         message_size=32)
cpu = time.process_time() - c0
m = r.get_metric("ack_raw")
print(json.dumps({"acks": m.count, "seconds": r.duration, "cpu": cpu,
                  "errors": r.error_count,
                  "p50": m.percentile(50) * 1e3, "p95": m.percentile(95) * 1e3,
                  "p99": m.percentile(99) * 1e3}))
"""

REFERENCE = r"""
import asyncio, json, sys, time
import aiohttp, numpy as np, socketio, uvloop
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
PAYLOAD = "x" * 32
samples = []
async def main():
    c0 = time.process_time()
    conns = []
    for _ in range(clients):
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        await client.connect(url, transports=["websocket"])
        conns.append(client)
    t0 = time.perf_counter()
    end = t0 + duration
    errors = 0
    async def loop(client):
        nonlocal errors
        buf = []
        while time.perf_counter() < end:
            t = time.perf_counter_ns()
            ack = await client.call("echo", PAYLOAD, timeout=5)
            if ack != PAYLOAD:
                errors += 1
            buf.append(time.perf_counter_ns() - t)
        samples.extend(buf)
    await asyncio.gather(*(loop(c) for c in conns))
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    for client in conns:
        await client.disconnect()
    a = np.array(samples) / 1e6
    print(json.dumps({"acks": len(a), "seconds": seconds, "cpu": cpu, "errors": errors,
                      "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
                      "p99": float(np.percentile(a, 99))}))
uvloop.install()
asyncio.run(main())
"""

TOOLS = {"pytest-roo": ROO, "python-socketio": REFERENCE, "artillery": ""}

ARTILLERY_PROCESSOR = r"""
// The measured window of Artillery's socket.io users: node's CPU and the wall time from the
// first user's start to the last user's end; each user loops until ROO_BENCH_SECONDS after
// the first user's start (node's own start-up time is no part of it).
const fs = require("fs");
const SECONDS = Number(process.env.ROO_BENCH_SECONDS);
let started = 0, finished = 0, t0 = null, cpu0 = null, end = 0;
function start(context, ee, next) {
  if (t0 === null) { t0 = Date.now(); cpu0 = process.cpuUsage(); end = t0 + SECONDS * 1000; }
  started++;
  return next();
}
function keepGoing(context, next) { return next(Date.now() < end); }
function finish(context, ee, next) {
  finished++;
  if (finished === started) {
    const cpu = process.cpuUsage(cpu0);
    fs.writeFileSync(process.env.ROO_BENCH_OUT, JSON.stringify({
      seconds: (Date.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 }));
  }
  return next();
}
module.exports = { start, keepGoing, finish };
"""

ARTILLERY_SCENARIO = """
config:
  target: "{url}"
  phases:
    - duration: 1
      arrivalCount: {clients}
  processor: "./processor.js"
  socketio:
    transports: ["websocket"]
scenarios:
  - engine: socketio
    flow:
      - function: "start"
      - loop:
          - emit:
              channel: "echo"
              data: "{payload}"
            acknowledge:
              data: "{payload}"
        whileTrue: "keepGoing"
      - function: "finish"
"""


class SioServer(Server):
    """The python-socketio (or node socket.io) test server in its own process group, pinned to
    the server core."""

    def __init__(self, kind: str) -> None:
        argv = ([PYTHON, str(SERVERS / "sio_server.py"), "--max-seconds", "3600"]
                if kind == "python" else ["node", str(SERVERS / "sio_server.js")])
        super().__init__(argv=argv, cwd=SERVERS)
        self.url = self.http("")


def run_artillery(url: str, clients: int, duration: float) -> dict[str, Any]:
    """Artillery's socketio engine, pinned to the client core; figures from its report."""
    import json
    import tempfile

    from pytest_roo.artillery import find_artillery

    with tempfile.TemporaryDirectory(prefix="roo-bench-sio-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "processor.js").write_text(ARTILLERY_PROCESSOR)
        (tmp / "echo.yml").write_text(ARTILLERY_SCENARIO.format(url=url, clients=clients,
                                                                payload="x" * 32))
        out, report = tmp / "window.json", tmp / "report.json"
        _, rss = run_client(
            [*find_artillery(ROOT), "run", "--output", str(report), str(tmp / "echo.yml")],
            timeout=duration + 180, cwd=tmp,
            env={"ROO_BENCH_OUT": str(out), "ROO_BENCH_SECONDS": str(duration),
                 "ARTILLERY_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"})
        window = json.loads(out.read_text())
        aggregate = json.loads(report.read_text())["aggregate"]
    counters = aggregate["counters"]
    summary = aggregate["summaries"].get("socketio.response_time", {})
    acks = int(summary.get("count", 0))
    return {"acks": acks, "seconds": window["seconds"], "cpu": window["cpu"],
            "errors": sum(int(v) for k, v in counters.items() if k.startswith("errors.")),
            "p50": summary.get("p50"), "p95": summary.get("p95"), "p99": summary.get("p99"),
            "rate": acks / window["seconds"] if window["seconds"] else None,
            "cpu_us": window["cpu"] / acks * 1e6 if acks else None, "rss": rss}


def run_tool(name: str, url: str, clients: int, duration: float) -> dict[str, Any]:
    if name == "artillery":
        return run_artillery(url, clients, duration)
    out, rss = run_client([PYTHON, "-c", TOOLS[name], url, str(clients), str(duration)],
                          timeout=duration + 120,
                          env={"PYTHONPATH": str(ROOT)})
    data = last_json(out)
    data["rate"] = data["acks"] / data["seconds"] if data["seconds"] else None
    data["cpu_us"] = data["cpu"] / data["acks"] * 1e6 if data["acks"] else None
    data["rss"] = rss
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", choices=("python", "node"), default="python")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, from {', '.join(TOOLS)}. Default: all")
    args = parser.parse_args()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown or "pytest-roo" not in tools:
        parser.error(f"--tools {args.tools!r}: expected pytest-roo and any of "
                     f"{', '.join(TOOLS)}, comma-separated")
    if "artillery" in tools:
        from pytest_roo.artillery import ArtilleryUnavailable, find_artillery

        try:
            find_artillery(ROOT)
        except ArtilleryUnavailable as exc:
            print(f"note: Artillery left out: {exc}")
            tools.remove("artillery")
    print(f"socket.io emit-with-ack bench, {args.server} server, {stamp()}; {load_average()}")
    if not have_two_cores():
        print("note: fewer than two cores: server and client share one")
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tools}
    server = SioServer(args.server)
    try:
        for k in range(args.rounds):
            order = tools[k % len(tools):] + tools[:k % len(tools)]
            for name in order:
                data = run_tool(name, server.url, args.clients, args.duration)
                rows[name].append(data)
                print(f"  round {k + 1} {name:16s} {fmt(data['rate'], '8.0f')} acks/s  "
                      f"{fmt(data['cpu_us'], '6.1f')} us CPU/ack  p50 {fmt(data['p50'], '.2f')} "
                      f"ms  p99 {fmt(data['p99'], '.2f')} ms  errors {data['errors']}",
                      flush=True)
    finally:
        server.stop()
    print(f"\nmedians of {args.rounds} rounds, {args.clients} clients, {args.duration:g} s, "
          "32-char payload, closed loop")
    print(f"{'client':16s} {'acks/s':>8s} {'CPU us/ack':>10s} {'p50 ms':>7s} {'p95 ms':>7s} "
          f"{'p99 ms':>7s} {'RSS MB':>7s}")
    med: dict[str, dict[str, float | None]] = {}
    for name, runs in rows.items():
        med[name] = {key: median([r[key] for r in runs])
                     for key in ("rate", "cpu_us", "p50", "p95", "p99", "rss")}
        m = med[name]
        print(f"{name:16s} {fmt(m['rate'], '8.0f')} {fmt(m['cpu_us'], '10.1f')} "
              f"{fmt(m['p50'], '7.2f')} {fmt(m['p95'], '7.2f')} {fmt(m['p99'], '7.2f')} "
              f"{fmt(m['rss'], '7.0f')}")
    roo = med["pytest-roo"]
    print()
    for anchor in (t for t in tools if t != "pytest-roo"):
        ref = med[anchor]
        ratios = {key: f"{roo[key] / ref[key]:.2f}x" if roo[key] and ref[key] else "-"
                  for key in ("rate", "cpu_us", "p50", "p99")}
        print(f"pytest-roo / {anchor}: throughput {ratios['rate']}, client CPU per ack "
              f"{ratios['cpu_us']}, p50 {ratios['p50']}, p99 {ratios['p99']}")


if __name__ == "__main__":
    main()
