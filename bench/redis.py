"""Redis load bench: pytest-roo's ``RedisLoad`` against ``redis-benchmark``, same server.

    .venv/bin/python bench/redis.py [--clients 50] [--duration 10] [--rounds 3]

One throwaway redis-server (no persistence) pinned to core 0, reachable only through a unix
socket in a private 0700 directory (so it needs no password, and none shows in a process list).
Rounds alternate the tools; each client runs in its own process pinned to core 1. pytest-roo runs
twice: with hiredis reading the replies (its default) and with redis-py's pure-Python parser
("roo-pyparser", where hiredis is missing). Workloads:

* ``set`` / ``get``: one command per round trip from ``--clients`` connections, closed loop
  (``redis-benchmark -t set|get -c N -d 3``; ``RedisLoad.command("SET", "key:bench", "xxx")``);
* ``set-P16``: pipelines of 16 SETs (``-P 16``; ``RedisLoad.pipeline([...] * 16)``),
  counted in commands per second.

redis-benchmark has no duration flag: a short calibration run sizes its ``-n`` to last about
``--duration`` seconds. Prints commands per second (medians), latencies and the ratios.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# bench/ is not put first on sys.path: bench/http.py would shadow the standard library's
# http package. Import the helpers from the root.
sys.path[0] = str(HERE.parent)
from bench._common import (  # noqa: E402
    CLIENT_CORE,
    PYTHON,
    ROOT,
    SERVER_CORE,
    fmt,
    load_average,
    median,
    pin,
    run_client,
    stamp,
)

WORKLOADS = ("set", "get", "set-P16")
#: "pytest-roo" reads replies with hiredis (a dependency: redis-py uses it when it imports),
#: "roo-pyparser" with redis-py's pure-Python parser, as where hiredis is missing
TOOLS = ("pytest-roo", "roo-pyparser", "redis-benchmark")

ROO = r"""
import json, sys, time
if sys.argv[5] == "pure":
    sys.modules["hiredis"] = None  # redis-py falls back to its pure-Python reply parser
import redis.asyncio, numpy, hdrh.histogram, uvloop  # imported before the CPU clock starts
from pytest_roo.load.redis import RedisLoad
url, workload, clients, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
from redis.utils import HIREDIS_AVAILABLE
if HIREDIS_AVAILABLE != (sys.argv[5] == "hiredis"):
    raise SystemExit("hiredis is not installed (pip install hiredis)" if sys.argv[5] == "hiredis"
                     else "redis-py still found hiredis: the pure-Python run would measure it")
load = RedisLoad(url, max_generator_cpu=4.0)
c0 = time.process_time()
if workload == "set":
    r = load.command("SET", "key:bench", "xxx", clients=clients, duration=duration)
elif workload == "get":
    r = load.command("GET", "key:bench", expect=b"xxx", clients=clients, duration=duration)
else:
    r = load.pipeline([("SET", "key:bench", "xxx")] * 16, clients=clients, duration=duration)
cpu = time.process_time() - c0
m = r.get_metric(r.primary + "_raw")
per_op = 16 if workload == "set-P16" else 1
ok = r.operations - r.error_count
print(json.dumps({"rps": ok * per_op / r.duration, "errors": r.error_count,
                  "cpu_us": cpu / max(1, ok * per_op) * 1e6,
                  "p50": m.percentile(50) * 1e3, "p95": m.percentile(95) * 1e3,
                  "p99": m.percentile(99) * 1e3}))
