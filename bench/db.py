"""Database load bench: pytest-roo's ``DbLoad`` against pgbench, select-only, same server.

    .venv/bin/python bench/db.py [--clients 100] [--duration 10] [--rounds 3]

A throwaway PostgreSQL 15 started with pytest_roo.services (the library, no pytest), pinned to
core 0 (its backends inherit the postmaster's affinity); ``pgbench -i -s 1`` fills it. Then,
rounds alternating, pgbench's select-only workload (``-S -M prepared -c N -j 1``: one client
thread, so one core) and ``DbLoad.queries`` running the same statement
``SELECT abalance FROM pgbench_accounts WHERE aid = $1`` with random ids over the same number
of connections, each pinned to core 1. Prints transactions per second, latency (pgbench: the
average and standard deviation it reports; pytest-roo: the average and p50/p95/p99 from its
HdrHistogram) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
    fmt,
    load_average,
    median,
    run_client,
    stamp,
)

PGBENCH = Path("/usr/lib/postgresql/15/bin/pgbench")
SELECT = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"

ROO = r"""
import json, random, sys, time
import asyncpg, numpy, hdrh.histogram, uvloop  # imported before the CPU clock starts
from pytest_roo.load import DbLoad
url, clients, duration, rows = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rand = random.Random(7).randint
c0 = time.process_time()
r = DbLoad(url, max_generator_cpu=4.0).queries(
    {"select": (sys.argv[5], lambda i: (rand(1, rows),))}, clients=clients, duration=duration)
cpu = time.process_time() - c0
m = r.get_metric("query")
print(json.dumps({"tps": m.count / r.duration, "count": m.count, "errors": r.error_count,
                  "cpu": cpu, "mean": m.mean * 1e3, "p50": m.percentile(50) * 1e3,
                  "p95": m.percentile(95) * 1e3, "p99": m.percentile(99) * 1e3}))
"""


def start_postgres() -> tuple[Any, Any, Any]:
    from pytest_roo.services import procs
    from pytest_roo.services.local import LocalPostgres

    session_dir = procs.SessionDir()
    pg = LocalPostgres(session_dir)
    server = pg.start()
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    if SERVER_CORE in os.sched_getaffinity(0):
        os.sched_setaffinity(postmaster, {SERVER_CORE})  # backends forked later inherit it
    return session_dir, pg, server


def pgbench(server: Any, *args: str, timeout: float) -> str:
    env = {"PGPASSWORD": server.password}
    argv = [str(PGBENCH), "-h", server.host, "-p", str(server.port), "-U", server.user,
            *args, server.dbname]
    out, _ = run_client(argv, timeout=timeout, env=env)
    return out


def parse_pgbench(out: str) -> dict[str, float | None]:
    def grab(pattern: str) -> float | None:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None

    return {
        "tps": grab(r"tps = ([0-9.]+)"),
        "count": grab(r"number of transactions actually processed: ([0-9]+)"),
        "errors": grab(r"number of failed transactions: ([0-9]+)") or 0.0,
        "mean": grab(r"latency average = ([0-9.]+) ms"),
        "stddev": grab(r"latency stddev = ([0-9.]+) ms"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not PGBENCH.exists():
        raise SystemExit(f"pgbench not found at {PGBENCH}: apt-get install -y postgresql-15 "
                         "(or postgresql-client-15)")
    print(f"# db select-only: {args.clients} connections, {args.duration:.0f}s x {args.rounds} "
          f"rounds; {stamp()}; {load_average()}; server core {SERVER_CORE}, clients core "
          f"{CLIENT_CORE}")
    session_dir, pg, server = start_postgres()
    runs: dict[str, list[dict[str, Any]]] = {"pytest-roo": [], "pgbench": []}
    try:
        pgbench(server, "-i", "-s", "1", "-q", timeout=120)
        rows = 100_000
        for rnd in range(args.rounds):
            order = ["pytest-roo", "pgbench"] if rnd % 2 == 0 else ["pgbench", "pytest-roo"]
            for tool in order:
                if tool == "pgbench":
                    out = pgbench(server, "-S", "-M", "prepared", "-c", str(args.clients),
                                  "-j", "1", "-T", str(int(args.duration)), "-n",
                                  timeout=args.duration + 120)
                    r: dict[str, Any] = dict(parse_pgbench(out))
                else:
                    out, _ = run_client([PYTHON, "-c", ROO, server.url, str(args.clients),
                                         str(args.duration), str(rows), SELECT],
                                        timeout=args.duration + 120, cwd=ROOT)
                    r = json.loads(out.strip().splitlines()[-1])
                runs[tool].append(r)
                print(f"  round {rnd + 1} {tool:10} {r['tps'] or 0:9.0f} tps  "
                      f"errors {r.get('errors', 0):.0f}", flush=True)
    finally:
        pg.stop()
        session_dir.remove()
    roo = median([r["tps"] for r in runs["pytest-roo"]]) or 0.0
    base = median([r["tps"] for r in runs["pgbench"]]) or 0.0
    print()
    print(f"{'client':10} {'tps':>9} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'stddev':>7}")
    for tool, rs in runs.items():
        print(f"{tool:10} {median([r['tps'] for r in rs]) or 0:9.0f} "
              f"{fmt(median([r.get('mean') for r in rs]), '8.2f')} "
              f"{fmt(median([r.get('p50') for r in rs]), '7.2f')} "
              f"{fmt(median([r.get('p95') for r in rs]), '7.2f')} "
              f"{fmt(median([r.get('p99') for r in rs]), '7.2f')} "
              f"{fmt(median([r.get('stddev') for r in rs]), '7.2f')}")
    if base:
        print(f"\npytest-roo / pgbench throughput: {roo / base:.2f} (medians over "
              f"{args.rounds} rounds; pgbench is C with libpq, pytest-roo Python with asyncpg)")


if __name__ == "__main__":
    main()
