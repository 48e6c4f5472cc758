"""The ``local`` backend: PostgreSQL and Redis from binaries on this machine.

PostgreSQL starts in tens of milliseconds because nothing slow is on the path: the ``initdb``
result is cached per machine (keyed by server version and settings, built once, atomically),
copied into the session's runtime directory on tmpfs, and ``postgres`` is executed directly (no
``pg_ctl``) while a real connection is polled every 2 ms. Ports are assigned by the kernel and a
start that loses the race for its port is retried with a new one. As root, both servers run as
the unprivileged ``service_user`` with data directories that user owns.
"""

from __future__ import annotations

from pytest_roo.services.local_common import find_postgres_bin, find_redis_bin
from pytest_roo.services.local_postgres import LocalPostgres
from pytest_roo.services.local_postgres import spare_root as spare_root
from pytest_roo.services.local_redis import LocalRedis

__all__ = ["LocalPostgres", "LocalRedis", "find_postgres_bin", "find_redis_bin"]
