"""Which pytest process owns a container, and removing the containers of owners that died.

Every container carries labels naming the session, the owner process (pid and start time) and
the host. A session's first start removes the containers of dead owners (a watchdog killed with
pytest, a cancelled CI job), and the watchdog runs :func:`cleanup_argv` when pytest dies.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Mapping

from pytest_roo.services import docker_engine

__all__ = [
    "LABEL_HOST",
    "LABEL_OWNER",
    "LABEL_SESSION",
    "cleanup_argv",
    "container_labels",
    "dead_owner",
    "owner_label",
    "sweep_dead_owners",
]

LABEL_SESSION = "io.pytest-roo.session"
LABEL_OWNER = "io.pytest-roo.owner"  # "<pid> <start time>" of the pytest process
LABEL_HOST = "io.pytest-roo.host"  # pids only mean something on the host that made them



def owner_label(pid: int | None = None) -> str:
    """``"<pid> <start time>"`` of process ``pid`` (default: this one): with the start time a
    reused pid is not taken for the owner."""
    from pytest_roo.services.procs import process_start_time

    pid = os.getpid() if pid is None else pid
    return f"{pid} {process_start_time(pid)}"


def container_labels(session: str, pid: int | None = None) -> dict[str, str]:
    """The labels of a container of ``session`` owned by process ``pid`` (default: this one) on
    this host."""
    return {LABEL_SESSION: session, LABEL_OWNER: owner_label(pid),
            LABEL_HOST: socket.gethostname()}


def dead_owner(labels: Mapping[str, str], host: str | None = None,
               start_time: Callable[[int], str | None] | None = None) -> bool:
    """Is the pytest process that owns a container with these labels gone? Only for containers
    made on this host; a label that cannot be read is not a reason to remove anything."""
    from pytest_roo.services.procs import process_start_time

    if labels.get(LABEL_HOST) != (host or socket.gethostname()):
        return False
    try:
        pid_text, started = labels[LABEL_OWNER].split()
        pid = int(pid_text)
    except (KeyError, ValueError):
        return False
    return (start_time or process_start_time)(pid) != started


def sweep_dead_owners(endpoint: str) -> list[str]:
    """Remove the containers whose owner process died without removing them."""
    removed = []
    for container in docker_engine.list_containers(endpoint, LABEL_OWNER):
        if (dead_owner(container.get("Labels") or {})
                and docker_engine.remove_container(endpoint, container["Id"])):
            removed.append(container["Id"])
    return removed


def cleanup_argv(endpoint: str, session: str) -> list[str]:
    """What the watchdog runs when pytest dies: remove this session's containers."""
    return [sys.executable, "-S", docker_engine.__file__, "remove", endpoint,
            f"{LABEL_SESSION}={session}"]
