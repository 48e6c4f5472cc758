"""A real load run's timeline: p50, p95 and p99 of each second and its errors by kind, against a
real server on 127.0.0.1."""

from __future__ import annotations

import itertools

import pytest

from pytest_roo.load import HttpLoad
from pytest_roo.load.session import Session

pytestmark = pytest.mark.integration


def test_each_second_has_its_percentiles_and_errors_by_kind(load_server) -> None:  # type: ignore[no-untyped-def]
    srv = load_server("--delay", "uniform:1:9")
    urls = itertools.cycle([srv.http("/delay")] * 8 + [srv.http("/status/404"),
                                                       srv.http("/status/503")])

    async def scenario(session: Session) -> None:
        await session.get(next(urls), name="get")

    result = HttpLoad().run(scenario, clients=10, duration=3, rate="100/s")
    assert [p.second for p in result.timeline] == [0, 1, 2]
    for point in result.timeline:
        assert point.p50 is not None and point.p95 is not None and point.p99 is not None
        assert 0 < point.p50 <= point.p95 <= point.p99
        assert sum(point.error_kinds.values()) == point.errors
    kinds: dict[str, int] = {}
    for point in result.timeline:
        for kind, count in point.error_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    assert kinds == dict(result.errors)
    assert set(kinds) == {"http_4xx", "http_5xx"}
