"""Backup and recovery suite: a backup taken under load, the data destroyed, the backup
restored, and what came back checked against what the system acknowledged.

Every iteration of a virtual user writes a deployment (PostgreSQL, answered 201) and a log line
(Redis, answered 202). ``before`` seconds into the load the backup is taken: an RDB snapshot of
Redis (``BGSAVE`` with client writes paused for a moment, so the history read at that instant
is exactly what the file holds), then ``pg_dump -Fc`` of the system's database on a snapshot
exported by a session that reads, in that snapshot, exactly what the dump holds. ``gap``
seconds later the data is destroyed (the database dropped, every Redis key flushed), then
restored (``pg_restore`` into a side database renamed into place; the RDB file loaded by a
Redis restart). The system itself is never restarted. One drill, three criteria, each its test:

* ``errors == 0`` on ``backup.restored_writes``: every acknowledged write the backup holds is
  back after the restore (each looked up by query: a census, not a sample);
* ``rto.max < 8s``: from the destruction to the system answering correctly again (the user's
  deployments listed, their log history served) -- the restore itself included;
* ``rpo.max < 4s``: the data-loss window, per store: from the newest acknowledged write the
  backup holds to the destruction, when a write acknowledged after it is missing (about the
  backup's duration plus ``gap``). With the census it bounds what a disaster loses.

The services are the embedded target's own (``target.services``) and must be the local
backend's (their files are on this machine; docker's cannot be restarted in place). An external
target (``--roo-target``) is skipped: its data cannot be destroyed from here. Sizes in
suites/backup/sizes.py (``--roo-profile``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import secrets
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pytest_roo.faults import measure_recovery, scheduled
from pytest_roo.profiles import SelectedProfile
from pytest_roo.results.data_loss import LossWindow, loss_window
from pytest_roo.results.metrics import LoadResult
from pytest_roo.services.models import PostgresServer, RedisServer
from pytest_roo.target import Target
from suites import client
from suites.backup.sizes import BACKUP, BackupSizes

RTO = "rto.max < 8s"
RPO = "rpo.max < 4s"
#: the client's patience per request
TIMEOUT = 8.0


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> BackupSizes:
    """The backup suite's sizes for ``--roo-profile`` (suites/backup/sizes.py)."""
    return roo_sizes(BACKUP)


@pytest.fixture(scope="module")
def embedded(target: Target) -> Target:
    if target.external or not target.services:
        pytest.skip("the backup suite destroys and restores the target's PostgreSQL database "
                    "and Redis data: it needs the embedded reference system (run without "
                    "--roo-target)")
    for name in ("postgres", "redis"):
        service = target.services[name]
        if service.backend != "local" or service.control is None:
            pytest.skip(f"the backup suite restores {name} from files on this machine: it needs "
                        f"the local backend (--roo-services=local), not {service.backend}")
    from pytest_roo.services.backups import find_client_bin
    from pytest_roo.services.models import ServiceUnavailable

    try:
        find_client_bin()
    except ServiceUnavailable as exc:
        pytest.skip(f"the backup suite needs pg_dump and pg_restore: {exc}")
    return target


