"""Child processes with known memory behaviour (memory_child.py), each in its own process
group and killed after the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHILD = Path(__file__).resolve().parent / "memory_child.py"


#: ``memory_child(mode, amount, seconds=60.0)``: the child process, ready
StartChild = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def memory_child() -> Iterator[StartChild]:
    """``memory_child("leak", 8)`` starts memory_child.py (bounded to 60 s by itself)."""
    started: list[subprocess.Popen[str]] = []

    def start(mode: str, amount: float, seconds: float = 60.0) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), mode, str(amount), str(seconds)],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY", f"memory_child.py did not start: {line!r}"
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
