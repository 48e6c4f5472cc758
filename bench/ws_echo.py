"""Echo swarm bench: pytest-roo (picows and aiohttp drivers) against Locust, Artillery and bare
aiohttp+uvloop and picows+uvloop loops.

    .venv/bin/python bench/ws_echo.py [--clients 100] [--duration 10] [--rounds 3]
    .venv/bin/python bench/ws_echo.py --idle 10000

The same workload for every tool: ``--clients`` WebSocket connections, each sending a 32-byte
text frame and waiting for its echo (closed loop), against the same server
(bench/servers/ws_server.py, aiohttp + uvloop, pinned to core 0). Every client runs in its own
process pinned to core 1. Rounds alternate the tools and the medians are printed, with the ratio
of pytest-roo's throughput to each tool's. Client CPU per message is measured inside each client
over its measured window (``time.process_time``, Node's ``process.cpuUsage``, Locust's
test_start/test_stop hooks); RSS is the peak of the client's process tree.

"pytest-roo" is ``WsSwarm().echo`` with its default driver (picows where it imports),
"roo-aiohttp" the same run with ``ROO_WS_DRIVER=aiohttp``; "bare-aiohttp" and "bare-picows"
are the least a Python client can do per message with each library (send, await the echo,
append the time; no checks, no histograms). Targets: pytest-roo's client CPU per message at
most the bare aiohttp loop's and at least 2.5x less than Artillery's with its timing processor.

Anchors: Locust + websocket-client (``.venv/bin/pip install locust websocket-client``, the
``bench`` extra), Artillery (``cd bench && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install``),
once with its native ``send``+``capture`` flow (Artillery's ws engine has no latency metric) and
once with a small JS processor that times send -> echo. ``--tools`` picks a subset.

``--idle N`` holds N idle connections open with pytest-roo (the server in its own process) and
prints the client RSS per connection.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# bench/ is not put first on sys.path: bench/http.py would shadow the standard library's
# http package (aiohttp, locust and urllib import it). Import the helpers from the root.
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

PAYLOAD = "x" * 32

ROO = r"""
import json, sys, time
import aiohttp, numpy, hdrh.histogram, uvloop  # imported before the CPU clock starts
try:
    import picows
except ImportError:
    pass
from pytest_roo.load import WsSwarm
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
c0 = time.process_time()
r = WsSwarm(max_generator_cpu=4.0).echo(url, clients=clients, duration=duration,
                                        message_size=32)
cpu = time.process_time() - c0
m = r.get_metric("rtt_raw")
print(json.dumps({"msgs": m.count, "seconds": r.duration, "cpu": cpu,
                  "errors": r.error_count,
                  "p50": m.percentile(50) * 1e3, "p95": m.percentile(95) * 1e3,
                  "p99": m.percentile(99) * 1e3}))
"""

BARE = r"""
import asyncio, json, sys, time
import aiohttp, numpy as np, uvloop
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
samples = []
async def main():
    c0 = time.process_time()
    async with aiohttp.ClientSession() as http:
        conns = [await http.ws_connect(url, compress=0) for _ in range(clients)]
        t0 = time.perf_counter()
        end = t0 + duration
        async def loop(ws):
            buf = []
            while time.perf_counter() < end:
                t = time.perf_counter_ns()
                await ws.send_str("x" * 32)
                await ws.receive()
                buf.append(time.perf_counter_ns() - t)
            samples.extend(buf)
        await asyncio.gather(*(loop(ws) for ws in conns))
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0
        for ws in conns:
            await ws.close()
    a = np.array(samples) / 1e6
    print(json.dumps({"msgs": len(a), "seconds": seconds, "cpu": cpu, "errors": 0,
                      "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
                      "p99": float(np.percentile(a, 99))}))
uvloop.install()
asyncio.run(main())
"""

BARE_PICOWS = r"""
import asyncio, json, sys, time
import numpy as np, uvloop
import picows
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
samples = []
TEXT = picows.WSMsgType.TEXT