class Workload:
    """A user with one log deployment per virtual user; the writes the system acknowledged,
    each with the ``time.monotonic()`` of its answer."""

    def __init__(self, app: Target, clients: int, think: float) -> None:
        self.app = app
        self.tag = secrets.token_hex(4)
        self.think = think
        self.stopped = threading.Event()
        self.writes: list[tuple[str, float]] = []
        self.lines: list[tuple[str, float]] = []
        names = [f"backup-logs-{self.tag}-{i}" for i in range(clients)]

        async def setup() -> tuple[client.User, dict[str, int]]:
            async with client.session() as http:
                user = await client.new_user(http, app.base_url, prefix="backup")
                for name in names:
                    await client.call(http, "POST", app.url("/api/deployments"),
                                      json={"name": name}, headers=user.auth, expect=(201,),
                                      starting=client.STARTING)
                # looked up rather than read from the answers: a system that answers before
                # it wrote (a write-behind queue) has no ids to give yet
                for _ in range(300):
                    listed = await client.call(http, "GET", app.url("/api/deployments"),
                                               headers=user.auth, expect=(200,))
                    ids = {d["name"]: int(d["id"]) for d in listed["deployments"]}
                    if all(name in ids for name in names):
                        return user, {name: ids[name] for name in names}
                    await asyncio.sleep(0.1)
                raise client.ApiError("the deployments for log lines were never written")

        self.user, by_name = client.run(setup)
        self.deployments = [by_name[name] for name in names]

    async def iteration(self, session: Any) -> None:
        if self.stopped.is_set():  # the data is being destroyed: no more writes
            await asyncio.sleep(self.think)
            return
        name = f"backup-{self.tag}-{session.vu}-{session.iteration}"
        await session.request("POST", self.app.url("/api/deployments"), name="write",
                              json={"name": name}, headers=self.user.auth, expect=201)
        self.writes.append((name, time.monotonic()))  # only once the system answered 201
        deployment = self.deployments[session.vu % len(self.deployments)]
        await session.request("POST", self.app.url(f"/api/deployments/{deployment}/logs"),
                              name="log", json={"line": name}, headers=self.user.auth,
                              expect=202)
        self.lines.append((name, time.monotonic()))
        await asyncio.sleep(random.uniform(0.0, self.think))

    def probe(self) -> bool:
        """Correct answers again: every log deployment listed (all are in the backup), and a
        log history served (PostgreSQL for the owner check, Redis for the lines)."""
        listed = self._get("/api/deployments")
        if not set(self.deployments) <= {int(d["id"]) for d in listed["deployments"]}:
            return False
        self._get(f"/api/deployments/{self.deployments[0]}/logs?limit=1")
        return True

    def _get(self, path: str) -> Any:
        request = urllib.request.Request(self.app.url(path), headers=self.user.auth)
        with urllib.request.urlopen(request, timeout=2.0) as answer:
            return json.loads(answer.read())


@dataclasses.dataclass
class Stores:
    """The target's services and where its data lives in them."""

    server: PostgresServer
    redis: RedisServer
    dbname: str

    @property
    def database(self) -> PostgresServer:
        return dataclasses.replace(self.server, dbname=self.dbname)

    def log_key(self, deployment: int) -> str:
        # the reference system's Redis layout: refapp:<database>:logs:<deployment id>
        return f"refapp:{self.dbname}:logs:{deployment}"

    def names(self, owner: int) -> set[str]:
        with self.database.connect() as conn:
            rows = conn.query(f"SELECT name FROM deployments WHERE owner_id = {int(owner)}").rows
        return {str(r[0]) for r in rows}

    def lines(self, deployments: list[int]) -> set[str]:
        with self.redis.connect() as conn:
            return lines_of([conn.command("LRANGE", self.log_key(d), 0, -1)
                             for d in deployments])


def lines_of(answers: list[Any]) -> set[str]:
    """The ``line`` of every log event in LRANGE answers."""
    found: set[str] = set()
    for answer in answers:
        for raw in answer or []:
            event = json.loads(raw)
            if isinstance(event, dict) and isinstance(event.get("line"), str):
                found.add(event["line"])
    return found


@dataclasses.dataclass
class Backup:
    """What the backup holds of the workload's writes, and when the data was destroyed."""

    names: set[str]
    lines: set[str]
    took: float
    destroyed: float = 0.0


