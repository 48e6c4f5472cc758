"""Redis load against a real redis-server (the ``redis_db`` fixture's): both models, pipelines,
pub/sub fan-out with its counts and payload checks, clear errors, bounded runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_roo.load.redis import RedisLoad, mask_url
from pytest_roo.load.session import Session
from pytest_roo.services.models import RedisDatabase

pytestmark = pytest.mark.integration


def _sync(redis_db: RedisDatabase) -> Any:
    import redis

    return redis.Redis.from_url(redis_db.url, socket_timeout=10)


def test_open_model_checks_every_answer(redis_db: RedisDatabase) -> None:
    client = _sync(redis_db)
    client.set("greeting", "hello")
    load = RedisLoad(redis_db.url)
    ok = load.command("GET", "greeting", expect=b"hello", clients=4, duration=1, rate="300/s")
    assert ok.info["model"] == "open"
    assert ok.operations == 300
    assert ok.error_count == 0
    assert ok.get_metric("command").count == 300
    assert ok.get_metric("connect").count == 4
    wrong = load.command("GET", "greeting", expect="bonjour", clients=2, duration=0.5,
                         rate="100/s")
    assert wrong.errors["mismatch"] == wrong.operations == 50
    assert "hello" in wrong.info["first_mismatch"]
    client.close()


def test_closed_model_named_commands_and_error_replies(redis_db: RedisDatabase) -> None:
    client = _sync(redis_db)
    client.rpush("a-list", "x")
    load = RedisLoad(redis_db.url)
    result = load.commands(
        {"set": lambda i: ("SET", f"key:{i % 10}", i), "incr": ("INCR", "counter")},
        expect={"set": "OK"}, clients=3, duration=1)
    assert result.info["model"] == "closed"
    assert result.error_count == 0
    assert result.operations > 20
    # one metric per name, and the primary holds both (corrected; raw kept alongside)
    assert result.get_metric("set").count + result.get_metric("incr").count == \
        result.get_metric("command_raw").count == result.operations
    assert int(client.get("counter")) == result.get_metric("incr").count
    bad = load.command("INCR", "a-list", clients=2, duration=0.5)
    assert bad.errors["redis"] == bad.operations > 0
    assert "WRONGTYPE" in bad.info["first_error"]
    client.close()


def test_pipeline_counts_commands(redis_db: RedisDatabase) -> None:
    load = RedisLoad(redis_db.url)
    result = load.pipeline([("SET", "p", "1"), ("INCR", "p"), ("GET", "p")],
                           expect=["OK", 2, b"2"], clients=2, duration=0.5, rate="100/s")
    assert result.operations == 50
    assert result.error_count == 0
    assert result.counters["commands"] == 150
    assert result.get_metric("pipeline").count == 50


def test_pubsub_fanout_counts_every_delivery(redis_db: RedisDatabase) -> None:
    result = RedisLoad(redis_db.url).pubsub(subscribers=8, rate="40/s", duration=1,
                                            message_size=200)
    assert result.counters["numsub_at_start"] == 8  # confirmed before the first publish
    assert result.counters["published"] == 40
    assert result.operations == 40 * 8
    assert result.error_count == 0
    assert result.get_metric("delivery").count == 320
    assert result.counters["receivers"] == 320
    assert result.get_metric("publish").count == 40


@pytest.fixture
def meddler(redis_db: RedisDatabase) -> Iterator[dict[str, Any]]:
    """A client on the channel ``meddled`` that republishes messages 0-2 unchanged (each
    subscriber then sees a duplicate) and messages 3-4 with another body (a mismatch)."""
    import redis

    client = redis.Redis.from_url(redis_db.url, socket_timeout=10)
    pubsub = client.pubsub()  # type: ignore[no-untyped-call]  # redis-py's pubsub is untyped
    pubsub.subscribe("meddled")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    state: dict[str, Any] = {"stop": False, "done": set()}

    def loop() -> None:
        import re

        while not state["stop"]:
            msg = pubsub.get_message(timeout=0.1)
            if not msg or msg["type"] != "message":
                continue
            data: bytes = msg["data"]
            match = re.search(rb'"seq": (\d+)', data)
            assert match is not None
            seq = int(match.group(1))
            if seq in state["done"] or seq > 4:
                continue
            state["done"].add(seq)
            copy = data if seq < 3 else data.replace(b'"pad": "x', b'"pad": "y')
            client.publish("meddled", copy)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield state
    state["stop"] = True
    thread.join(5)
    pubsub.close()
    client.close()


def test_pubsub_counts_duplicates_and_wrong_payloads(redis_db: RedisDatabase,
                                                     meddler: dict[str, Any]) -> None:
    result = RedisLoad(redis_db.url).pubsub("meddled", subscribers=4, rate="20/s",
                                            duration=1, message_size=100)
    assert result.counters["numsub_at_start"] == 5  # ours and the meddler
    assert meddler["done"] == {0, 1, 2, 3, 4}
    assert result.errors["duplicate"] == 3 * 4
    assert result.errors["mismatch"] == 2 * 4
    assert result.errors["lost"] == 0
    assert result.get_metric("delivery").count == 20 * 4


def test_wrong_password_and_closed_port_are_classified(redis_db: RedisDatabase,
                                                        redis_server: Any) -> None:
    if not redis_server.password:
        pytest.skip("this Redis server has no password (an external one without AUTH)")
    wrong_url = redis_db.url.replace(redis_server.password, "not-the-password")
    wrong = RedisLoad(wrong_url).command("PING", clients=3, duration=0.5)
    assert wrong.errors == {"auth": 3}
    assert wrong.info["first_error"].startswith("auth: ")
    assert "not-the-password" not in repr(wrong.to_dict())
    assert "***" in wrong.info["url"]
    assert mask_url(wrong_url) == wrong.info["url"]
    sub = RedisLoad(wrong_url).pubsub(subscribers=2, duration=0.5)
    assert sub.errors["auth"] >= 2
    refused = RedisLoad("redis://127.0.0.1:9/0").command("PING", clients=2, duration=0.5)
    assert refused.errors == {"refused": 2}
    # open model: the arrivals that found no connection are dropped, and say so
    scheduled = RedisLoad("redis://127.0.0.1:9/0").command("PING", clients=2, rate="10/s",
                                                           duration=0.5)
    assert scheduled.errors == {"refused": 2, "dropped": 5}
    assert "Connection refused" in refused.info["first_error"]


def test_a_stalled_server_gives_a_bounded_run_of_timeouts(redis_db: RedisDatabase) -> None:
    admin = _sync(redis_db)
    admin.execute_command("CLIENT", "PAUSE", 30000, "WRITE")  # writes hang, PING still works
    try:
        started = time.monotonic()
        result = RedisLoad(redis_db.url).command("SET", "k", "v", clients=2, duration=1,
                                                 rate="20/s", timeout=1)
        elapsed = time.monotonic() - started
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    assert elapsed < 20  # the pause lasts 30 s: the run ended by its own deadlines
    assert result.errors["timeout"] >= 2
    assert result.error_count == result.operations


def test_fixture_records_and_judges(pytester: pytest.Pytester,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROO_CONFIDENCE", "0")  # 25 commands: the recording, not the statistics
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.slo("p99 < 2s", "error_rate < 1%")
        def test_get(redis_load, redis_db):
            import redis
            redis.Redis.from_url(redis_db.url).set("k", "v")
            result = redis_load.command("GET", "k", expect=b"v", clients=2, duration=0.5,
                                        rate="50/s")
            assert result.operations == 25 and redis_load.results == [result]
            assert "***" in repr(redis_load) or "redis_db" in repr(redis_load)

        @pytest.mark.slo("error_rate < 1%")
        def test_wrong_answers_fail(redis_load, redis_db):
            redis_load.command("GET", "missing", expect=b"v", clients=1, duration=0.3,
                               rate="20/s")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*error_rate < 1%*"])


def test_user_scenario_gets_its_connection_and_error_kinds(redis_db: RedisDatabase) -> None:
    client = _sync(redis_db)
    client.rpush("a-list", "x")

    calls = [0]

    async def visit(session: Any) -> None:
        with session.measure("incr"):
            await session.conn.incr("visits")
        calls[0] += 1
        if calls[0] % 5 == 0:
            await session.conn.incr("a-list")  # WRONGTYPE: an error reply

    result = RedisLoad(redis_db.url).run(visit, clients=2, duration=0.5, rate="40/s")
    assert result.operations == 20
    assert int(client.get("visits")) == result.get_metric("incr").count == 20
    assert result.errors == {"redis": 4}
    client.close()


def test_fixture_on_a_url_with_user_setup_and_the_awaitable_twin(
        redis_load: Any, redis_db: RedisDatabase) -> None:
    """redis_load.on(url) shares the fixture's results; run(setup=) prepares each user's keys
    before the window; the awaitable twin runs from a coroutine and is recorded too."""
    import asyncio

    from pytest_roo.load import Load, RedisLoadFixture

    assert isinstance(redis_load, RedisLoadFixture)
    prepared: list[int] = []

    async def setup(session: Session) -> None:
        await session.conn.set(f"user:{session.vu}", "1")
        prepared.append(session.vu)

    async def scenario(session: Session) -> None:
        with session.measure("get"):
            assert await session.conn.get(f"user:{session.vu}") == b"1"

    ran = redis_load.on(redis_db.url).run(scenario, setup=setup,
                                          load=Load(clients=2, duration=0.3))
    awaited = asyncio.run(redis_load.command_async("PING", clients=1, duration=0.3))
    assert redis_load.results == [ran, awaited]
    assert sorted(prepared) == [0, 1]
    assert ran.error_count == awaited.error_count == 0
    assert ran.get_metric("get").count > 0
    with pytest.raises(ValueError, match="invalid redis url"):
        redis_load.on("http://127.0.0.1:6379/0")
