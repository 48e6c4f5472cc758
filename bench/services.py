"""Service start, per-test and stop costs: pytest-roo against pytest-postgresql and pytest-redis,
measured on this machine in ONE run, interleaved, and printed side by side as ratios.

    python bench/services.py [--rounds 3] [--tests 50] [--body 0]

Both sides run real pytest sessions of ``--tests`` tests, timed by the same plugin
(bench/_anchors/roo_bench_timing.py): the first test's setup (it includes the server start),
every other test's setup + teardown (the per-test database / reset, plus pytest's own
per-phase cost, shown separately as the "pytest floor" of a session without service fixtures),
and what the last teardown spends after the per-test fixture is gone (the final stop).
PostgreSQL tests get an open connection from the fixture on both sides. Each round runs every
session once (the order alternates between rounds); the figures are medians over the rounds,
because the machine is shared and noisy. Library-level start/stop timings of pytest-roo's local
servers are measured in the same rounds.

The anchors need a Python with pytest-postgresql, pytest-redis and psycopg. The bench makes a
virtualenv for them (``--anchor-venv``, default /opt/pytest-roo-bench/venv, readable by
everyone) and pip-installs them there on first use; the project's own virtualenv is not
touched. pg_ctl refuses to run as root, so as root the anchor sessions run as ``--user``
(default ``postgres``) with ``runuser``; pytest-roo's sessions run as the invoking user (as
root its servers run as the service user, which is how pytest-roo is used here).

``--docker`` adds the docker backend (an engine from DOCKER_HOST, images from
ROO_POSTGRES_IMAGE / ROO_REDIS_IMAGE: ``eval "$(ci/docker.sh up)"`` here) and a plain
testcontainers session that starts a PostgresContainer per test, in the same rounds.

Targets (warm cache): PostgreSQL ready <= 100 ms, per-test database <= 15 ms at p90, Redis
ready <= 25 ms, per-test Redis reset <= 1 ms.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pytest_roo.services import procs
from pytest_roo.services.databases import RedisDatabases
from pytest_roo.services.local import LocalPostgres, LocalRedis, find_postgres_bin, spare_root

HERE = Path(__file__).resolve().parent
TIMING_PLUGIN = HERE / "_anchors" / "roo_bench_timing.py"
ANCHOR_PACKAGES = ("pytest", "pytest-postgresql", "pytest-redis", "psycopg[binary]")
SESSION_TIMEOUT = 300.0

# --- the test modules: the same tests on both sides ---------------------------------------------

ROO_POSTGRES = '''
import time, pytest

@pytest.fixture
def conn(postgres_db):
    with postgres_db.connect() as c:
        yield c

@pytest.mark.parametrize("i", range({tests}))
def test_db(conn, i):
    conn.query("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    time.sleep({body})
'''

ANCHOR_POSTGRES = '''
import time, pytest

@pytest.mark.parametrize("i", range({tests}))
def test_db(postgresql, i):
    with postgresql.cursor() as cur:
        cur.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    postgresql.commit()
    time.sleep({body})
'''

ROO_REDIS = '''
import time, pytest

@pytest.mark.parametrize("i", range({tests}))
def test_redis(redis_db, i):
    c = redis_db.connect()
    c.command("SET", "k", str(i))
    c.close()
    time.sleep({body})
'''

ANCHOR_REDIS = '''
import time, pytest

@pytest.mark.parametrize("i", range({tests}))
def test_redis(redisdb, i):
    redisdb.set("k", str(i))
    time.sleep({body})
'''

TESTCONTAINERS_POSTGRES = '''
import os, time, pytest
from testcontainers.postgres import PostgresContainer
from pytest_roo.services.models import PostgresServer

@pytest.fixture
def tc_postgres():
    # the plain testcontainers way: a fresh container per test
    with PostgresContainer(os.environ["ROO_POSTGRES_IMAGE"], driver=None) as pg:
        server = PostgresServer(host=pg.get_container_host_ip(), port=int(pg.get_exposed_port(5432)),
                                user=pg.username, password=pg.password, dbname=pg.dbname)
        with server.connect() as c:
            yield c

@pytest.mark.parametrize("i", range({tests}))
def test_db(tc_postgres, i):
    tc_postgres.query("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    time.sleep({body})
'''

FLOOR = '''
import time, pytest

@pytest.fixture
def nothing():
    yield None

@pytest.mark.parametrize("i", range({tests}))
def test_floor(nothing, i):
    time.sleep({body})
'''

# kind -> (module, function-scoped service fixture, server fixture)
ROO_SESSIONS = {
    "postgres": (ROO_POSTGRES, "postgres_db", "postgres_server"),
    "redis": (ROO_REDIS, "redis_db", "redis_server"),
    "floor": (FLOOR, "nothing", ""),
}
ANCHOR_SESSIONS = {
    "postgres": (ANCHOR_POSTGRES, "postgresql", "postgresql_proc"),
    "redis": (ANCHOR_REDIS, "redisdb", "redis_proc"),
    "floor": (FLOOR, "nothing", ""),
}


def ms(seconds: float) -> float:
    return seconds * 1000.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


# --- the anchors' virtualenv --------------------------------------------------------------------


def _as_user(user: str | None, argv: list[str], env: dict[str, str]) -> list[str]:
    """``argv`` with exactly ``env``, run as ``user`` (runuser) when that is someone else."""
    command = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
    if user is None:
        return command
    return ["runuser", "-u", user, "--", *command]


def _other_user(user: str) -> str | None:
    """The account the anchors run as: ``user`` when we are root (pg_ctl refuses root)."""
    return user if os.geteuid() == 0 else None


def _anchor_ready(python: Path, user: str | None) -> str:
    """'' when ``python`` (run as ``user``) imports the anchors; else the reason."""
    if not python.exists():
        return f"{python} does not exist"
    probe = _as_user(user, [str(python), "-c",
                            "import pytest, pytest_postgresql, pytest_redis, psycopg"],
                     {"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    proc = subprocess.run(probe, capture_output=True, text=True, timeout=120, cwd="/")
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["import failed"])[-1]
    return ""


def _base_python(user: str | None) -> str:
    """An interpreter ``user`` can execute: this one when it is reachable, else a system one."""
    candidates = [getattr(sys, "_base_executable", sys.executable), sys.executable,
                  "/usr/bin/python3", shutil.which("python3") or ""]
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        check = _as_user(user, [candidate, "-c", "import venv, ensurepip"],
                         {"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
        if subprocess.run(check, capture_output=True, timeout=60, cwd="/").returncode == 0:
            return candidate
    raise RuntimeError("no Python with the venv module that the anchor user can run; install "
                       "python3-venv (Debian/Ubuntu: apt-get install python3-venv)")


def ensure_anchor_venv(venv: Path, user: str | None) -> Path:
    """A virtualenv at ``venv`` with the anchors installed, usable by ``user``."""
    python = venv / "bin" / "python"
    if not _anchor_ready(python, user):
        return python
    print(f"setting up the anchors' virtualenv in {venv} ({', '.join(ANCHOR_PACKAGES)}) ...",
          flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_base_python(user), "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *ANCHOR_PACKAGES], check=True,
                   timeout=900)
    subprocess.run(["chmod", "-R", "a+rX", str(venv)], check=True, timeout=120)
    reason = _anchor_ready(python, user)
    if reason:
        raise RuntimeError(f"the anchors' virtualenv {venv} is not usable"
                           f"{' by ' + user if user else ''}: {reason}")
    return python


# --- one pytest session -------------------------------------------------------------------------


DOCKER_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "ROO_POSTGRES_IMAGE",
              "ROO_REDIS_IMAGE")


def run_session(kind: str, side: str, tests: int, body: float, anchor_python: Path | None,
                user: str | None) -> dict[str, Any]:
    """One pytest session. ``side``: roo (local backend), roo-docker, anchor (pytest-postgresql
    / pytest-redis) or testcontainers (a PostgresContainer per test)."""
    if side == "testcontainers":
        module, fixture, server = TESTCONTAINERS_POSTGRES, "tc_postgres", ""
    else:
        sessions = ROO_SESSIONS if side.startswith("roo") else ANCHOR_SESSIONS
        module, fixture, server = sessions[kind]
    work = Path(tempfile.mkdtemp(prefix=f"roo-bench-{side}-{kind}-"))
    basetemp = Path("/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()) / (
        f"roo-bench-{os.getpid()}-{side}-{kind}")
    try:
        (work / "test_bench.py").write_text(module.format(tests=tests, body=body))
        shutil.copy(TIMING_PLUGIN, work / TIMING_PLUGIN.name)
        out = work / "timing.json"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "LC_ALL": "C.UTF-8",
            "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1",
            "ROO_BENCH_OUT": str(out), "ROO_BENCH_FIXTURE": fixture, "ROO_BENCH_SERVER": server,
        }
        env.update({k: os.environ[k] for k in DOCKER_ENV if k in os.environ})
        env["TESTCONTAINERS_RYUK_DISABLED"] = "true"  # no registry here serves Ryuk's image
        if "PYTHONPATH" in os.environ and side != "anchor":  # a checkout, not installed
            env["PYTHONPATH"] += os.pathsep + os.environ["PYTHONPATH"]
        args = ["-q", "-p", "no:cacheprovider", "-p", "roo_bench_timing",
                f"--basetemp={basetemp}", "test_bench.py"]
        if side in ("roo", "roo-docker"):
            backend = "local" if side == "roo" else "docker"
            argv = [sys.executable, "-m", "pytest", *args, f"--roo-services={backend}"]
            run_user = None
        elif side == "testcontainers":
            argv = [sys.executable, "-m", "pytest", *args, "-p", "no:roo"]
            run_user = None
        else:
            assert anchor_python is not None
            bindir = find_postgres_bin(None)
            argv = [str(anchor_python), "-m", "pytest", *args, "-p", "no:roo",
                    f"--postgresql-exec={bindir / 'pg_ctl'}",
                    f"--redis-exec={shutil.which('redis-server') or 'redis-server'}"]
            run_user = user
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chmod(work, 0o755)
                for path in [work, *work.iterdir()]:
                    os.chown(path, entry.pw_uid, entry.pw_gid)
        started = time.perf_counter()
        proc = subprocess.run(_as_user(run_user, argv, env), cwd=work, capture_output=True,
                              text=True, timeout=SESSION_TIMEOUT)
        wall = time.perf_counter() - started
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"{side} {kind} session failed ({proc.returncode}):\n{tail}")
        data: dict[str, Any] = json.loads(out.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(basetemp, ignore_errors=True)
    runs = data["tests"]
    per_test = [t["setup"] + t["teardown"] for t in runs[1:]]
    return {
        "first_test": ms(runs[0]["setup"]),
        "server_fixture": ms(data["server_setup"]) if data.get("server_setup") else None,
        "per_test_p50": ms(statistics.median(per_test)),
        "per_test_p90": ms(pct(per_test, 0.9)),
        "per_test_max": ms(max(per_test)),
        "per_test_all": [round(ms(v), 2) for v in per_test],
        "stop": ms(runs[-1]["after_fixture"]),
        "wall": ms(wall),
    }


# --- library level: pytest-roo's servers without pytest -----------------------------------------


def _wait_spares() -> None:
    for thread in threading.enumerate():
        if thread.name == "roo-pg-spare":
            thread.join(30)


def bench_library(starts: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for _ in range(starts):
        session_dir = procs.SessionDir()
        try:
            pg = LocalPostgres(session_dir)
            t0 = time.perf_counter()
            pg.start()
            out.setdefault("pg_ready", []).append(ms(time.perf_counter() - t0))
            how = next((k for k in pg.timings if k != "ready"), "")
            out.setdefault(f"pg_ready_via_{how}", []).append(ms(pg.timings["ready"]))
            _wait_spares()
            t1 = time.perf_counter()
            pg.stop()
            out.setdefault("pg_stop", []).append(ms(time.perf_counter() - t1))
            redis = LocalRedis(session_dir)
            t0 = time.perf_counter()
            server = redis.start()
            out.setdefault("redis_ready", []).append(ms(time.perf_counter() - t0))
            databases = RedisDatabases(server)
            databases.acquire()  # the kept connection
            for _ in range(20):
                t1 = time.perf_counter()
                databases.acquire()
                out.setdefault("redis_flushdb", []).append(ms(time.perf_counter() - t1))
            databases.close()
            t1 = time.perf_counter()
            redis.stop()
            out.setdefault("redis_stop", []).append(ms(time.perf_counter() - t1))
        finally:
            session_dir.remove()
    return out


# --- the run ------------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def docker_table(figure: Any) -> dict[str, Any]:
    """The docker backend beside the local one, pytest-postgresql and plain testcontainers."""
    columns = [("roo", "local"), ("roo-docker", "docker"), ("anchor", "pytest-pg/redis"),
               ("testcontainers", "tc/test")]
    print()
    print("docker backend (ratio = docker / local: the docker backend's extra cost)")
    header = f"{'':38}" + "".join(f"{name:>16}" for _, name in columns) + f"{'docker/local':>14}"
    print(header)
    print("-" * len(header))
    rows = [("PostgreSQL: first test (server start)", "postgres", "first_test"),
            ("PostgreSQL: per-test database p50", "postgres", "per_test_p50"),
            ("PostgreSQL: per-test database p90", "postgres", "per_test_p90"),
            ("PostgreSQL: final stop", "postgres", "stop"),
            ("PostgreSQL: whole session (process)", "postgres", "wall"),
            ("Redis: first test (server start)", "redis", "first_test"),
            ("Redis: per-test reset p90", "redis", "per_test_p90"),
            ("Redis: final stop", "redis", "stop")]
    out: dict[str, Any] = {}
    for label, kind, key in rows:
        values = {side: figure(side, kind, key) for side, _ in columns}
        local, docker = values["roo"], values["roo-docker"]
        ratio = f"{docker / local:12.2f}x" if local and docker else "            -"
        print(f"{label:38}" + "".join(f"{_fmt(values[side]):>16}" for side, _ in columns)
              + f"{ratio:>14}")
        out[f"{kind}.{key}"] = values
    print("tc/test: a testcontainers PostgresContainer per test (its per-test figure is a whole "
          "container start and stop); target: docker per-test database p90 <= 1.5x local")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--tests", type=int, default=50, help="tests per session (default 50)")
    parser.add_argument("--body", type=float, default=0.0,
                        help="seconds each test body sleeps (default 0)")
    parser.add_argument("--starts", type=int, default=3,
                        help="library-level server starts per round (default 3)")
    parser.add_argument("--anchor-venv", type=Path, default=Path("/opt/pytest-roo-bench/venv"),
                        help="virtualenv for pytest-postgresql / pytest-redis (made if missing)")
    parser.add_argument("--user", default="postgres",
                        help="runs the anchor sessions when this bench runs as root")
    parser.add_argument("--no-anchors", action="store_true", help="measure pytest-roo only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--docker", action="store_true",
                        help="also the docker backend and a plain testcontainers "
                             "PostgresContainer per test (needs an engine: DOCKER_HOST, "
                             "ROO_POSTGRES_IMAGE / ROO_REDIS_IMAGE, e.g. from ci/docker.sh)")
    parser.add_argument("--tc-tests", type=int, default=5,
                        help="tests per testcontainers session (a container each; default 5)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.tests < 3 or args.body < 0:
        parser.error("--rounds must be >= 1, --tests >= 3 and --body >= 0")

    user = _other_user(args.user)
    anchor_python: Path | None = None
    anchor_error = ""
    if not args.no_anchors:
        try:
            anchor_python = ensure_anchor_venv(args.anchor_venv, user)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            anchor_error = str(exc)

    sides = ["roo"] + (["anchor"] if anchor_python is not None else [])
    extra: list[tuple[str, str]] = []  # the docker comparison's sessions
    if args.docker:
        extra = [("roo-docker", "postgres"), ("roo-docker", "redis"),
                 ("testcontainers", "postgres")]
    # one warm-up session per side and kind fills caches (initdb image, .pyc files); not counted
    print("warming up ...", flush=True)
    for side in sides:
        for kind in ("postgres", "redis"):
            run_session(kind, side, 3, 0.0, anchor_python, user)
    for side, kind in extra:
        run_session(kind, side, 3, 0.0, anchor_python, user)
    sessions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    library: dict[str, list[float]] = {}
    for round_no in range(args.rounds):
        order = [(side, kind) for kind in ("postgres", "redis", "floor") for side in sides]
        order += extra
        if round_no % 2:
            order.reverse()
        for side, kind in order:
            print(f"round {round_no + 1}/{args.rounds}: {side} {kind}", flush=True)
            tests = args.tc_tests if side == "testcontainers" else args.tests
            result = run_session(kind, side, tests, args.body, anchor_python, user)
            sessions.setdefault((side, kind), []).append(result)
        for key, values in bench_library(args.starts).items():
            library.setdefault(key, []).extend(values)

    def figure(side: str, kind: str, key: str) -> float | None:
        return _median([r[key] for r in sessions.get((side, kind), [])])

    load = os.getloadavg()
    print()
    print(f"pytest-roo (local backend) vs pytest-postgresql / pytest-redis, "
          f"{datetime.date.today().isoformat()}: {args.rounds} interleaved rounds, sessions of "
          f"{args.tests} tests with {args.body * 1000:.0f} ms bodies, {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; medians over the rounds")
    if anchor_error:
        print(f"anchors not measured: {anchor_error}")
    header = f"{'':44}{'pytest-roo':>12}{'anchor':>12}{'ratio':>9}"
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, str, str]] = [
        ("PostgreSQL: first test (server start)", "postgres", "first_test"),
        ("PostgreSQL: server fixture", "postgres", "server_fixture"),
        ("PostgreSQL: per-test database p50", "postgres", "per_test_p50"),
        ("PostgreSQL: per-test database p90", "postgres", "per_test_p90"),
        ("PostgreSQL: final stop", "postgres", "stop"),
        ("PostgreSQL: whole session (process)", "postgres", "wall"),
        ("Redis: first test (server start)", "redis", "first_test"),
        ("Redis: server fixture", "redis", "server_fixture"),
        ("Redis: per-test reset p50", "redis", "per_test_p50"),
        ("Redis: per-test reset p90", "redis", "per_test_p90"),
        ("Redis: final stop", "redis", "stop"),
        ("Redis: whole session (process)", "redis", "wall"),
        ("pytest floor: per test, no service p50", "floor", "per_test_p50"),
        ("pytest floor: per test, no service p90", "floor", "per_test_p90"),
    ]
    figures: dict[str, Any] = {"date": datetime.date.today().isoformat(), "rounds": args.rounds,
                               "tests": args.tests, "body": args.body, "load": load,
                               "sessions": {}, "library": {}}
    for label, kind, key in rows:
        ours, theirs = figure("roo", kind, key), figure("anchor", kind, key)
        ratio = f"{theirs / ours:7.1f}x" if ours and theirs else "      -"
        print(f"{label:44}{_fmt(ours):>12}{_fmt(theirs):>12}{ratio:>9}")
        figures["sessions"][f"{kind}.{key}"] = {"roo": ours, "anchor": theirs}
    print("ratio = anchor / pytest-roo (higher is better for pytest-roo); per-test figures "
          "include pytest's own per-test cost (the floor)")
    print()
    print(f"pytest-roo library level ({args.starts * args.rounds} starts), medians:")
    for key in sorted(library):
        figures["library"][key] = statistics.median(library[key])
        print(f"  {key:24}{_fmt(statistics.median(library[key])):>12}"
              f"   (n={len(library[key])})")
    print(f"  runtime dir {procs.runtime_base().parent}, spares in {spare_root()}")

    if args.docker:
        figures["docker"] = docker_table(figure)

    floor_roo = figure("roo", "floor", "per_test_p50") or 0.0
    checks = [
        ("PostgreSQL ready (library, median) <= 100 ms",
         _median(list(library.get("pg_ready", []))), 100.0),
        ("per-test database p90, net of the pytest floor <= 15 ms",
         (figure("roo", "postgres", "per_test_p90") or 0.0) - floor_roo, 15.0),
        ("Redis ready (library, median) <= 25 ms",
         _median(list(library.get("redis_ready", []))), 25.0),
        ("per-test Redis reset p90, net of the pytest floor <= 1 ms",
         (figure("roo", "redis", "per_test_p90") or 0.0) - floor_roo, 1.0),
    ]
    print()
    print("targets:")
    for label, value, target in checks:
        verdict = "-" if value is None else ("ok" if value <= target else "MISS")
        print(f"  {label:60}{_fmt(value):>12}  {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