def take_backup(stores: Stores, workload: Workload, folder: Path) -> Backup:
    """Redis first (a fork: instant), then the database on an exported snapshot; each read
    of the backup's content is made at its snapshot's instant."""
    started = time.monotonic()
    keys = [("LRANGE", stores.log_key(d), 0, -1) for d in workload.deployments]
    lines = lines_of(stores.redis.save(folder / "redis.rdb", read=keys))
    with stores.database.connect() as reader:
        reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        snapshot = reader.scalar("SELECT pg_export_snapshot()")
        rows = reader.query("SELECT name FROM deployments WHERE owner_id = "
                            f"{int(workload.user.user_id)}").rows
        stores.server.backup(folder / "app.dump", dbname=stores.dbname, snapshot=snapshot)
        reader.query("COMMIT")
    return Backup({str(r[0]) for r in rows}, lines, time.monotonic() - started)


def destroy(stores: Stores) -> None:
    """The disaster: the database dropped (its sessions ended), every Redis key flushed."""
    from pytest_roo.services.pgwire import quote_ident

    with stores.server.connect() as conn:
        conn.query(f"DROP DATABASE {quote_ident(stores.dbname)} WITH (FORCE)")
    with stores.redis.connect() as conn:
        conn.command("FLUSHALL")


def restored(stores: Stores, workload: Workload, backup: Backup) -> LoadResult:
    """Every acknowledged write the backup holds, looked up after the restore."""
    names = backup.names & {name for name, _ in workload.writes}
    lines = backup.lines & {line for line, _ in workload.lines}
    result = LoadResult(name="backup.restored_writes", operations=len(names) + len(lines))
    result.info["census"] = True  # every write the backup holds was looked up
    examples: dict[str, str] = {}
    for kind, wanted, found in (
            ("lost_deployment", names, stores.names(workload.user.user_id)),
            ("lost_log_line", lines, stores.lines(workload.deployments))):
        missing = sorted(wanted - found)
        if missing:
            result.add_error(kind, len(missing))
            examples[kind] = ", ".join(missing[:5])
    if examples:
        result.info["error_examples"] = examples
    return result


def data_loss(workload: Workload, backup: Backup) -> LoadResult:
    """The data-loss window of each store (one sample each) as ``rpo``."""
    windows: dict[str, LossWindow] = {
        "postgres": loss_window(workload.writes, backup.names, backup.destroyed),
        "redis": loss_window(workload.lines, backup.lines, backup.destroyed),
    }
    result = LoadResult(name="backup.rpo", operations=len(windows))
    result.info["census"] = True
    for store, window in windows.items():
        result.metric("rpo").record(window.seconds)
        point = window.recovery_point
        result.info[store] = {
            "rpo_seconds": round(window.seconds, 3), "lost": window.lost,
            "holes": window.holes, "acknowledged": window.acknowledged,
            "recovery_point_before_disaster": None if point is None
            else round(backup.destroyed - point, 3)}
    result.info["backup_seconds"] = round(backup.took, 3)
    return result


class RecoveryTime:
    """From the destruction to the first correct answer, as ``rto``: probed in a thread from
    the moment the data is gone, while it is being restored."""

    def __init__(self, probe: Any, since: float, timeout: float) -> None:
        self._measured: list[LoadResult] = []
        self._timeout = timeout
        self._thread = threading.Thread(
            target=lambda: self._measured.append(
                measure_recovery(probe, since=since, timeout=timeout, interval=0.05)),
            name="roo-backup-rto", daemon=True)
        self._thread.start()

    def result(self) -> LoadResult:
        self._thread.join(self._timeout + 10.0)
        if not self._measured:
            raise AssertionError("the recovery probe did not finish")
        measured = self._measured[0]
        result = LoadResult(name="backup.rto", operations=1)
        result.info["census"] = True
        result.metric("rto").record(measured.get_metric("recovery").max)
        for kind, count in measured.errors.items():
            result.add_error(kind, count)
        if "unrecovered" in measured.info:
            result.info["unrecovered"] = measured.info["unrecovered"]
        return result


@dataclasses.dataclass
class Drill:
    load: LoadResult
    restored: LoadResult
    rto: LoadResult
    rpo: LoadResult