class Echo(picows.WSListener):
    waiter = None

    def on_ws_frame(self, transport, frame):
        if frame.msg_type is TEXT and self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            waiter.set_result(frame.get_payload_as_utf8_text())


async def main():
    loop = asyncio.get_running_loop()
    c0 = time.process_time()
    conns = [await picows.ws_connect(Echo, url) for _ in range(clients)]
    t0 = time.perf_counter()
    end = t0 + duration
    async def one(transport, listener):
        buf = []
        while time.perf_counter() < end:
            t = time.perf_counter_ns()
            listener.waiter = waiter = loop.create_future()
            transport.send(TEXT, ("x" * 32).encode())
            await waiter
            buf.append(time.perf_counter_ns() - t)
        samples.extend(buf)
    await asyncio.gather(*(one(t, l) for t, l in conns))
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    for transport, _ in conns:
        transport.send_close()
        transport.disconnect()
    a = np.array(samples) / 1e6
    print(json.dumps({"msgs": len(a), "seconds": seconds, "cpu": cpu, "errors": 0,
                      "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
                      "p99": float(np.percentile(a, 99))}))
uvloop.install()
asyncio.run(main())
"""

LOCUSTFILE = r"""
import json, os, time
import numpy as np
import websocket
from locust import User, events, task

PAYLOAD = "x" * 32
samples = []
state = {}


class EchoUser(User):
    def on_start(self):
        self.ws = websocket.create_connection(self.host, timeout=5)

    @task
    def echo(self):
        t0 = time.perf_counter()
        self.ws.send(PAYLOAD)
        self.ws.recv()
        dt = time.perf_counter() - t0
        samples.append(dt)
        events.request.fire(request_type="WS", name="echo", response_time=dt * 1000,
                            response_length=32, exception=None, context={})

    def on_stop(self):
        self.ws.close()


@events.test_start.add_listener
def _start(environment, **kw):
    state["t0"] = time.perf_counter()
    state["c0"] = time.process_time()


@events.test_stop.add_listener
def _stop(environment, **kw):
    seconds = time.perf_counter() - state["t0"]
    cpu = time.process_time() - state["c0"]
    a = np.array(samples) * 1e3
    stats = environment.stats.total
    with open(os.environ["ROO_BENCH_OUT"], "w") as f:
        json.dump({"msgs": len(a), "seconds": seconds, "cpu": cpu,
                   "errors": stats.num_failures,
                   "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
                   "p99": float(np.percentile(a, 99)),
                   "locust_p95": stats.get_response_time_percentile(0.95)}, f)
"""

PROCESSOR = r"""
// Times send -> echo for Artillery's ws engine (which has no latency metric of its own)
// and measures the process's CPU over the run.
const fs = require("fs");
const END = Number(process.env.ROO_BENCH_END_MS);
const OUT = process.env.ROO_BENCH_OUT;
const PAYLOAD = "x".repeat(32);
const lat = [];
let sent = 0, started = 0, finished = 0, t0 = null, cpu0 = null;

