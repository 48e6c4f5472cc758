"""The worker side of a multi-process load run: ``python -m pytest_roo.load.worker_main``.

A worker says hello (pid, host, usable cores, its clock), answers the clock pings, and runs
what it is sent: it rebuilds the driver, connects its share of the clients, reports
``ready`` and holds there (``start_gate``, called by the engine's ``begin``) until the
coordinator's ``go`` names the common start instant; then it runs its window and sends its
result back as JSON with HdrHistogram base64 payloads. ``stop`` (Ctrl-C, an abort, a failed
worker elsewhere) ends its run within a second, as the run's own stop does; the end of its
input (the coordinator is gone) does the same and the worker exits.

Started locally, its protocol runs on its original stdout (fd 1 then points at stderr, so a
print in a user's scenario cannot corrupt a frame); it runs in a session of its own with a
parent-death signal, and ignores SIGINT (Ctrl-C is the coordinator's to handle: it stops
every worker and merges what they measured). Over execnet the same :func:`serve` runs on a
channel (:mod:`pytest_roo.load.hosts`).
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import queue
import signal
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from pytest_roo.load.wire import PipeTransport, Transport

if TYPE_CHECKING:
    from pytest_roo.load.recorder import Recorder
    from pytest_roo.results.metrics import LoadResult

__all__ = ["main", "serve"]

#: how long a ready worker waits for ``go`` before it gives up (the coordinator is stuck)
GO_TIMEOUT = 600.0


class _Worker:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stop = threading.Event()
        self.go = threading.Event()
        self.go_at = 0.0
        self.stop_reason = ""
        self.window_start: float | None = None
        self.gone = False

    # -- messages --

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.transport.send(message)
        except OSError:  # the coordinator is gone: end what runs
            self.gone = True
            self.stop.set()
            self.go.set()

    def read(self) -> None:
        """The reader thread: ``stop`` and ``go`` act at once (a run is in progress in the
        main thread), everything else goes to the main loop."""
        while True:
            message = self.transport.receive()
            if message is None:
                self.gone = True
                self.stop_reason = self.stop_reason or "the coordinating process is gone"
                self.stop.set()
                self.go.set()
                self.inbox.put(None)
                return
            op = message.get("op")
            if op == "stop":
                self.stop_reason = str(message.get("reason") or "stopped")
                self.stop.set()
                self.go.set()
            elif op == "go":
                self.go_at = float(message["start_at"])
                self.go.set()
            else:
                self.inbox.put(message)

    # -- the run --

    def gate(self, rec: Recorder) -> None:
        """Connections are up: report ready, hold until the common start instant."""
        self.send({"op": "ready", "setup_seconds": time.perf_counter() - rec.window_start})
        self.go.wait(GO_TIMEOUT)
        if self.stop.is_set() or not self.go.is_set():
            rec.stop(self.stop_reason or "no start signal from the coordinating process")
            return
        wait = self.go_at - time.time()
        if wait > 0:
            time.sleep(min(wait, 5.0))
        self.window_start = time.time()

    def snapshot(self, result: LoadResult, expected: int) -> str | None:
        """The engine's once-a-second abort hook: ship the result so far (the coordinator
        merges them to judge abort criteria and show progress over every worker)."""
        from pytest_roo.load.merge import to_wire

        self.send({"op": "tick", "result": json.dumps(to_wire(result), default=str),
                   "expected": int(expected)})
        return None  # stopping is the coordinator's call, sent as ``stop``

    def run(self, message: dict[str, Any]) -> None:
        from pytest_roo.load.engine import RunInterrupted
        from pytest_roo.load.merge import to_wire

        self.stop.clear()
        self.go.clear()
        self.stop_reason = ""
        self.window_start = None
        result: LoadResult | None = None
        try:
            spec = pickle.loads(message["spec"])
            driver = spec.driver.build()
            driver.stop_event = self.stop
            driver.start_gate = self.gate
            extra = {"abort": self.snapshot} if message.get("live") else {}
            try:
                result = spec.call(driver, **extra)
            except RunInterrupted as interrupted:  # a SIGINT sent to this worker itself
                result = interrupted.result
        except BaseException as exc:
            self.send({"op": "error", "error": type(exc).__name__, "message": str(exc),
                       "traceback": traceback.format_exc(limit=12)})
            if not isinstance(exc, Exception):
                raise
            return
        assert result is not None
        self.send({"op": "result", "result": json.dumps(to_wire(result), default=str),
                   "window_start": self.window_start})

    def serve(self) -> None:
        self.send({"op": "hello", "pid": os.getpid(), "host": platform.node(),
                   "cores": _usable_cores(), "python": sys.version.split()[0],
                   "time": time.time()})
        threading.Thread(target=self.read, name="roo-worker-reader", daemon=True).start()
        while True:
            message = self.inbox.get()
            if message is None:
                return
            op = message.get("op")
            if op == "ping":
                self.send({"op": "pong", "t0": message.get("t0"), "time": time.time()})
            elif op == "run":
                self.run(message)
                if self.gone:
                    return
            elif op == "exit":
                return


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def serve(transport: Transport) -> None:
    """Answer one coordinator on ``transport`` until it says ``exit`` or goes away."""
    _Worker(transport).serve()


def main() -> None:
    """A local worker: the protocol on the stdin/stdout it was started with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # prints go to stderr, never into the protocol's frames
    protocol_in = os.fdopen(os.dup(0), "rb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    serve(PipeTransport(protocol_in, protocol_out))


if __name__ == "__main__":
    main()
