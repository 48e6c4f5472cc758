"""Fixtures for the reference system's own tests: backends and app processes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixtures.refapp.launcher import RefApp, start_refapp
from tests.integration.refapp.refapp_client import SECRET, StartApp


@dataclass(frozen=True)
class Backends:
    pg_url: str
    redis_url: str


@pytest.fixture
def refapp_backends(postgres_db: Any, redis_db: Any) -> Backends:
    """A fresh PostgreSQL database and a Redis database for one test (services fixtures)."""
    return Backends(str(postgres_db.url), str(redis_db.url))


@pytest.fixture
def start_app(refapp_backends: Backends, tmp_path: Path) -> Iterator[StartApp]:
    """Factory: ``start_app(faults=..., env=...)`` starts a reference app on this test's
    backends; every app started is stopped at teardown and must exit cleanly."""
    apps: list[RefApp] = []

    def start(
        faults: str | Mapping[str, float | int] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RefApp:
        full_env = {"REFAPP_SECRET": SECRET, "REFAPP_KDF_ITERATIONS": "2000", **(env or {})}
        app = start_refapp(
            refapp_backends.pg_url, refapp_backends.redis_url, faults=faults, env=full_env,
            log_path=tmp_path / f"refapp-{len(apps)}.log",
        )
        apps.append(app)
        return app

    yield start
    codes = {app.pid: app.stop() for app in apps}
    assert all(code == 0 for code in codes.values()), (
        f"reference app did not exit cleanly on SIGTERM: {codes}\n"
        + "\n".join(app.output()[-2000:] for app in apps)
    )


@pytest.fixture
def refapp(start_app: StartApp) -> RefApp:
    """A healthy reference app with no faults."""
    return start_app()
