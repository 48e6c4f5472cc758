"""Chaos suite: the reference system under HTTP load while PostgreSQL restarts, while Redis
restarts, and while the network to PostgreSQL is down for a few seconds.

Every iteration of a virtual user writes a deployment (PostgreSQL) and a log line (Redis).
The PostgreSQL restart comes last: a system that never recovers from it fails nothing else.
Each test judges, on its own run:

* ``during.error_rate < 20%``: the error budget while the fault lasts (the system may wait
  for its service to come back, it may not give up at once);
* ``after(Ns).error_rate < 1%``: N seconds after the fault ended it serves cleanly again;
* ``recovery.max < 5s``: from the fault's end to the first answer of an API call that needs
  both services;
* ``errors == 0`` on ``chaos.acknowledged_writes``: every deployment the system answered 201
  for is in the database afterwards (checked by query);
* ``errors == 0`` on ``chaos.same_process``: the process that served before serves afterwards
  (no manual restart).

The services are the embedded target's own (``target.services``); the network drop puts a
fault proxy between a fresh instance of the system and its database. An external target
(``--roo-target``) is skipped: its services cannot be restarted from here. Sizes in
suites/chaos/sizes.py (``--roo-profile``).
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_roo.faults import FaultWindow, scheduled, watch_recovery
from pytest_roo.profiles import SelectedProfile
from pytest_roo.results.metrics import LoadResult
from pytest_roo.services.models import PostgresServer, RedisServer
from pytest_roo.target import Target, fetch, pid_alive
from suites import client
from suites.chaos.sizes import CHAOS, ChaosSizes

#: the client's patience per request: above the system's retry budget (fixtures/refapp/db.py)
TIMEOUT = 8.0


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> ChaosSizes:
    """The chaos suite's sizes for ``--roo-profile`` (suites/chaos/sizes.py)."""
    return roo_sizes(CHAOS)


@pytest.fixture(scope="module")
def embedded(target: Target) -> Target:
    if target.external or not target.services:
        pytest.skip("the chaos suite restarts the target's PostgreSQL and Redis: it needs the "
                    "embedded reference system (run without --roo-target)")
    return target


def criteria(sizes: ChaosSizes) -> tuple[str, str]:
    return "during.error_rate < 20%", f"after({sizes.settle:g}s).error_rate < 1%"


class Workload:
    """A user with one deployment for log lines; the writes the system acknowledged."""

    def __init__(self, app: Target, think: float) -> None:
        self.app = app
        self.tag = secrets.token_hex(4)
        self.think = think

        async def setup() -> tuple[client.User, int]:
            async with client.session() as http:
                user = await client.new_user(http, app.base_url, prefix="chaos")
                await client.call(http, "POST", app.url("/api/deployments"),
                                  json={"name": "chaos-logs"}, headers=user.auth,
                                  expect=(201,), starting=client.STARTING)
                # looked up rather than read from the answer: a system that answers before
                # it wrote (the ack_before_commit fault) has no id to give yet
                for _ in range(50):
                    listed = await client.call(http, "GET", app.url("/api/deployments"),
                                               headers=user.auth, expect=(200,))
                    for dep in listed["deployments"]:
                        if dep["name"] == "chaos-logs":
                            return user, int(dep["id"])
                    await asyncio.sleep(0.1)
                raise client.ApiError("the deployment for log lines was never written")

        self.user, self.deployment = client.run(setup)
        self.acknowledged: list[str] = []

    async def iteration(self, session: Any) -> None:
        name = f"chaos-{self.tag}-{session.vu}-{session.iteration}"
        await session.request("POST", self.app.url("/api/deployments"), name="write",
                              json={"name": name}, headers=self.user.auth, expect=201)
        self.acknowledged.append(name)  # only once the system answered 201
        await session.request("POST", self.app.url(f"/api/deployments/{self.deployment}/logs"),
                              name="log", json={"line": name}, headers=self.user.auth,
                              expect=202)
        # half the think time is random: users that a fault held and released together would
        # otherwise move in lockstep, and whether their next burst fell inside the next fault
        # would decide how many operations it sees
        await asyncio.sleep(random.uniform(0.0, self.think))

    def probe(self) -> bool:
        """An API call that needs PostgreSQL (the owner check) and Redis (the log history)."""
        request = urllib.request.Request(
            self.app.url(f"/api/deployments/{self.deployment}/logs?limit=1"),
            headers=self.user.auth)
        with urllib.request.urlopen(request, timeout=1.0) as answer:
            json.loads(answer.read())
            return bool(answer.status == 200)


def lost_writes(db_url: str, workload: Workload, expected: list[str]) -> LoadResult:
    """Every acknowledged write looked up by its name: ``lost`` counts the missing ones."""

    async def names() -> set[str]:
        import asyncpg

        conn = await asyncpg.connect(db_url, timeout=10)
        try:
            rows = await conn.fetch("SELECT name FROM deployments WHERE owner_id = $1",
                                    workload.user.user_id)
            return {r["name"] for r in rows}
        finally:
            await conn.close(timeout=5)

    time.sleep(0.5)  # writes answered before they ran would have run by now
    found = client.run(names)
    missing = [name for name in expected if name not in found]
    result = LoadResult(name="chaos.acknowledged_writes", operations=len(expected))
    result.info["census"] = True  # every acknowledged write was looked up
    if missing:
        result.add_error("lost", len(missing))
        result.info["error_examples"] = {"lost": ", ".join(missing[:5])}
    return result


