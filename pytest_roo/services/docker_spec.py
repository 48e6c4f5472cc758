"""What a pytest-roo container is started with: the commands, Redis's configuration file,
PostgreSQL's throwaway settings and data directory, and the secret files copied in.

Passwords go into the container as files (:func:`archive`), never into its command or
environment, so ``docker inspect`` does not show them.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping

from pytest_roo.services.models import ServiceError

__all__ = [
    "DOCKER_POSTGRES_SETTINGS",
    "INITDB_ARGS",
    "PGDATA",
    "PGDATA_TMPFS",
    "POSTGRES_PASSWORD_FILE",
    "REDIS_CONFIG_FILE",
    "SECRETS_DIR",
    "SOCKET_MOUNT",
    "archive",
    "postgres_command",
    "redis_command",
    "redis_config",
]

# PGDATA on a tmpfs mounted in the container; a subdirectory, so the image's entrypoint
# creates it with the owner and mode PostgreSQL wants
PGDATA_TMPFS = "/var/lib/pytest-roo"
PGDATA = f"{PGDATA_TMPFS}/pgdata"
SECRETS_DIR = "/pytest-roo"  # files copied into the container before it starts
POSTGRES_PASSWORD_FILE = f"{SECRETS_DIR}/postgres-password"
SOCKET_MOUNT = "/var/run/pytest-roo"  # PostgreSQL's extra unix socket directory
REDIS_CONFIG_FILE = f"{SECRETS_DIR}/redis.conf"

# the local backend's throwaway settings: CREATE/DROP DATABASE checkpoint and scan every shared
# buffer, so small shared_buffers keep the per-test clone cheap; shared memory segments in
# PGDATA (tmpfs), not the container's 64 MB /dev/shm
DOCKER_POSTGRES_SETTINGS = {"fsync": "off", "synchronous_commit": "off",
                            "full_page_writes": "off", "max_connections": "300",
                            "shared_buffers": "32MB", "max_wal_size": "256MB",
                            "dynamic_shared_memory_type": "mmap"}
# as the local backend's initdb: small WAL segments, C collation
INITDB_ARGS = "--no-sync --wal-segsize=1 --no-locale --encoding=UTF8"
def postgres_command(settings: Mapping[str, str] | None = None) -> list[str]:
    """The container's command: the image's ``postgres`` with fast, throwaway settings."""
    command = ["postgres"]
    for key, value in {**DOCKER_POSTGRES_SETTINGS, **(settings or {})}.items():
        command += ["-c", f"{key}={value}"]
    return command


def redis_config(password: str) -> str:
    """Redis's configuration file: the password, and no persistence."""
    if any(ch.isspace() or ch in "\"'\\" for ch in password):
        raise ServiceError("a Redis password in a configuration file must not contain spaces, "
                           "quotes or backslashes")
    return f'requirepass {password}\nsave ""\nappendonly no\n'


def redis_command() -> list[str]:
    """The password is in the configuration file, so ``docker inspect`` does not show it."""
    return ["redis-server", REDIS_CONFIG_FILE]


def archive(files: Mapping[str, str]) -> bytes:
    """A tar of ``files`` (path under SECRETS_DIR -> text) for ``PUT /containers/ID/archive``.
    World-readable inside the container: the server may run as any user there."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(SECRETS_DIR.lstrip("/"))
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