function start(context, ee, next) {
  if (t0 === null) { t0 = Date.now(); cpu0 = process.cpuUsage(); }
  started++;
  return next();
}
function keepGoing(context, next) { return next(Date.now() < END); }
function echoTimed(context, ee, next) {
  const t = process.hrtime.bigint();
  context.ws.once("message", () => {
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    lat.push(ms);
    ee.emit("histogram", "ws.rtt_ms", ms);
    next();
  });
  sent++;
  context.ws.send(PAYLOAD);
}
function finish(context, ee, next) {
  finished++;
  if (finished === started) {
    const cpu = process.cpuUsage(cpu0);
    lat.sort((a, b) => a - b);
    const p = (q) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : null;
    fs.writeFileSync(OUT, JSON.stringify({
      msgs: sent, seconds: (Date.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6,
      p50: p(0.5), p95: p(0.95), p99: p(0.99), errors: 0 }));
  }
  return next();
}
module.exports = { start, keepGoing, echoTimed, finish };
"""

ARTILLERY_NATIVE_FLOW = """
      - function: "start"
      - loop:
          - send:
              payload: "{payload}"
              capture:
                regexp: "(x+)"
                as: "echo"
        whileTrue: "keepGoing"
      - function: "finish"
"""

ARTILLERY_RTT_FLOW = """
      - function: "start"
      - loop:
          - function: "echoTimed"
        whileTrue: "keepGoing"
      - function: "finish"
"""

ARTILLERY_CONFIG = """
config:
  target: "{url}"
  phases:
    - duration: 1
      arrivalCount: {clients}
  processor: "./processor.js"
scenarios:
  - engine: ws
    flow:
{flow}
"""

LOCUST_INSTALL = f"{PYTHON} -m pip install 'locust>=2.20' 'websocket-client>=1.7'"
ARTILLERY_INSTALL = f"cd {HERE} && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install"
ARTILLERY_BIN = HERE / "node_modules" / "artillery" / "bin" / "run"


def run_roo(url: str, clients: int, duration: float, tmp: Path,
            driver: str = "picows") -> dict[str, Any]:
    out, rss = run_client([PYTHON, "-c", ROO, url, str(clients), str(duration)],
                          timeout=duration + 120, cwd=ROOT, env={"ROO_WS_DRIVER": driver})
    return {**last_json(out), "rss_mb": rss}


def run_roo_aiohttp(url: str, clients: int, duration: float, tmp: Path) -> dict[str, Any]:
    return run_roo(url, clients, duration, tmp, driver="aiohttp")


def run_bare_picows(url: str, clients: int, duration: float, tmp: Path) -> dict[str, Any]:
    out, rss = run_client([PYTHON, "-c", BARE_PICOWS, url, str(clients), str(duration)],
                          timeout=duration + 120, cwd=ROOT)
    return {**last_json(out), "rss_mb": rss}


def run_bare(url: str, clients: int, duration: float, tmp: Path) -> dict[str, Any]:
    out, rss = run_client([PYTHON, "-c", BARE, url, str(clients), str(duration)],
                          timeout=duration + 120, cwd=ROOT)
    return {**last_json(out), "rss_mb": rss}


def run_locust(url: str, clients: int, duration: float, tmp: Path) -> dict[str, Any]:
    locustfile = tmp / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    result = tmp / "locust.json"
    result.unlink(missing_ok=True)
    locust = Path(PYTHON).with_name("locust")
    _, rss = run_client(
        [str(locust), "-f", str(locustfile), "--headless", "-u", str(clients), "-r", "1000",
         "-t", f"{int(duration)}s", "-H", url, "--only-summary", "--loglevel", "WARNING",
         "--stop-timeout", "5"],
        timeout=duration + 120, env={"ROO_BENCH_OUT": str(result)}, cwd=tmp,
    )
    return {**json.loads(result.read_text()), "rss_mb": rss}


def _run_artillery(url: str, clients: int, duration: float, tmp: Path,
                   native: bool) -> dict[str, Any]:
    import time

    (tmp / "processor.js").write_text(PROCESSOR)
    flow = ARTILLERY_NATIVE_FLOW.format(payload=PAYLOAD) if native else ARTILLERY_RTT_FLOW
    (tmp / "echo.yml").write_text(ARTILLERY_CONFIG.format(url=url, clients=clients, flow=flow))
    result = tmp / "artillery.json"
    report = tmp / "report.json"
    for f in (result, report):
        f.unlink(missing_ok=True)
    end_ms = int((time.time() + 8.0 + duration) * 1000)  # up to 8 s of Node start-up first
    _, rss = run_client(
        ["node", str(ARTILLERY_BIN), "run", "--output", str(report), str(tmp / "echo.yml")],
        timeout=duration + 180, cwd=tmp,
        env={"ROO_BENCH_OUT": str(result), "ROO_BENCH_END_MS": str(end_ms),
             "ARTILLERY_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"},
    )
    data = json.loads(result.read_text())
    if native:
        counters = json.loads(report.read_text())["aggregate"]["counters"]
        data["msgs"] = int(counters.get("websocket.messages_sent", 0))
        data["errors"] = sum(int(v) for k, v in counters.items() if k.startswith("errors."))
        data["p50"] = data["p95"] = data["p99"] = None
    return {**data, "rss_mb": rss}


def run_artillery(url: str, clients: int, duration: float, tmp: Path) -> dict[str, Any]:
    return _run_artillery(url, clients, duration, tmp, native=True)


def run_artillery_rtt(url: str, clients: int, duration: float, tmp: Path) -> dict[str, Any]:
    return _run_artillery(url, clients, duration, tmp, native=False)


TOOLS = {
    "pytest-roo": run_roo,
    "roo-aiohttp": run_roo_aiohttp,
    "bare-aiohttp": run_bare,
    "bare-picows": run_bare_picows,
    "locust": run_locust,
    "artillery": run_artillery,
    "artillery+rtt": run_artillery_rtt,
}
TARGETS = {"bare-aiohttp": 0.85, "locust": 3.0, "artillery": 1.7, "artillery+rtt": 1.7}
#: client CPU per message, the tool's over pytest-roo's, at least
CPU_TARGETS = {"bare-aiohttp": 1.0, "artillery+rtt": 2.5}


def check_installed(tools: list[str]) -> None:
    missing = []
    # find, not import: importing locust would monkey-patch this process with gevent
    if "locust" in tools and any(
        importlib.util.find_spec(m) is None for m in ("locust", "websocket")
    ):
        missing.append(f"Locust and websocket-client: {LOCUST_INSTALL}")
    if "bare-picows" in tools and importlib.util.find_spec("picows") is None:
        missing.append(f"picows: {PYTHON} -m pip install 'picows==2.3.1'")
    if any(t.startswith("artillery") for t in tools):
        if shutil.which("node") is None:
            missing.append("Node.js 20+ (apt-get install -y nodejs npm)")
        elif not ARTILLERY_BIN.exists():
            missing.append(f"Artillery: {ARTILLERY_INSTALL}")
    if missing:
        print("missing anchors (install them, or pick --tools):", file=sys.stderr)
        for line in missing:
            print("  " + line, file=sys.stderr)
        raise SystemExit(2)


def echo_bench(args: argparse.Namespace) -> None:
    tools = args.tools.split(",")
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise SystemExit(f"unknown --tools {unknown}: expected some of {', '.join(TOOLS)}")
    if "pytest-roo" not in tools:
        tools.insert(0, "pytest-roo")
    check_installed(tools)
    print(f"# ws echo: {args.clients} connections, 32-byte frames, closed loop, "
          f"{args.duration:.0f}s x {args.rounds} rounds; {stamp()}; {load_average()}")
    if not have_two_cores():
        print("# warning: fewer than 2 cores; server and client share one")
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    with Server() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.ws("/ws/echo")
        for rnd in range(args.rounds):
            order = tools if rnd % 2 == 0 else list(reversed(tools))
            for tool in order:
                s0 = server.cpu_seconds()
                r = TOOLS[tool](url, args.clients, args.duration, Path(tmp))
                r["server_cpu"] = (server.cpu_seconds() - s0) / max(r["seconds"], 1e-3)
                r["rate"] = r["msgs"] / max(r["seconds"], 1e-3)
                runs[tool].append(r)
                print(f"  round {rnd + 1} {tool:14} {r['rate']:9.0f} msgs/s  "
                      f"{r['cpu'] / max(r['msgs'], 1) * 1e6:6.1f} us/msg  "
                      f"errors {r.get('errors', 0)}", flush=True)
    base = median([r["rate"] for r in runs["pytest-roo"]]) or 1.0
    base_cpu = median([r["cpu"] / max(r["msgs"], 1) for r in runs["pytest-roo"]]) or 1.0
    print()
    print(f"{'client':14} {'msgs/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'us/msg':>7} {'RSS MB':>7} {'srv CPU':>7} {'roo/x':>6} {'cpu x/roo':>9} "
          f"{'target':>7} {'cpu target':>10}")
    for tool, rs in runs.items():
        rate = median([r["rate"] for r in rs]) or 0.0
        cpu = median([r["cpu"] / max(r["msgs"], 1) for r in rs]) or 0.0
        target = TARGETS.get(tool)
        ratio = base / rate if rate else None
        verdict = "" if target is None or ratio is None else (
            f">={target:g} " + ("ok" if ratio >= target else "MISS"))
        cpu_target = CPU_TARGETS.get(tool)
        cpu_verdict = "" if cpu_target is None or not cpu else (
            f">={cpu_target:g} " + ("ok" if cpu / base_cpu >= cpu_target else "MISS"))
        print(f"{tool:14} {rate:9.0f} {fmt(median([r['p50'] for r in rs]), '7.2f')} "
              f"{fmt(median([r['p95'] for r in rs]), '7.2f')} "
              f"{fmt(median([r['p99'] for r in rs]), '7.2f')} {cpu * 1e6:7.1f} "
              f"{median([r['rss_mb'] for r in rs]) or 0:7.0f} "
              f"{median([r['server_cpu'] for r in rs]) or 0:7.0%} {fmt(ratio, '6.2f')} "
              f"{cpu / base_cpu:9.2f} {verdict:>7} {cpu_verdict:>10}")
    print("\nroo/x: pytest-roo's median msgs/s over the tool's (>1: pytest-roo is faster); "
          "cpu x/roo: the tool's client CPU per message over pytest-roo's (>1: pytest-roo "
          "spends less). A server CPU near 100 % means the server was the limit.")


IDLE = r"""
import json, resource, sys, threading, time
import aiohttp, numpy, hdrh.histogram, psutil, uvloop
from pytest_roo.load import WsSwarm
url, clients, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
me = psutil.Process()
before = me.memory_info().rss
samples, stop = [], threading.Event()
def sample():
    while not stop.is_set():
        samples.append((time.perf_counter(), me.memory_info().rss))
        stop.wait(0.25)
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
r = WsSwarm(max_generator_cpu=4.0).echo(url, clients=clients, duration=duration,
                                        rate=f"{clients // 10}/s", timeout=10)
stop.set()
# RSS while every connection is held: the samples of the measured window, one second in from
# both ends (the handshakes before it and the close handshakes after it allocate more)
start = t0 + r.info["setup_seconds"] + 1.0
held = [rss for t, rss in samples if start <= t <= start + duration - 2.0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"connections": r.counters["connections"], "errors": dict(r.errors),
                  "before": before, "peak": peak, "held": sorted(held)[len(held) // 2],
                  "setup": r.info.get("setup_seconds"),
                  "connect_p99": r.percentile("connect", 99)}))
