"""One generator process against two: the throughput ``processes=2`` adds, in one invocation.

    .venv/bin/python bench/processes.py [--target redis|ws] [--clients 100] [--duration 10]
                                        [--rounds 3]

The same closed-loop workload from ``--clients`` connections, run by one process (the plain
driver call) and by ``processes=2`` (``pytest_roo.load.workers.run_spread``: two worker
processes, the clients split, one start instant, results merged), rounds alternating; the
medians and the ratio are printed, with the CPU each side used (client processes and server,
in cores) so that what limits the run can be read off.

Targets:

* ``redis`` (default): ``RedisLoad.command("GET", ...)`` against a throwaway redis-server on a
  unix socket in a private directory. redis-server, in C, spends a fraction of the client's
  CPU per command, so it is the server that is *not* the limit here;
* ``ws``: ``WsSwarm.echo`` against bench/servers/ws_server.py (aiohttp, one process): the
  server costs about what a client costs per message, so on a small machine it becomes the
  limit; shown to say so;
* ``cpu``: no server at all: ``HttpLoad.run`` of a scenario that only spends client CPU
  (bench/_scenarios.py, 16 SHA-256 digests of 1 KB per iteration): what the generator itself
  gains from a second process when nothing else limits it.

"machine busy" is the CPU the whole machine spent over each round (/proc/stat, the
processes' start-up included): what it shows beyond the client and the server is other work
competing for the same cores. Nothing is pinned: the scheduler spreads the server and the generator processes over the
cores. On a 2-core machine two generator processes and the server share two cores, so the
ratio there also measures that sharing; the CPU columns say how much each took.
"""

from __future__ import annotations

import argparse
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
from bench._common import PYTHON, ROOT, fmt, load_average, median, stamp  # noqa: E402

CLIENT = r"""
import json, sys, time
import numpy, hdrh.histogram, uvloop, aiohttp, redis.asyncio  # before the clocks start
from pytest_roo.load.workers import run_spread
target, url, processes, clients, duration = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                             int(sys.argv[4]), float(sys.argv[5]))
if target == "cpu":
    from bench._scenarios import spin
    from pytest_roo.load.http import HttpLoad
    driver, method, args = HttpLoad(max_generator_cpu=4.0), "run", (spin,)
    kwargs = {}
elif target == "redis":
    from pytest_roo.load.redis import RedisLoad
    driver, method, args = RedisLoad(url, max_generator_cpu=4.0), "command", ("GET", "k")
    kwargs = {"expect": b"xxx"}
else:
    from pytest_roo.load import WsSwarm
    driver, method, args = WsSwarm(max_generator_cpu=4.0), "echo", (url,)
    kwargs = {"message_size": 32}
if processes == 1:
    r = getattr(driver, method)(*args, clients=clients, duration=duration, **kwargs)
else:
    r = run_spread(driver, method, *args, processes=processes, clients=clients,
                   duration=duration, **kwargs)
ok = r.operations - r.error_count
print(json.dumps({"ops_s": ok / r.duration, "errors": r.error_count, "seconds": r.duration,
                  "client_cpu": r.generator.get("cpu_seconds", 0.0),
                  "busiest": r.generator.get("cpu", 0.0),
                  "p50": r.percentile(None, 50) * 1e3, "p99": r.percentile(None, 99) * 1e3,
                  "saturated": r.saturated}))
"""


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, wall seconds) from /proc/stat and the clock."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / hz, time.monotonic()


