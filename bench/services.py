"""Service start, per-test and stop costs: pytest-roo's local backend against pytest-postgresql and
pytest-redis, measured on this machine in one run and printed side by side as ratios.

    python bench/services.py [--runs 10] [--tests 50]

The anchors are measured when pytest-postgresql / pytest-redis / psycopg are importable (the
``bench`` extra: ``pip install 'pytest-roo[bench]'``); as root they run as ``--user`` because
pg_ctl refuses root. Targets (warm cache): PostgreSQL ready <= 100 ms, per-test database
<= 15 ms at p90, Redis ready <= 25 ms, per-test Redis reset <= 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable

from pytest_roo.services import procs
from pytest_roo.services.databases import PostgresDatabases, RedisDatabases
from pytest_roo.services.local import LocalPostgres, LocalRedis, spare_root


def ms(seconds: float) -> float:
    return seconds * 1000.0


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _wait_spares() -> None:
    for thread in threading.enumerate():
        if thread.name == "roo-pg-spare":
            thread.join(30)


def bench_roo(runs: int, tests: int, body: float) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    session_dir = procs.SessionDir()
    try:
        # one cold-ish start fills the cache; it is not counted
        first = LocalPostgres(session_dir)
        first.start()
        first.stop()
        _wait_spares()
        for i in range(runs):
            sub = procs.SessionDir()
            pg = LocalPostgres(sub)
            t0 = time.perf_counter()
            server = pg.start()
            out.setdefault("pg_ready", []).append(time.perf_counter() - t0)
            out.setdefault("pg_ready_" + next(iter(k for k in pg.timings if k != "ready")),
                           []).append(pg.timings["ready"])
            if i == 0:
                databases = PostgresDatabases(server)
                databases.prepare()
                costs: list[float] = []
                for _ in range(tests):
                    t1 = time.perf_counter()
                    db = databases.acquire()
                    setup = time.perf_counter() - t1
                    with db.connect() as conn:
                        conn.query("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
                    time.sleep(body)
                    t2 = time.perf_counter()
                    databases.release(db)
                    costs.append(setup + time.perf_counter() - t2)
                databases.close(drop=False)
                out["pg_per_test"] = costs
            _wait_spares()
            t3 = time.perf_counter()
            pg.stop()
            out.setdefault("pg_stop", []).append(time.perf_counter() - t3)
            sub.remove()
        for i in range(runs):
            redis = LocalRedis(session_dir)
            t0 = time.perf_counter()
            rserver = redis.start()
            out.setdefault("redis_ready", []).append(time.perf_counter() - t0)
            if i == 0:
                rdbs = RedisDatabases(rserver)
                resets = []
                for _ in range(tests):
                    t1 = time.perf_counter()
                    rdbs.acquire()
                    resets.append(time.perf_counter() - t1)
                rdbs.close()
                out["redis_reset"] = resets
            t2 = time.perf_counter()
            redis.stop()
            out.setdefault("redis_stop", []).append(time.perf_counter() - t2)
    finally:
        session_dir.remove()
    summary = {key: ms(statistics.median(values)) for key, values in out.items()}
    summary["pg_per_test_p90"] = ms(p90(out["pg_per_test"]))
    summary["redis_reset_p90"] = ms(p90(out["redis_reset"]))
    return summary


# --- the anchors, in a child process (as --user when root: pg_ctl refuses root) ----------------

ANCHOR = textwrap.dedent(r'''
    import json, statistics, sys, tempfile, time, shutil, os
    runs, tests, body = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    from pytest_postgresql.executor import PostgreSQLExecutor
    from pytest_postgresql.janitor import DatabaseJanitor
    from pytest_redis.executor import RedisExecutor
    import glob, port_for, psycopg, redis as redis_py
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    out = {}
    def med(k, v): out.setdefault(k, []).append(v)
    for i in range(runs):
        tmp = tempfile.mkdtemp(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        port = port_for.select_random()
        ex = PostgreSQLExecutor(executable=bindir + "/pg_ctl", host="127.0.0.1", port=port,
                                datadir=tmp + "/data", unixsocketdir=tmp, logfile=tmp + "/log",
                                startparams="-F -c synchronous_commit=off", dbname="tests",
                                password="pw")
        t0 = time.perf_counter(); ex.start(); med("pg_ready", time.perf_counter() - t0)
        if i == 0:
            costs = []
            tpl = DatabaseJanitor(user=ex.user, host=ex.host, port=ex.port, dbname="tmpl",
                                  version=ex.version, password="pw")
            tpl.init()
            for n in range(tests):
                j = DatabaseJanitor(user=ex.user, host=ex.host, port=ex.port, dbname="tests",
                                    template_dbname="tmpl", version=ex.version, password="pw")
                t1 = time.perf_counter(); j.init(); setup = time.perf_counter() - t1
                with psycopg.connect(host=ex.host, port=ex.port, user=ex.user, dbname="tests",
                                     password="pw") as c:
                    c.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
                time.sleep(body)
                t2 = time.perf_counter(); j.drop(); costs.append(setup + time.perf_counter() - t2)
            out["pg_per_test"] = costs
        t3 = time.perf_counter(); ex.stop(); med("pg_stop", time.perf_counter() - t3)
        shutil.rmtree(tmp, ignore_errors=True)
    for i in range(runs):
        tmp = tempfile.mkdtemp(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        rx = RedisExecutor(executable="redis-server", databases=8, redis_timeout=30,
                           loglevel="warning", host="127.0.0.1", port=port_for.select_random(),
                           timeout=30, save="", datadir=tmp)
        t0 = time.perf_counter(); rx.start(); med("redis_ready", time.perf_counter() - t0)
        if i == 0:
            client = redis_py.Redis(host="127.0.0.1", port=rx.port)
            resets = []
            for n in range(tests):
                t1 = time.perf_counter(); client.flushall(); resets.append(time.perf_counter() - t1)
            out["redis_reset"] = resets
            client.close()
        t2 = time.perf_counter(); rx.stop(); med("redis_stop", time.perf_counter() - t2)
        shutil.rmtree(tmp, ignore_errors=True)
    def p90(v):
        v = sorted(v); return v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
    summary = {k: statistics.median(v) * 1000 for k, v in out.items()}
    summary["pg_per_test_p90"] = p90(out["pg_per_test"]) * 1000
    summary["redis_reset_p90"] = p90(out["redis_reset"]) * 1000
    print(json.dumps(summary))
''')


def bench_anchors(python: str, runs: int, tests: int, body: float,
                  user: str) -> dict[str, float] | str:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(ANCHOR)
    os.chmod(fh.name, 0o644)
    cmd = [python, fh.name, str(runs), str(tests), str(body)]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", user, "--", *cmd]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd="/tmp")
    finally:
        os.unlink(fh.name)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1]
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


ROWS: tuple[tuple[str, str, float | None], ...] = (
    ("PostgreSQL ready (median)", "pg_ready", 100.0),
    ("per-test database (median)", "pg_per_test", None),
    ("per-test database (p90)", "pg_per_test_p90", 15.0),
    ("PostgreSQL stop (median)", "pg_stop", None),
    ("Redis ready (median)", "redis_ready", 25.0),
    ("per-test Redis reset (median)", "redis_reset", None),
    ("per-test Redis reset (p90)", "redis_reset_p90", 1.0),
    ("Redis stop (median)", "redis_stop", None),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="server starts per service")
    parser.add_argument("--tests", type=int, default=50, help="per-test cycles")
    parser.add_argument("--body", type=float, default=0.02,
                        help="seconds each simulated test body takes (default 0.02)")
    parser.add_argument("--anchor-python", default=sys.executable,
                        help="python with pytest-postgresql, pytest-redis, psycopg installed")
    parser.add_argument("--user", default="postgres", help="runs the anchors when root")
    args = parser.parse_args(argv)

    roo = bench_roo(args.runs, args.tests, args.body)
    anchors = bench_anchors(args.anchor_python, args.runs, args.tests, args.body, args.user)
    print(f"pytest-roo local backend vs pytest-postgresql / pytest-redis; {args.runs} starts, "
          f"{args.tests} tests of {args.body * 1000:.0f} ms, {os.cpu_count()} cores, runtime "
          f"dir {procs.runtime_base().parent}, spares in {spare_root()}")
    if isinstance(anchors, str):
        print(f"anchors not measured ({anchors}); pip install 'pytest-roo[bench]' into "
              f"--anchor-python")
    header = f"{'':32}{'pytest-roo':>12}{'anchor':>12}{'ratio':>9}{'target':>10}"
    print(header)
    print("-" * len(header))
    for label, key, target in ROWS:
        ours = roo.get(key)
        theirs = anchors.get(key) if isinstance(anchors, dict) else None
        ratio = f"{theirs / ours:7.1f}x" if ours and theirs else "      -"
        target_text = f"<= {target:g} ms" if target else ""
        ok = "" if target is None or ours is None else (" ok" if ours <= target else " MISS")
        print(f"{label:32}{_fmt(ours):>12}{_fmt(theirs):>12}{ratio:>9}{target_text:>10}{ok}")
    for key in sorted(k for k in roo if k.startswith("pg_ready_")):
        print(f"  PostgreSQL ready via {key[9:]}: {roo[key]:.1f} ms (median of the runs that did)")
    print("ratio = anchor / pytest-roo (higher is better for pytest-roo)")
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


Fn = Callable[[], None]

if __name__ == "__main__":
    raise SystemExit(main())