"""


def idle_bench(args: argparse.Namespace) -> None:
    n = args.idle
    print(f"# idle: {n} connections held {args.duration:.0f}s (one message per connection "
          f"over the run); {stamp()}; {load_average()}")
    with Server() as server:
        out, _ = run_client([PYTHON, "-c", IDLE, server.ws("/ws/echo"), str(n),
                             str(args.duration)], timeout=args.duration + 600, cwd=ROOT)
    r = last_json(out)
    conns = max(1, r["connections"])
    held = (r["held"] - r["before"]) / conns
    peak = (r["peak"] - r["before"]) / conns
    print(f"connections {r['connections']}  errors {r['errors']}  setup {r['setup']}s  "
          f"connect p99 {r['connect_p99'] * 1e3:.0f} ms")
    print(f"client RSS before {r['before'] / 2**20:.0f} MB, while held "
          f"{r['held'] / 2**20:.0f} MB, peak {r['peak'] / 2**20:.0f} MB")
    print(f"per connection: {held / 1024:.1f} KB held, {peak / 1024:.1f} KB at the peak "
          f"(handshakes and closing included); target <= 15 KB held: "
          f"{'ok' if held <= 15 * 1024 else 'MISS'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--idle", type=int, default=0, metavar="N",
                    help="hold N idle connections and print the RSS per connection")
    args = ap.parse_args()
    if args.idle:
        idle_bench(args)
    else:
        echo_bench(args)
    _ = subprocess


if __name__ == "__main__":
    main()