"""


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], Path]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    sock = directory / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=pin(SERVER_CORE),
    )
    end = time.monotonic() + 10
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > end:
            stop(proc)
            raise SystemExit("redis-server did not start")
        time.sleep(0.05)
    return proc, sock


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def redis_benchmark(binary: str, sock: Path, workload: str, clients: int, requests: int,
                    timeout: float) -> dict[str, Any]:
    test = "get" if workload == "get" else "set"
    argv = [binary, "-s", str(sock), "-c", str(clients), "-n", str(requests), "-t", test,
            "-d", "3", "--csv"]
    if workload == "set-P16":
        argv += ["-P", "16"]
    c0 = os.times()
    out, _ = run_client(argv, timeout=timeout)
    c1 = os.times()
    rows = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
    if not rows:
        raise SystemExit(f"no CSV row from redis-benchmark:\n{out[-2000:]}")
    row = rows[-1]
    rps = float(row[1])
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return {"rps": rps, "errors": 0, "cpu_us": cpu / max(1, requests) * 1e6,
            "p50": float(row[4]), "p95": float(row[5]), "p99": float(row[6])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated subset of {', '.join(WORKLOADS)}")
    args = ap.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    bad = [w for w in workloads if w not in WORKLOADS]
    if bad:
        raise SystemExit(f"unknown workload(s) {bad}: expected {', '.join(WORKLOADS)}")
    bench_bin = shutil.which("redis-benchmark")
    if bench_bin is None:
        raise SystemExit("redis-benchmark not found: apt-get install -y redis-tools "
                         "(it comes with redis-server)")
    print(f"# redis: {args.clients} connections, {args.duration:.0f}s x {args.rounds} rounds "
          f"per workload; {stamp()}; {load_average()}; server core {SERVER_CORE}, clients core "
          f"{CLIENT_CORE}; unix socket")
    directory = Path(tempfile.mkdtemp(prefix="roo-bench-redis-"))
    os.chmod(directory, 0o700)
    proc, sock = start_redis(directory)
    url = f"unix://{sock}"
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        w: {tool: [] for tool in TOOLS} for w in workloads}
    try:
        for workload in workloads:
            # size redis-benchmark's request count to about --duration seconds
            probe = redis_benchmark(bench_bin, sock, workload, args.clients, 20_000, 120)
            requests = max(20_000, int(probe["rps"] * args.duration))
            for rnd in range(args.rounds):
                order = list(TOOLS) if rnd % 2 == 0 else list(reversed(TOOLS))
                for tool in order:
                    if tool == "redis-benchmark":
                        r = redis_benchmark(bench_bin, sock, workload, args.clients, requests,
                                            args.duration * 10 + 60)
                    else:
                        parser = "hiredis" if tool == "pytest-roo" else "pure"
                        out, _ = run_client([PYTHON, "-c", ROO, url, workload,
                                             str(args.clients), str(args.duration), parser],
                                            timeout=args.duration + 120, cwd=ROOT)
                        r = json.loads(out.strip().splitlines()[-1])
                    runs[workload][tool].append(r)
                    print(f"  {workload:8} round {rnd + 1} {tool:15} {r['rps']:10.0f} cmd/s  "
                          f"errors {r['errors']:.0f}", flush=True)
    finally:
        stop(proc)
        shutil.rmtree(directory, ignore_errors=True)
    print()
    print(f"{'workload':8} {'client':15} {'cmd/s':>10} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'CPU us/cmd':>10}")
    ratios = []
    for workload, by_tool in runs.items():
        for tool, rs in by_tool.items():
            print(f"{workload:8} {tool:15} {median([r['rps'] for r in rs]) or 0:10.0f} "
                  f"{fmt(median([r['p50'] for r in rs]), '7.2f')} "
                  f"{fmt(median([r['p95'] for r in rs]), '7.2f')} "
                  f"{fmt(median([r['p99'] for r in rs]), '7.2f')} "
                  f"{fmt(median([r['cpu_us'] for r in rs]), '10.1f')}")
        roo = median([r["rps"] for r in by_tool["pytest-roo"]]) or 0.0
        pure = median([r["rps"] for r in by_tool["roo-pyparser"]]) or 0.0
        base = median([r["rps"] for r in by_tool["redis-benchmark"]]) or 0.0
        if base:
            ratios.append(f"{workload} {roo / base:.2f} (pure-Python parser {pure / base:.2f})")
    print(f"\npytest-roo / redis-benchmark throughput: {', '.join(ratios)} (medians over "
          f"{args.rounds} rounds; redis-benchmark is C with one thread, pytest-roo Python with "
          "redis.asyncio on uvloop; pytest-roo's latencies are its uncorrected samples)")


if __name__ == "__main__":
    main()
