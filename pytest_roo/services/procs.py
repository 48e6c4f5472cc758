"""Processes and directories that must not outlive the test session.

Three layers, so a server never outlives the pytest process that started it:

1. every server runs in its own session/process group with ``PR_SET_PDEATHSIG`` (Linux): the
   kernel signals it when the pytest thread that spawned it dies, whatever killed pytest;
2. a watchdog process holds a pipe to pytest; on EOF (pytest exited or was killed, SIGKILL
   included) it kills the registered process groups and removes the registered directories;
3. each session keeps its data under a runtime directory with an ``owner`` file (pid + process
   start time); the next session sweeps directories whose owner is dead, never a live one's.
"""

from __future__ import annotations

from pytest_roo.services.processes import (
    RunAs,
    free_port,
    process_start_time,
    reap,
    run_as_for,
    run_bounded,
    spawn,
)
from pytest_roo.services.processes import kill_group as kill_group
from pytest_roo.services.processes import reap_later as reap_later
from pytest_roo.services.processes import reap_pid as reap_pid
from pytest_roo.services.processes import remove_postgres_segment as remove_postgres_segment
from pytest_roo.services.processes import rmtree as rmtree
from pytest_roo.services.runtime_dirs import OWNER_FILE as OWNER_FILE
from pytest_roo.services.runtime_dirs import PIDS_FILE as PIDS_FILE
from pytest_roo.services.runtime_dirs import SessionDir, runtime_base, sweep_stale
from pytest_roo.services.watchdog import Watchdog

__all__ = [
    "RunAs",
    "SessionDir",
    "Watchdog",
    "free_port",
    "process_start_time",
    "reap",
    "run_as_for",
    "run_bounded",
    "runtime_base",
    "spawn",
    "sweep_stale",
]

