"""Sampling processes by pid tree with psutil: RSS, USS, CPU, threads, fds, sockets.

The tree is found again at every sample (workers forked after the start are seen; exited ones
drop out). ``psutil.Process`` objects are kept between samples because CPU % is the difference
of two readings of the same object; a pid reused by a new process (other create time) starts
fresh. USS reads ``/proc/PID/smaps(_rollup)``: it is measured where that costs little, and
switched off for a process whose first reading took longer than ``USS_BUDGET``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

__all__ = ["USS_BUDGET", "ProcessTree", "sample_process"]

_PROC_FD = sys.platform.startswith("linux")  # /proc/PID/fd lists a process's descriptors

#: seconds one USS reading may take before it is switched off for that process
USS_BUDGET = 0.005


def _descendant_pids(pid: int) -> list[int] | None:
    """Descendants from /proc/PID/task/TID/children (Linux >= 3.5): it reads only the tree,
    where psutil's children(recursive=True) reads every process on the machine (5 ms for 120
    processes here). None when the files are not there."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tids = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue  # exited meanwhile
        for tid in tids:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as handle:
                    text = handle.read()
            except FileNotFoundError:
                if current == pid and not found:
                    return None  # the kernel has no children files
                continue
            except OSError:
                continue
            for item in text.split():
                child = int(item)
                found.append(child)
                pending.append(child)
    return found


def _count_sockets(process: psutil.Process) -> int | None:
    if _PROC_FD:
        # Reading the fd links is much cheaper than psutil's net_connections, which parses the
        # whole /proc/net tables on every call.
        count = 0
        try:
            with os.scandir(f"/proc/{process.pid}/fd") as entries:
                for entry in entries:
                    try:
                        if os.readlink(entry.path).startswith("socket:"):
                            count += 1
                    except OSError:
                        continue  # closed between listing and reading
        except OSError:
            return None
        return count
    try:
        return len(process.net_connections(kind="all"))
    except Exception:  # psutil.AccessDenied / NoSuchProcess / not implemented
        return None


def sample_process(
    process: psutil.Process, *, uss: bool
) -> tuple[dict[str, float | None], float]:
    """One reading of one process and the seconds its USS reading took.

    Raises psutil.NoSuchProcess when the process is gone."""
    import psutil

    values: dict[str, float | None] = {}
    with process.oneshot():
        if process.status() == psutil.STATUS_ZOMBIE:
            # exited, not yet reaped by its parent: no longer part of the system under test
            raise psutil.ZombieProcess(process.pid)
        values["rss"] = float(process.memory_info().rss)
        values["cpu"] = float(process.cpu_percent(interval=None))
        values["threads"] = float(process.num_threads())
        try:
            values["fds"] = float(process.num_fds()) if hasattr(process, "num_fds") else None
        except psutil.AccessDenied:
            values["fds"] = None
    uss_seconds = 0.0
    if uss:
        started = time.perf_counter()
        try:
            values["uss"] = float(process.memory_full_info().uss)
        except (psutil.AccessDenied, AttributeError):
            values["uss"] = None
        uss_seconds = time.perf_counter() - started
    sockets = _count_sockets(process)
    values["sockets"] = None if sockets is None else float(sockets)
    return values, uss_seconds


class ProcessTree:
    """The processes under some root pids (with their descendants when ``children``)."""

    def __init__(self, roots: Iterable[int], *, children: bool = True, uss: bool = True) -> None:
        import psutil

        self.roots: list[psutil.Process] = []
        for pid in roots:
            if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
                raise ValueError(f"invalid pid {pid!r}: expected a positive whole number")
            try:
                self.roots.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                raise ValueError(f"no process with pid {pid} to monitor") from None
        self.children = children
        self.uss = uss
        self._known: dict[int, psutil.Process] = {}
        self._uss_off: set[int] = set()
        self._fresh: set[int] = set()

    def members(self) -> list[psutil.Process]:
        """The running processes of the tree: the roots and, if asked, their children now."""
        import psutil

        found: dict[int, psutil.Process] = {}
        for root in self.roots:
            if not root.is_running():
                continue
            found[root.pid] = root
            if not self.children:
                continue
            pids = _descendant_pids(root.pid) if _PROC_FD else None
            if pids is not None:
                for pid in pids:
                    if pid not in found:
                        try:
                            found[pid] = psutil.Process(pid)  # _tracked() handles pid reuse
                        except psutil.NoSuchProcess:
                            continue
                continue
            try:
                for child in root.children(recursive=True):
                    found.setdefault(child.pid, child)
            except psutil.NoSuchProcess:
                continue
        return list(found.values())

    def _tracked(self, process: psutil.Process) -> psutil.Process:
        known = self._known.get(process.pid)
        try:
            same = known is not None and known.create_time() == process.create_time()
        except Exception:
            same = False
        if known is not None and same:
            return known
        self._known[process.pid] = process
        self._uss_off.discard(process.pid)
        self._fresh.add(process.pid)
        process.cpu_percent(interval=None)  # prime: the first reading is always 0.0
        return process

    def sample(self) -> dict[int, tuple[str, dict[str, float | None]]]:
        """pid -> (process name, metrics) for every live member of the tree."""
        import psutil

        out: dict[int, tuple[str, dict[str, float | None]]] = {}
        for member in self.members():
            try:
                process = self._tracked(member)
                fresh = process.pid in self._fresh
                self._fresh.discard(process.pid)
                want_uss = self.uss and process.pid not in self._uss_off
                values, uss_seconds = sample_process(process, uss=want_uss)
                if want_uss and fresh and uss_seconds > USS_BUDGET:
                    self._uss_off.add(process.pid)
                if fresh:
                    values["cpu"] = None  # no interval yet to measure over
                out[process.pid] = (process.name(), values)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                self._known.pop(member.pid, None)
            except psutil.AccessDenied:
                continue
        return out
