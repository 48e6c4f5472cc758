"""Shared plumbing of the benches: servers pinned to core 0, clients pinned to core 1, peak RSS.

The machine the benches run on is usually shared: compare the ratios printed by one invocation
(rounds alternate between the tools and the medians are reported), not figures across runs.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
SERVER_CORE = 0
CLIENT_CORE = 1


def pin(core: int) -> Callable[[], None]:
    """A ``preexec_fn`` that pins the child to ``core`` (when the machine has it)."""

    def pre() -> None:
        cores = os.sched_getaffinity(0)
        if core in cores:
            os.sched_setaffinity(0, {core})

    return pre


def have_two_cores() -> bool:
    return len(os.sched_getaffinity(0)) >= 2


class Server:
    """A bench server in its own process group, pinned to core 0: by default
    bench/servers/ws_server.py with ``flags``, or ``argv`` run in ``cwd``. It prints
    ``PORT <n>`` when it listens and stops when its stdin closes."""

    def __init__(self, *flags: str, argv: Sequence[str] | None = None,
                 cwd: Path | None = None) -> None:
        if argv is None:
            argv = [PYTHON, str(HERE / "servers" / "ws_server.py"), "--max-seconds", "3600",
                    *flags]
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True, preexec_fn=pin(SERVER_CORE),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise SystemExit(f"bench server {Path(argv[-1]).name} did not start: {line!r}")
        self.port = int(line.split()[1])

    def ws(self, path: str = "/ws/echo") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_client(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
               cwd: Path | None = None, core: int = CLIENT_CORE) -> tuple[str, float]:
    """Run a client pinned to ``core`` in its own process group; return (stdout, peak RSS MB of
    its process tree, sampled every 0.1 s)."""
    import psutil

    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})}, cwd=cwd,
                            start_new_session=True, preexec_fn=pin(core))
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs)
            except psutil.Error:
                rss = 0
            peak = max(peak, rss / 2**20)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        raise SystemExit(f"client {argv[:3]} did not finish within {timeout:.0f}s") from None
    finally:
        stop.set()
        sampler.join(2)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode != 0:
        raise SystemExit(f"client {' '.join(argv[:4])} failed ({proc.returncode}):\n"
                         f"{err[-3000:]}")
    return out, peak


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return dict(json.loads(line))
    raise SystemExit(f"no JSON line in the client's output:\n{text[-2000:]}")


def median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(value: float | None, spec: str) -> str:
    """``format(value, spec)``, or a dash as wide as the spec when there is no value."""
    if value is None:
        width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
        return "-".rjust(int(width or 1))
    return format(value, spec)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min) on {os.cpu_count()} cores"


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
