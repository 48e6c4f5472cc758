"""Test servers that print ``PORT <n>`` when they listen and stop when their stdin closes:
started in a process group of their own, stopped (then killed) after the test."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any

__all__ = ["start_port_server", "stop_port_servers"]


def start_port_server(procs: list[subprocess.Popen[str]], cmd: Sequence[str], what: str,
                      **popen: Any) -> int:
    """Start ``cmd`` (kept in ``procs`` for :func:`stop_port_servers`) and return the port its
    first line names; fails naming ``what`` when that line is not ``PORT <n>``."""
    proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            start_new_session=True, **popen)
    procs.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), f"{what} did not start: {line!r}"
    return int(line.split()[1])


def stop_port_servers(procs: list[subprocess.Popen[str]]) -> None:
    """Close each server's stdin (its signal to stop), wait 3 s, then kill its process group."""
    for proc in procs:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(3)
        if proc.stdout:
            proc.stdout.close()
