"""The embedded target of the ready suites: the reference system on throwaway services.

Starts PostgreSQL and Redis through :mod:`pytest_roo.services` (the backend chosen by
``--roo-services``: docker, local binaries or external URLs), creates a fresh database, starts
``python -m fixtures.refapp`` on it with the launcher (own process group, ``/health`` waited
for, output in ``<output_dir>/refapp.log``) and returns a :class:`~pytest_roo.target.Target`
whose ``stop()`` stops the app, then the services. Fault switches come from ``REFAPP_FAULTS``.
No pytest import here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import secrets
from pathlib import Path
from typing import Any

from pytest_roo.target import Target

__all__ = ["start_embedded"]



def start_embedded(settings: Any, output_dir: Path, faults: str | None = None) -> Target:
    """Start services and the reference system; raises ServiceUnavailable when a service
    binary is missing (the caller turns it into a skip with the install hint)."""
    from fixtures.refapp.launcher import start_refapp
    from pytest_roo.services import keeper
    from pytest_roo.services.backends import ServiceConfig, Services

    faults = os.environ.get("REFAPP_FAULTS", "") if faults is None else faults
    # the token signing key is generated here so that the API suite can mint an expired token
    secret = secrets.token_hex(32)
    app_env = {"REFAPP_SECRET": secret}
    services = Services(ServiceConfig.from_settings(settings))
    app = None
    try:
        pg = services.postgres()
        redis = services.redis()
        dbname = f"refapp_{secrets.token_hex(4)}"
        with pg.connect() as conn:
            conn.query(f'CREATE DATABASE "{dbname}"')
        db_url = dataclasses.replace(pg, dbname=dbname).url
        app = start_refapp(db_url, redis.url, faults=faults or None, env=app_env,
                           log_path=output_dir / "refapp.log", timeout=60.0)
    except BaseException:
        if app is not None:
            app.stop()
        services.close()
        raise
    spawned = itertools.count(1)

    def spawn(postgres_url: str | None = None, redis_url: str | None = None) -> Target:
        """One more app process on the same database and Redis (cold-start measurements), or
        on other URLs for them (a fault proxy in front of the database)."""
        n = next(spawned)
        extra = start_refapp(postgres_url or db_url, redis_url or redis.url,
                             faults=faults or None, env=app_env,
                             log_path=output_dir / f"refapp-spawn-{n}.log", timeout=60.0)

        def restart_extra(kill: bool, timeout: float) -> tuple[int, ...]:
            return (keeper.call(extra.restart, kill, timeout),)

        return Target(base_url=extra.base_url, pids=(extra.pid,), log_path=extra.log_path,
                      startup_seconds=extra.ready_seconds, stop_callback=extra.stop,
                      restart_callback=restart_extra,
                      services={"postgres": pg, "redis": redis},
                      info={"name": "refapp", "spawned": n,
                            "postgres_url": postgres_url or db_url,
                            "redis_url": redis_url or redis.url})

    def restart(kill: bool, timeout: float) -> tuple[int, ...]:
        # started again from a thread that lives as long as pytest (the app dies with the
        # thread that forked it)
        return (keeper.call(app.restart, kill, timeout),)

    def stop() -> None:
        try:
            app.stop()
        finally:
            with contextlib.suppress(Exception), pg.connect() as conn:
                conn.query(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            services.close()

    return Target(
        base_url=app.base_url,
        pids=(app.pid,),
        log_path=app.log_path,
        startup_seconds=app.ready_seconds,
        stop_callback=stop,
        spawn=spawn,
        restart_callback=restart,
        services={"postgres": pg, "redis": redis},
        info={"name": "refapp", "postgres_url": db_url, "redis_url": redis.url,
              "faults": app.faults, "token_secret": secret, "services": services.choose()},
    )
