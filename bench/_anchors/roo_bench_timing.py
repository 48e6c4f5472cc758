"""A pytest plugin for bench/services.py: times each test's setup and teardown phases and the
session's final stop, and writes them as JSON to $ROO_BENCH_OUT when pytest unconfigures.

Loaded with ``-p roo_bench_timing`` (this directory on PYTHONPATH) into the pytest-roo sessions
and into the pytest-postgresql / pytest-redis sessions alike, so both sides are measured by the
same code. $ROO_BENCH_FIXTURE names the function-scoped service fixture (``postgres_db``,
``postgresql``, ``redis_db``, ``redisdb``): the last test's teardown is split at the moment that
fixture is finalized, the rest of it is the session's stop (servers, templates, directories).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

_STARTED = time.perf_counter()
_FIXTURE = os.environ.get("ROO_BENCH_FIXTURE", "")
_SERVER = os.environ.get("ROO_BENCH_SERVER", "")
_state: dict[str, Any] = {"tests": [], "server_setup": None}
_current: dict[str, float] = {}


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, Any, Any]:
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        if fixturedef.argname == _SERVER and _state["server_setup"] is None:
            _state["server_setup"] = time.perf_counter() - started


def pytest_fixture_post_finalizer(fixturedef: Any, request: Any) -> None:
    if fixturedef.argname == _FIXTURE:
        _current["fixture_done"] = time.perf_counter()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        _current.clear()
        _current["setup"] = time.perf_counter() - started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None
                            ) -> Generator[None, Any, Any]:
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        ended = time.perf_counter()
        done = _current.get("fixture_done", ended)
        _state["tests"].append({
            "setup": _current.get("setup", 0.0),
            "teardown": done - started,
            "after_fixture": ended - done,  # the session's stop, for the last test
        })


def pytest_unconfigure(config: pytest.Config) -> None:
    out = os.environ.get("ROO_BENCH_OUT")
    if out:
        _state["session"] = time.perf_counter() - _STARTED
        with open(out, "w") as fh:
            json.dump(_state, fh)
