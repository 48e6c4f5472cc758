"""The shared load keywords: the Load options object, its equivalence with the keywords, the
keywords a method refuses, warm-ups that are not recorded, abort_on_fail (a fake engine:
pure logic, no load is generated)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_roo.load.engine import BlockingCallError
from pytest_roo.load.options import SHARED, Load, LoadKeywords, resolve
from pytest_roo.load.recorded_ws import WsSwarmFixture
from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo import abort_check


class FakeSwarm:
    """Stands in for WsSwarm: returns a result per call and remembers the keywords."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.stop_event = None

    def echo(self, url: str, **kwargs: Any) -> LoadResult:
        self.calls.append(kwargs)
        return LoadResult(name=f"ws.echo#{len(self.calls)}")

    broadcast = echo


def swarm(criteria: list[str] | None = None) -> tuple[WsSwarmFixture, FakeSwarm,
                                                      list[LoadResult]]:
    engine = FakeSwarm()
    recorded: list[LoadResult] = []
    # FakeSwarm stands in for WsSwarm on purpose (it has only the methods these tests call)
    fixture = WsSwarmFixture(lambda: engine,  # type: ignore[arg-type, return-value]
                             recorded.append, criteria, "ws_swarm", abort_factory=abort_check)
    return fixture, engine, recorded


def test_the_keywords_and_the_options_object_are_one_list() -> None:
    assert set(LoadKeywords.__annotations__) == {"load", *SHARED}


def test_load_object_and_keywords_are_equivalent() -> None:
    by_keywords, engine_a, _ = swarm()
    by_object, engine_b, _ = swarm()
    by_keywords.echo("ws://127.0.0.1:1/ws", clients=3, duration="2s", rate="50/s", timeout=2,
                     message_size=64)
    by_object.echo("ws://127.0.0.1:1/ws",
                   load=Load(clients=3, duration="2s", rate="50/s", timeout=2, message_size=64))
    assert engine_a.calls == engine_b.calls == [
        {"correct": True, "clients": 3, "duration": "2s", "rate": "50/s", "timeout": 2,
         "message_size": 64}]


def test_a_keyword_next_to_load_wins_over_its_field() -> None:
    base = Load(clients=3, duration="2s", rate="50/s")
    assert resolve({"load": base, "rate": "100/s"}) == Load(clients=3, duration="2s",
                                                            rate="100/s")
    assert resolve({"load": base, "rate": None}) == base  # None: "not given"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "half-open"}, "invalid model='half-open': expected 'open' or 'closed'"),
    ({"model": "closed", "rate": "10/s"}, "model='closed' with rate="),
    ({"clients": 0}, "invalid clients=0"),
    ({"timeout": -1}, "invalid timeout=-1"),
    ({"warmup": "0s"}, "invalid warmup='0s'"),
])
def test_bad_options_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Load(**kwargs)


def test_unknown_keyword_and_wrong_load_type_are_errors() -> None:
    with pytest.raises(TypeError, match="unexpected keyword clinets"):
        resolve({"clinets": 3})
    with pytest.raises(TypeError, match=r"expected a pytest_roo\.Load"):
        resolve({"load": {"clients": 3}})


def test_a_method_refuses_a_shared_keyword_it_cannot_use() -> None:
    fixture, engine, _ = swarm()
    with pytest.raises(TypeError, match=r"ws_swarm.broadcast\(\) does not take think="):
        fixture.broadcast("ws://127.0.0.1:1/ws", load=Load(think="100ms"))
    assert engine.calls == []


def test_warmup_runs_first_with_its_own_duration_and_is_not_recorded() -> None:
    fixture, engine, recorded = swarm()
    result = fixture.echo("ws://127.0.0.1:1/ws", clients=2, duration=5, rate="10/s",
                          warmup="1s")
    assert [call["duration"] for call in engine.calls] == [1.0, 5]
    assert recorded == fixture.results == [result]
    assert result.name == "ws.echo#2"
    assert [w.name for w in fixture.warmups] == ["ws.echo#1"]
    assert fixture.warmups[0].info["warmup"] is True


def test_abort_on_fail_follows_the_marker_and_the_call() -> None:
    fixture, engine, _ = swarm(criteria=["p95 < 50ms"])
    fixture.echo("ws://127.0.0.1:1/ws", warmup=1)
    assert "abort" not in engine.calls[0]  # the warm-up never aborts
    assert callable(engine.calls[1]["abort"])
    fixture.echo("ws://127.0.0.1:1/ws", abort_on_fail=False)
    assert "abort" not in engine.calls[2]
    plain, _, _ = swarm()
    with pytest.raises(ValueError, match="abort_on_fail=True needs criteria"):
        plain.echo("ws://127.0.0.1:1/ws", abort_on_fail=True)


def test_the_blocking_api_in_a_coroutine_names_the_awaitable_one() -> None:
    fixture, engine, _ = swarm()

    async def in_a_test_coroutine() -> None:
        fixture.echo("ws://127.0.0.1:1/ws", clients=2)

    with pytest.raises(BlockingCallError, match=r"await ws_swarm\.echo_async\(\.\.\.\)"):
        asyncio.run(in_a_test_coroutine())
    assert engine.calls == []


def test_the_awaitable_api_records_like_the_blocking_one() -> None:
    fixture, engine, recorded = swarm()

    async def in_a_test_coroutine() -> LoadResult:
        return await fixture.echo_async("ws://127.0.0.1:1/ws", load=Load(clients=2),
                                        warmup=1)

    result = asyncio.run(in_a_test_coroutine())
    assert recorded == fixture.results == [result]
    assert len(fixture.warmups) == 1
    assert engine.calls[1] == {"correct": True, "clients": 2}