@pytest.fixture(scope="module")
def drill(request: pytest.FixtureRequest, embedded: Target, sizes: BackupSizes,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    """The whole drill, once for the module's three criteria."""
    from pytest_roo.fixtures.load import engine_kwargs
    from pytest_roo.load.http import HttpLoad

    server = embedded.services["postgres"]
    redis = embedded.services["redis"]
    assert isinstance(server, PostgresServer) and isinstance(redis, RedisServer)
    dbname = urlsplit(str(embedded.info["postgres_url"])).path.lstrip("/")
    stores = Stores(server, redis, dbname)
    folder = tmp_path_factory.mktemp("backup")
    workload = Workload(embedded, sizes.clients, sizes.think)

    def drill_steps() -> tuple[Backup, LoadResult]:
        try:
            return drill_from_backup()
        finally:
            workload.stopped.set()  # a drill that failed half-way ends the load too

    def drill_from_backup() -> tuple[Backup, LoadResult]:
        # ``before`` counts from the first acknowledged write, not from the load's start
        deadline = time.monotonic() + 60.0
        while not workload.writes:
            if time.monotonic() > deadline:
                raise AssertionError("no write was acknowledged within 60 s: no backup taken")
            time.sleep(0.01)
        time.sleep(max(0.0, workload.writes[0][1] + sizes.before - time.monotonic()))
        backup = take_backup(stores, workload, folder)
        time.sleep(sizes.gap)
        workload.stopped.set()
        backup.destroyed = time.monotonic()
        destroy(stores)
        # users keep asking while the data is restored: the system meets the outage
        rto = RecoveryTime(workload.probe, backup.destroyed, sizes.rto_timeout)
        server.restore(folder / "app.dump", dbname=dbname)
        restored_pg = time.monotonic()
        redis.restore(folder / "redis.rdb")
        took = {"postgres": restored_pg - backup.destroyed,
                "redis": time.monotonic() - restored_pg}
        result = rto.result()
        result.info["restore_seconds"] = {k: round(v, 3) for k, v in took.items()}
        return backup, result

    def destroyed(result: LoadResult, expected: int) -> str | None:
        return "the users stopped at the disaster" if workload.stopped.is_set() else None

    try:
        with scheduled(drill_steps, timeout=180.0, name="backup") as steps:
            # ends once the users stopped writing at the disaster (at the latest after the
            # start, the backup and the gap)
            load = HttpLoad(**engine_kwargs(request)).run(
                workload.iteration, clients=sizes.clients, duration=sizes.before + 60.0,
                timeout=TIMEOUT, primary="write", abort=destroyed)
        backup, rto = steps.returned
        yield Drill(load, restored(stores, workload, backup), rto, data_loss(workload, backup))
    finally:
        try:
            recover(stores, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the dumps hold the system's data


def recover(stores: Stores, folder: Path) -> None:
    """After a drill that failed half-way: the database back from the dump if it is gone, so
    the rest of the session still has a system to test."""
    from pytest_roo.services.pgwire import quote_literal

    dump = folder / "app.dump"
    with stores.server.connect() as conn:
        gone = not conn.scalar("SELECT 1 FROM pg_database WHERE datname = "
                               f"{quote_literal(stores.dbname)}")
    if gone and dump.is_file():
        stores.server.restore(dump, dbname=stores.dbname)


def test_every_backed_up_write_is_restored(drill: Drill, roo_record: Any) -> None:
    """Every acknowledged deployment and log line the backup holds is back after the restore
    (looked up by query in PostgreSQL and Redis)."""
    roo_record(drill.load)  # the load the backup was taken under, for the report
    roo_record(drill.restored, "errors == 0")


def test_recovery_time_objective(drill: Drill, roo_record: Any) -> None:
    """From the destruction of the data to the system answering correctly again, restore
    included, without restarting the system."""
    roo_record(drill.rto, RTO)


def test_recovery_point_objective(drill: Drill, roo_record: Any) -> None:
    """The window of acknowledged writes the backup does not hold, up to the destruction."""
    roo_record(drill.rpo, RPO)
