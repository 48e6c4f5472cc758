"""Whether a process a test started (or had started for it) still runs: its state in /proc,
where a zombie (exited, not yet reaped by a parent that may be gone too) counts as gone."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: Iterable[int], seconds: float = 10.0) -> set[int]:
    """The ``pids`` still running after up to ``seconds`` (SIGKILL takes effect when a process
    next runs: on a busy machine, some ms after the signal was sent)."""
    end = time.monotonic() + seconds
    alive = set(pids)
    while alive and time.monotonic() < end:
        alive = {pid for pid in alive if running(pid)}
        if alive:
            time.sleep(0.1)
    return {pid for pid in alive if running(pid)}
