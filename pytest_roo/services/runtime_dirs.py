"""The runtime directories a session keeps its servers' data in, each with an ``owner`` file (pid
and process start time), and the sweep that removes those of dead sessions, never a live one's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
from pathlib import Path

from pytest_roo.services.processes import (
    RunAs,
    kill_group,
    process_start_time,
    remove_postgres_segment,
    rmtree,
)

__all__ = ["OWNER_FILE", "PIDS_FILE", "SessionDir", "runtime_base", "sweep_stale"]


def runtime_base() -> Path:
    """``/dev/shm/pytest-roo-<uid>`` when tmpfs is there (servers then never touch a disk)."""
    env = os.environ.get("ROO_RUNTIME_DIR")
    if env:
        return Path(env)
    shm = Path("/dev/shm")
    root = shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else Path(tempfile.gettempdir())
    return root / f"pytest-roo-{os.geteuid()}"


OWNER_FILE = "owner"
PIDS_FILE = "pids"


class SessionDir:
    """This process's runtime directory: ``<base>/<pid>-<random>`` with an owner file.

    Servers that register here are listed in ``pids`` (pid and start time), so a later session
    can kill them if both this process and its watchdog died without cleaning up.
    """

    def __init__(self, base: Path | None = None) -> None:
        self.base = base or runtime_base()
        self.base.mkdir(mode=0o711, parents=True, exist_ok=True)
        # servers may run as another user: they must be able to traverse to their own dirs
        os.chmod(self.base, 0o711)
        sweep_stale(self.base)
        self.path = self.base / f"{os.getpid()}-{secrets.token_hex(3)}"
        self.path.mkdir(mode=0o711)
        (self.path / OWNER_FILE).write_text(f"{os.getpid()} {process_start_time(os.getpid())}\n")
        self._lock = threading.Lock()

    def subdir(self, name: str, owner: RunAs | None = None) -> Path:
        """Create the private directory ``name`` in the session's directory, owned by ``owner`` if
        given."""
        path = self.path / name
        path.mkdir(mode=0o700)
        if owner is not None and owner.switches:
            os.chown(path, owner.uid, owner.gid)
        return path

    def register_pid(self, pid: int) -> None:
        """Note ``pid`` and its start time in the session's directory: a later session stops what a
        killed one left running."""
        with self._lock, open(self.path / PIDS_FILE, "a") as fh:
            fh.write(f"{pid} {process_start_time(pid)}\n")

    def remove(self) -> None:
        """Remove the session's directory."""
        rmtree(self.path)


def sweep_stale(base: Path) -> list[Path]:
    """Remove session directories (and kill their servers) whose owner process is dead."""
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        owner = entry / OWNER_FILE
        try:
            pid_text, start = owner.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            # a directory being created right now has no owner file yet: leave it alone
            # unless it is clearly old
            try:
                import time

                if time.time() - entry.stat().st_mtime < 60:
                    continue
            except OSError:
                continue
            pid, start = -1, ""
        if pid > 0 and process_start_time(pid) == start:
            continue  # a live session
        with contextlib.suppress(OSError, ValueError):
            for line in (entry / PIDS_FILE).read_text().splitlines():
                spid_text, sstart = line.split()
                spid = int(spid_text)
                if process_start_time(spid) == sstart:
                    kill_group(spid)
        for pidfile in entry.glob("*/postmaster.pid"):
            remove_postgres_segment(pidfile.parent)
        rmtree(entry)
        removed.append(entry)
    return removed
