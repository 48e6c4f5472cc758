"""The load engine: workload models, WebSocket / HTTP / PostgreSQL drivers, LoadResult.

No pytest import here; the fixtures in ``pytest_roo.fixtures.load`` hand out the typed
``*Fixture`` classes (annotate a test's parameters with them: ``ws_swarm: WsSwarmFixture``).
Heavy libraries (aiohttp, asyncpg, numpy, hdrh) are imported where they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "BlockingCallError",
    "DbLoad",
    "DbLoadFixture",
    "EngineFailure",
    "HttpLoad",
    "HttpLoadFixture",
    "LatencyMetric",
    "Load",
    "LoadResult",
    "RedisLoadFixture",
    "RunInterrupted",
    "Session",
    "Stage",
    "TimelinePoint",
    "WsSwarm",
    "WsSwarmFixture",
    "steps",
]

if TYPE_CHECKING:
    from pytest_roo.load.db import DbLoad
    from pytest_roo.load.engine import BlockingCallError, EngineFailure, RunInterrupted
    from pytest_roo.load.http import HttpLoad
    from pytest_roo.load.options import Load
    from pytest_roo.load.recorded_http import DbLoadFixture, HttpLoadFixture
    from pytest_roo.load.recorded_redis import RedisLoadFixture
    from pytest_roo.load.recorded_ws import WsSwarmFixture
    from pytest_roo.load.session import Session
    from pytest_roo.load.workload import Stage, steps
    from pytest_roo.load.ws import WsSwarm
    from pytest_roo.results.metrics import LatencyMetric, LoadResult, TimelinePoint

_WHERE = {
    "DbLoad": "pytest_roo.load.db",
    "HttpLoad": "pytest_roo.load.http",
    "Load": "pytest_roo.load.options",
    "WsSwarm": "pytest_roo.load.ws",
    "RunInterrupted": "pytest_roo.load.engine",
    "BlockingCallError": "pytest_roo.load.engine",
    "WsSwarmFixture": "pytest_roo.load.recorded_ws",
    "HttpLoadFixture": "pytest_roo.load.recorded_http",
    "DbLoadFixture": "pytest_roo.load.recorded_http",
    "RedisLoadFixture": "pytest_roo.load.recorded_redis",
    "EngineFailure": "pytest_roo.load.engine",
    "Session": "pytest_roo.load.session",
    "LatencyMetric": "pytest_roo.results.metrics",
    "LoadResult": "pytest_roo.results.metrics",
    "TimelinePoint": "pytest_roo.results.metrics",
    "Stage": "pytest_roo.load.workload",
    "steps": "pytest_roo.load.workload",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_roo.load' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