def cpu_seconds(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


class Target:
    """The server under load, in its own process group, not pinned."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        if kind == "cpu":
            self.proc = subprocess.Popen(["sleep", "3600"], start_new_session=True)
            self.url = "-"
        elif kind == "redis":
            binary = shutil.which("redis-server")
            if binary is None:
                raise SystemExit("redis-server not found: apt-get install -y redis-server")
            sock = directory / "redis.sock"
            self.proc = subprocess.Popen(
                [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", str(directory)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            end = time.monotonic() + 10
            while not sock.exists():
                if self.proc.poll() is not None or time.monotonic() > end:
                    self.stop()
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
            self.url = f"unix://{sock}"
            import redis

            redis.Redis(unix_socket_path=str(sock)).set("k", "xxx")
        else:
            self.proc = subprocess.Popen(
                [PYTHON, str(HERE / "servers" / "ws_server.py"), "--max-seconds", "3600"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                start_new_session=True)
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            if not line.startswith("PORT "):
                self.stop()
                raise SystemExit(f"bench server did not start: {line!r}")
            self.url = f"ws://127.0.0.1:{int(line.split()[1])}/ws/echo"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def run_round(target: Target, processes: int, clients: int, duration: float) -> dict[str, Any]:
    server0 = target.cpu()
    busy0, wall0 = machine_busy()
    proc = subprocess.Popen(
        [PYTHON, "-c", CLIENT, target.kind, target.url, str(processes), str(clients),
         str(duration)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        raise SystemExit(f"the {processes}-process client did not finish") from None
    if proc.returncode != 0:
        raise SystemExit(f"the {processes}-process client failed:\n{err[-3000:]}")
    busy1, wall1 = machine_busy()
    data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    # what the whole machine was busy with over the round (start-up included), in cores
    data["machine_cores"] = (busy1 - busy0) / (wall1 - wall0)
    # the server's CPU over the round, spread over the measured seconds (an upper bound: the
    # connection set-up is included)
    data["server_cpu"] = (target.cpu() - server0) / data["seconds"]
    data["client_cores"] = data["client_cpu"] / data["seconds"]
    data["us_per_op"] = data["client_cpu"] / max(1.0, data["ops_s"] * data["seconds"]) * 1e6
    data["server_us_per_op"] = data["server_cpu"] / max(1.0, data["ops_s"]) * 1e6
    data["per_client_core"] = data["ops_s"] / max(1e-6, data["client_cores"])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("redis", "ws", "cpu"), default="redis")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"# bench/processes.py --target {args.target}: {args.clients} clients, closed loop, "
          f"{args.rounds} rounds x {args.duration:g} s, {stamp()}; {load_average()}; "
          f"{cores} usable cores, nothing pinned", flush=True)
    rows: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="roo-bench-") as tmp:
        directory = Path(tmp)
        directory.chmod(0o700)
        target = Target(args.target, directory)
        try:
            for r in range(args.rounds):
                order = (1, 2) if r % 2 == 0 else (2, 1)
                for processes in order:
                    data = run_round(target, processes, args.clients, args.duration)
                    rows[processes].append(data)
                    print(f"round {r + 1} processes={processes}: {data['ops_s']:>9,.0f} ops/s  "
                          f"client {data['client_cores']:.2f} cores ({data['us_per_op']:.1f} "
                          f"us/op)  server {data['server_cpu']:.2f} cores  machine busy "
                          f"{data['machine_cores']:.2f} cores  errors {data['errors']}",
                          flush=True)
        finally:
            target.stop()
    print()
    print("| processes | ops/s | p50 / p99 ms | client CPU (cores) | client CPU us/op | "
          "ops/s per client core | server CPU (cores) | server CPU us/op | machine busy "
          "(cores) |")
    print("|---|---|---|---|---|---|---|---|---|")
    med: dict[int, dict[str, float | None]] = {}
    for processes in (1, 2):
        runs = rows[processes]
        med[processes] = {key: median([run[key] for run in runs])
                          for key in ("ops_s", "p50", "p99", "client_cores", "us_per_op",
                                      "per_client_core", "server_cpu", "server_us_per_op",
                                      "machine_cores")}
        m = med[processes]
        print(f"| {processes} | {fmt(m['ops_s'], ',.0f')} | {fmt(m['p50'], '.2f')} / "
              f"{fmt(m['p99'], '.2f')} | {fmt(m['client_cores'], '.2f')} | "
              f"{fmt(m['us_per_op'], '.1f')} | {fmt(m['per_client_core'], ',.0f')} | "
              f"{fmt(m['server_cpu'], '.2f')} | {fmt(m['server_us_per_op'], '.1f')} | "
              f"{fmt(m['machine_cores'], '.2f')} |")
    one, two = med[1]["ops_s"], med[2]["ops_s"]
    ratio = (two / one) if one and two else None
    print()
    print(f"2 processes / 1 process: {fmt(ratio, '.2f')}x (target >= 1.8x where the server is "
          "not the limit)")
    per_core = [med[p]["per_client_core"] for p in (1, 2)]
    if per_core[0] and per_core[1]:
        print(f"ops/s per client core, 2 processes / 1 process: {per_core[1] / per_core[0]:.2f} "
              "(1.0: the work per operation does not grow with the processes)")
    used = (med[2]["client_cores"] or 0.0) + (med[2]["server_cpu"] or 0.0)
    print(f"with 2 processes the generator and the server used {used:.2f} of {cores} cores")
    client_us, server_us = med[1]["us_per_op"], med[1]["server_us_per_op"]
    if client_us and server_us is not None:
        # with every core to themselves: one process is bounded by its core, two by two cores
        # or, the server sharing them, by all cores at (client + server) CPU per operation
        one_bound = min(1e6 / client_us, cores * 1e6 / (client_us + server_us))
        two_bound = min(2e6 / client_us, cores * 1e6 / (client_us + server_us))
        print(f"bound on {cores} cores shared with the server: one process {one_bound:,.0f} "
              f"ops/s, two {two_bound:,.0f} ops/s = {two_bound / one_bound:.2f}x (client "
              f"{client_us:.1f} us/op, server {server_us:.1f} us/op)")

if __name__ == "__main__":
    main()