def same_process(app: Target, pids: tuple[int, ...]) -> LoadResult:
    """The processes that served before the fault still run, and answer /health."""
    result = LoadResult(name="chaos.same_process", operations=1)
    result.info["census"] = True
    status, _, problem = fetch(app.url("/health"), 5.0)
    if app.pids != pids or not all(pid_alive(pid) for pid in pids):
        result.add_error("restarted")
        result.info["error_examples"] = {"restarted": f"pids {pids} -> {app.pids}"}
    elif status != 200:
        result.add_error("unhealthy")
        result.info["error_examples"] = {"unhealthy": f"/health: {status or problem}"}
    return result


def judge(roo_record: Any, checks: list[tuple[LoadResult, tuple[str, ...]]]) -> None:
    """Every result judged and reported, then the first failure raised: each criterion's
    verdict is in the report whatever the others are."""
    failures: list[AssertionError] = []
    for result, wanted in checks:
        try:
            roo_record(result, *wanted)
        except AssertionError as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


def run_fault(http_load: Any, roo_record: Any, app: Target, db_url: str, sizes: ChaosSizes,
              fault: Callable[[], Any], fault_seconds: float) -> None:
    """Load on ``app`` with ``fault`` (a context manager yielding the FaultWindow of the last
    fault, or a handle giving it as ``.window``) ``sizes.before`` seconds in, then every
    check."""
    workload = Workload(app, sizes.think)
    pids = app.pids
    duration = sizes.before + fault_seconds + sizes.after
    with fault() as started:
        # probed from the fault's end on, while the load still runs
        watch = watch_recovery(workload.probe, started, timeout=sizes.recovery_timeout)
        # the iteration includes its random pause: the write's latency is the one shown
        result = http_load.run(workload.iteration, clients=sizes.clients,
                               think=sizes.think / 2, duration=duration, timeout=TIMEOUT,
                               primary="write")
    window: FaultWindow | None = started if isinstance(started, FaultWindow) else started.window
    assert window is not None and window.ended is not None, "the fault never ran"
    recovery = watch.result()
    judge(roo_record, [
        (result, criteria(sizes)),
        (recovery, ("recovery.max < 5s",)),
        (lost_writes(db_url, workload, list(workload.acknowledged)), ("errors == 0",)),
        (same_process(app, pids), ("errors == 0",)),
    ])


def restarts(service: PostgresServer | RedisServer, sizes: ChaosSizes) -> Callable[[], Any]:
    """``sizes.restarts`` restarts of ``service``, ``sizes.gap`` apart, in the background from
    ``sizes.before`` seconds into the block; its ``window`` is the last one's (the recovery
    is measured from it)."""

    def repeat() -> FaultWindow:
        window: FaultWindow = service.restart(down=sizes.down)
        for _ in range(sizes.restarts - 1):
            time.sleep(sizes.gap)
            window = service.restart(down=sizes.down)
        return window

    return lambda: scheduled(repeat, after=sizes.before, name="restarts")


def test_redis_restart(http_load: Any, roo_record: Any, embedded: Target,
                       sizes: ChaosSizes) -> None:
    """Redis stops, stays down a moment and starts again (empty: the reference system keeps
    nothing there that a write needs)."""
    run_fault(http_load, roo_record, embedded, str(embedded.info["postgres_url"]), sizes,
              restarts(embedded.services["redis"], sizes),
              sizes.restarts * (sizes.gap + sizes.down + 0.2))


@pytest.fixture
def behind_proxy(embedded: Target, fault_proxy: Any) -> Iterator[tuple[Target, Any]]:
    """A fresh instance of the system whose database connections go through a fault proxy."""
    if embedded.spawn is None:
        pytest.skip("the target cannot start another instance of itself")
    proxy = fault_proxy(str(embedded.info["postgres_url"]), name="chaos-postgres")
    app = embedded.spawn(postgres_url=proxy.url)
    try:
        yield app, proxy
    finally:
        app.stop()


def test_network_to_postgres_drops(http_load: Any, roo_record: Any, embedded: Target,
                                   behind_proxy: tuple[Target, Any], sizes: ChaosSizes) -> None:
    """Every connection to PostgreSQL is cut and new ones refused for ``drop`` seconds."""
    app, proxy = behind_proxy
    run_fault(http_load, roo_record, app, str(embedded.info["postgres_url"]), sizes,
              lambda: proxy.fault("down", after=sizes.before, duration=sizes.drop), sizes.drop)


def test_postgres_restart(http_load: Any, roo_record: Any, embedded: Target,
                          sizes: ChaosSizes) -> None:
    """PostgreSQL stops (a fast shutdown: every session ends), stays down a moment and starts
    again on its data."""
    run_fault(http_load, roo_record, embedded, str(embedded.info["postgres_url"]), sizes,
              restarts(embedded.services["postgres"], sizes),
              sizes.restarts * (sizes.gap + sizes.down + 0.3))
