"""Load runs spread over worker processes (``processes=N``) and hosts (``--roo-load-hosts``).

One Python process drives one core. With ``processes=N`` a call starts N worker processes for
the run (``python -m pytest_roo.load.worker_main``, each in a session of its own with a
parent-death signal) or uses the execnet gateways of ``--roo-load-hosts``
(:mod:`pytest_roo.load.hosts`), and:

1. gives each worker its share of the clients and the rate (:func:`pytest_roo.load.split.split`);
2. lets every worker connect its clients and report ``ready``; then sends one start instant
   (corrected for each worker's clock offset, measured by pings when the workers say hello),
   so every window starts together and ends at one deadline;
3. merges the results exactly when they are all in (:mod:`pytest_roo.load.merge`): histograms
   added, counters summed, timelines aligned, the saturation verdict over every worker.

Why worker processes started with a pipe protocol and not multiprocessing: the same small
protocol then serves local pipes and execnet channels; the workers get a process group, a
parent-death signal and an environment chosen here; nothing re-imports the caller's
``__main__`` (pytest, a bench script); and stdout/stderr are kept apart, so a worker that
dies leaves its last words for the error.

Interruptions: Ctrl-C (and SIGTERM, when nothing else handles it) in the coordinating process
sends ``stop`` to every worker; they end their windows within a second and send what they
measured, which is merged and raised as :class:`~pytest_roo.load.engine.RunInterrupted` like
a one-process run's. What another signal handler raises (pytest-timeout) stops the workers
the same way, and goes on with a note of what was measured. A worker that dies or fails
stops the others and fails the run with its cause (exit status or signal, its last stderr
lines). When the pool closes, every worker is asked to exit, then killed (its whole process
group) if it has not within two seconds.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_roo.load.engine import EngineFailure, RunInterrupted
from pytest_roo.load.merge import Part, from_wire, merge_results
from pytest_roo.load.split import (
    CallSpec,
    capture,
    check_sendable,
    describe_split,
    resolve_processes,
    split,
    total_clients,
)
from pytest_roo.load.wire import PipeTransport, Transport
from pytest_roo.redact import mask_known, mask_secrets, url_secrets
from pytest_roo.units import format_duration

if TYPE_CHECKING:
    from pytest_roo.load.engine import AbortCheck, ProgressCallback
    from pytest_roo.results.metrics import LoadResult

__all__ = [
    "LocalWorker",
    "WorkerFailed",
    "WorkerHandle",
    "WorkerPool",
    "run_spread",
    "spread_calls",
    "start_local_workers",
]

#: how long a new worker may take to say hello (interpreter start + imports on a busy machine)
HELLO_TIMEOUT = 60.0
#: after ``stop``: the workers end their windows within a second, then ship their results
STOP_WAIT = 5.0
#: after an exception not the run's own (pytest-timeout): wait this long for partial results
FOREIGN_STOP_WAIT = 1.0
#: the start instant is this far ahead of ``go`` (plus twice the slowest ping)
START_MARGIN = 0.05


class WorkerFailed(EngineFailure):
    """A worker process of a multi-process load run died or failed; the message names it and
    says why (exit status or signal, its error, its last stderr lines)."""


class WorkerHandle:
    """One worker, seen from the coordinating process."""

    def __init__(self, label: str, transport: Transport) -> None:
        self.label = label
        self.transport = transport
        #: where it runs when not on this machine: its gateway ("ssh=loadgen1"), else ""
        self.where = ""
        self.hello: dict[str, Any] = {}
        #: the worker's wall clock minus ours, and the round trip it was measured with
        self.offset = 0.0
        self.rtt = 0.0

    def send(self, message: dict[str, Any]) -> bool:
        """Send; False when the worker is gone."""
        try:
            self.transport.send(message)
        except (OSError, ValueError):
            return False
        return True

    def death(self) -> str:
        """Why the worker's stream ended: its exit status or signal, its last words."""
        return "its connection closed"

    def kill(self) -> None:
        """Make sure it is gone, now."""

    def close(self, timeout: float = 2.0) -> None:
        """Ask it to exit; kill it if it has not within ``timeout``."""
        self.send({"op": "exit"})
        self.transport.close()


class LocalWorker(WorkerHandle):
    """A worker process on this machine, talking over its stdin and stdout."""

    def __init__(self, index: int) -> None:
        env = dict(os.environ)
        # the workers import pytest_roo and the caller's scenario modules as this process does
        paths = [p or os.getcwd() for p in sys.path]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_roo.load.worker_main"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True, preexec_fn=_death_signal(),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        super().__init__(f"worker {index + 1} (pid {self.proc.pid})",
                         PipeTransport(self.proc.stdout, self.proc.stdin))
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=self._drain, name=f"roo-worker-{index}-stderr",
                         daemon=True).start()

    def _drain(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        for raw in iter(stream.readline, b""):
            self.stderr_tail.append(raw.decode("utf-8", "replace").rstrip()[:300])

    def death(self) -> str:
        """Exit status or signal and the last stderr lines (secrets masked)."""
        try:
            code = self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            return "its pipe closed while the process still runs"
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        time.sleep(0.05)  # let the stderr thread read the last lines
        tail = [line for line in self.stderr_tail if line.strip()][-8:]
        if tail:
            how += "; its last stderr lines:\n    " + "\n    ".join(tail)
        return mask_known(mask_secrets(how))

    def kill(self) -> None:
        """Kill its process group (it has a session of its own)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(2.0)

    def close(self, timeout: float = 2.0) -> None:
        """``exit``, then SIGKILL to the group after ``timeout``."""
        if self.proc.poll() is None:
            self.send({"op": "exit"})
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


def _death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` giving the child PR_SET_PDEATHSIG=SIGKILL (Linux): it dies with the
    thread that started it, even when this process is killed outright."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class WorkerPool:
    """Workers that have said hello and whose clocks are measured; runs calls on them."""

    def __init__(self, workers: Sequence[WorkerHandle] = ()) -> None:
        self.workers: list[WorkerHandle] = []
        self.inbox: queue.Queue[tuple[int, dict[str, Any] | None]] = queue.Queue()
        self.gone: set[int] = set()
        #: the workers' own results of the last run, before they were merged
        self.last_parts: list[Part] = []
        self.add(workers)

    def add(self, workers: Sequence[WorkerHandle]) -> list[int]:
        """Take ``workers`` in (their messages go to the one inbox); their indices."""
        indices = []
        for worker in workers:
            index = len(self.workers)
            self.workers.append(worker)
            indices.append(index)
            threading.Thread(target=self._read, args=(index, worker), daemon=True,
                             name=f"roo-worker-{index}-reader").start()
        return indices

    def _read(self, index: int, worker: WorkerHandle) -> None:
        while True:
            message = worker.transport.receive()
            self.inbox.put((index, message))
            if message is None:
                return

    def __len__(self) -> int:
        return len(self.workers)

    # -- start --

    def wait_hello(self, indices: Sequence[int] | None = None,
                   timeout: float = HELLO_TIMEOUT) -> None:
        """Wait for the hello of every worker (of ``indices``), then measure each one's clock
        offset (three pings, the quickest counts). A worker that dies or stays silent is an
        error naming it."""
        chosen = list(range(len(self.workers)) if indices is None else indices)
        deadline = time.monotonic() + timeout
        waiting = set(chosen)
        while waiting:
            index, message = self._next(deadline, "say hello")
            if message is None:
                self.gone.add(index)
                raise WorkerFailed(f"load {self.workers[index].label} did not start: "
                                   f"{self.workers[index].death()}")
            if message.get("op") == "hello":
                self.workers[index].hello = message
                waiting.discard(index)
        self._sync_clocks(chosen, deadline)

    def _next(self, deadline: float, what: str) -> tuple[int, dict[str, Any] | None]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WorkerFailed(f"load workers did not {what} within the time allowed")
        try:
            return self.inbox.get(timeout=left)
        except queue.Empty:
            raise WorkerFailed(f"load workers did not {what} within the time allowed") from None

    def _sync_clocks(self, chosen: Sequence[int], deadline: float) -> None:
        best: dict[int, tuple[float, float]] = {}
        for _ in range(3):
            for index in chosen:
                self.workers[index].send({"op": "ping", "t0": time.time()})
            pending = set(chosen)
            while pending:
                index, message = self._next(deadline, "answer a clock ping")
                if message is None:
                    self.gone.add(index)
                    raise WorkerFailed(f"load {self.workers[index].label} died: "
                                       f"{self.workers[index].death()}")
                if message.get("op") != "pong":
                    continue
                t1 = time.time()
                t0 = float(message["t0"])
                rtt = t1 - t0
                offset = float(message["time"]) - (t0 + t1) / 2
                if index not in best or rtt < best[index][0]:
                    best[index] = (rtt, offset)
                pending.discard(index)
        for index, (rtt, offset) in best.items():
            self.workers[index].rtt = rtt
            self.workers[index].offset = offset

    # -- a run --

    def run(self, parts: Sequence[CallSpec], blobs: Sequence[bytes], *, name: str,
            duration: float, abort: AbortCheck | None = None,
            progress: ProgressCallback | None = None, stop: threading.Event | None = None,
            max_late_share: float | None = None, budget: float = 120.0) -> LoadResult:
        """Run ``parts[i]`` on worker ``i`` with one start instant; return the merged result.

        Raises RunInterrupted (Ctrl-C, SIGTERM) with the merged result of what was measured,
        WorkerFailed when a worker died or failed, and whatever a signal handler raised
        (with a note of what was measured)."""
        run = _Run(self, parts, name=name, duration=duration, abort=abort, progress=progress,
                   stop=stop, max_late_share=max_late_share, budget=budget)
        return run.execute(blobs)

    def close(self) -> None:
        """Every worker asked to exit, then killed if it has not."""
        threads = [threading.Thread(target=w.close, daemon=True) for w in self.workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5.0)
        for worker in self.workers:
            worker.kill()


class _Run:
    """The coordinator's side of one run: ready, go, snapshots, stop, results."""

    def __init__(self, pool: WorkerPool, parts: Sequence[CallSpec], *, name: str,
                 duration: float, abort: AbortCheck | None, progress: ProgressCallback | None,
                 stop: threading.Event | None, max_late_share: float | None,
                 budget: float) -> None:
        self.pool = pool
        self.parts = parts
        self.n = len(parts)
        self.name = name
        self.duration = duration
        self.abort = abort
        self.progress = progress
        self.stop_event = stop
        self.max_late_share = max_late_share
        self.budget = budget
        self.ready: set[int] = set()
        self.results: dict[int, Part] = {}
        self.ended: set[int] = set()  # result, error or death
        self.snapshots: dict[int, tuple[dict[str, Any], int]] = {}
        self.ticks_shown = 0
        self.last_ops = 0
        self.go_sent = False
        self.stop_reason: str | None = None
        self.aborted: str | None = None
        self.interrupted: str | None = None
        self.failure: str | None = None
        self.failure_type: type[BaseException] = WorkerFailed
        self.collect_until: float | None = None
        self.signal_reason: str | None = None
        self.hard_stop = False
        self.secrets = [s for p in parts[:1]
                        for s in url_secrets(str(p.driver.kwargs.get("url", "")))]

    # -- signals --

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {}

        def on_signal(signum: int, frame: Any) -> None:
            if self.signal_reason is not None:  # a second Ctrl-C: stop waiting for results
                self.hard_stop = True
                raise KeyboardInterrupt
            self.signal_reason = ("interrupted (Ctrl-C)" if signum == signal.SIGINT
                                  else f"terminated ({signal.Signals(signum).name})")

        previous[signal.SIGINT] = signal.signal(signal.SIGINT, on_signal)
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_signal)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    # -- the loop --

    def execute(self, blobs: Sequence[bytes]) -> LoadResult:
        live = self.abort is not None or self.progress is not None
        for i, (worker, blob) in enumerate(zip(self.pool.workers, blobs, strict=False)):
            if not worker.send({"op": "run", "spec": blob, "index": i, "count": self.n,
                                "live": live}):
                self._fail(i, f"load {worker.label} is gone: {worker.death()}")
        hard_deadline = time.monotonic() + self.budget
        with self._signals():
            try:
                self._loop(hard_deadline)
            except KeyboardInterrupt as exc:
                if self.hard_stop or self.interrupted is not None:
                    raise
                # another handler's Ctrl-C (pytest-roo's session turns SIGTERM into one):
                # stop, collect and keep what was measured, as for our own
                self.interrupted = ("terminated (SIGTERM)" if str(exc) == "SIGTERM"
                                    else "interrupted")
                self._stop(self.interrupted)
                self._loop(time.monotonic() + STOP_WAIT)  # a second interrupt ends the wait
            except BaseException as exc:  # a signal handler's exception (pytest-timeout)
                self._stop(f"interrupted: {type(exc).__name__}", wait=FOREIGN_STOP_WAIT)
                with contextlib.suppress(BaseException):
                    self._loop(time.monotonic() + FOREIGN_STOP_WAIT)
                if self.results:
                    with contextlib.suppress(Exception):
                        partial = self._merge()
                        note = getattr(exc, "add_note", None)  # Python 3.11+
                        if note is not None:
                            note(f"load run {self.name!r} over {self.n} worker processes "
                                 f"stopped: {_summary(partial)}")
                raise
        return self._finish()

    def _loop(self, hard_deadline: float) -> None:
        while len(self.ended) < self.n:
            now = time.monotonic()
            if self.signal_reason is not None and self.interrupted is None:
                self.interrupted = self.signal_reason
                self._stop(self.signal_reason)
            if self.stop_event is not None and self.stop_event.is_set():
                self._stop("cancelled")
            if self.collect_until is not None and now > self.collect_until:
                return
            if now > hard_deadline and self.stop_reason is None:
                self._stop("overall deadline reached")
                self.failure = self.failure or (
                    f"the run did not end by its overall deadline ({self.budget:.0f} s)")
            try:
                index, message = self.pool.inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            self._handle(index, message)

    def _handle(self, index: int, message: dict[str, Any] | None) -> None:
        worker = self.pool.workers[index]
        if message is None:
            self.pool.gone.add(index)
            if index not in self.ended:
                self.ended.add(index)
                self._fail(index, f"load {worker.label} died: {worker.death()}")
            return
        op = message.get("op")
        if op == "ready":
            self.ready.add(index)
            self._maybe_go()
        elif op == "tick":
            self.snapshots[index] = (json.loads(message["result"]),
                                     int(message.get("expected", 0)))
            self._live()
        elif op == "result":
            result = from_wire(json.loads(message["result"]))
            window = message.get("window_start")
            # the worker's clock, back on ours
            result.started_at -= worker.offset
            start = None if window is None else float(window) - worker.offset
            self.results[index] = Part(result, self._label(index), start,
                                       {"host": worker.hello.get("host"),
                                        "pid": worker.hello.get("pid"),
                                        "clock_offset": round(worker.offset, 6)})
            self.ended.add(index)
            self._maybe_go()
        elif op == "error":
            self.ended.add(index)
            text = mask_known(mask_secrets(str(message.get("message", ""))), self.secrets)
            error = str(message.get("error", "Exception"))
            if error in ("ValueError", "TypeError") and self.failure is None:
                self.failure_type = ValueError if error == "ValueError" else TypeError
                self._fail(index, f"{text} (in load {worker.label})")
            else:
                tb = mask_known(mask_secrets(str(message.get("traceback", ""))), self.secrets)
                self._fail(index, f"load {worker.label} failed: {error}: {text}\n{tb}".rstrip())

    def _label(self, index: int) -> str:
        worker = self.pool.workers[index]
        where = f"{worker.where} on {worker.hello.get('host', '?')}, " if worker.where else ""
        return f"worker {index + 1}/{self.n} ({where}pid {worker.hello.get('pid', '?')})"

    def _fail(self, index: int, why: str) -> None:
        if self.failure is None:
            self.failure = why
        self.ended.add(index)
        self._stop("another worker failed")
        self._maybe_go()

    def _stop(self, reason: str, wait: float = STOP_WAIT) -> None:
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        for i, worker in enumerate(self.pool.workers[: self.n]):
            if i not in self.ended:
                worker.send({"op": "stop", "reason": reason})
        self.collect_until = time.monotonic() + wait

    def _maybe_go(self) -> None:
        if self.go_sent or len(self.ready | self.ended) < self.n:
            return
        self.go_sent = True
        slowest = max((w.rtt for w in self.pool.workers[: self.n]), default=0.0)
        start_at = time.time() + START_MARGIN + 2 * slowest
        for i, worker in enumerate(self.pool.workers[: self.n]):
            if i not in self.ended:
                worker.send({"op": "go", "start_at": start_at + worker.offset})

    def _live(self) -> None:
        """Every worker sent a snapshot for this second: progress and the abort check over
        the merged snapshots."""
        running = [i for i in range(self.n) if i not in self.ended]
        if not running or any(i not in self.snapshots for i in running):
            return
        if self.stop_reason is not None:
            return
        parts = [Part(from_wire(self.snapshots[i][0]), self._label(i)) for i in self.snapshots]
        merged = merge_results(parts, max_late_share=self.max_late_share)
        expected = sum(e for _, e in self.snapshots.values())
        self.ticks_shown += 1
        if self.progress is not None and self.duration > 2.0:
            ops = merged.operations
            primary = merged.metrics.get(merged.primary or "")
            p95 = primary.percentile(95) if primary is not None and primary.count else None
            self.progress(
                f"roo load {self.name} x{self.n}: "
                f"{min(merged.duration, self.duration):4.0f}/{self.duration:.0f}s  "
                f"{ops - self.last_ops:>8,} ops/s  errors {merged.error_count:,}  "
                f"p95 {format_duration(p95)}")
            self.last_ops = ops
        self.snapshots.clear()
        if self.abort is not None:
            reason = self.abort(merged, max(expected, merged.operations))
            if reason:
                self.aborted = reason
                self._stop(f"aborted: {reason}")

    def _merge(self) -> LoadResult:
        parts = [self.results[i] for i in sorted(self.results)]
        self.pool.last_parts = parts
        merged = merge_results(parts, max_late_share=self.max_late_share)
        shares = describe_split(self.parts)
        for item, part_index in zip(merged.info["workers"], sorted(self.results), strict=True):
            item["share"] = shares[part_index]
        return merged

    def _finish(self) -> LoadResult:
        if self.failure is not None and self.interrupted is None:
            message = (f"load run {self.name!r} over {self.n} worker processes failed: "
                       f"{self.failure}")
            if self.failure_type is not WorkerFailed:
                raise self.failure_type(self.failure)
            raise WorkerFailed(message)
        missing = [i for i in range(self.n) if i not in self.results]
        if not self.results and self.interrupted is not None:
            raise KeyboardInterrupt(self.interrupted)
        if not self.results:
            raise WorkerFailed(f"load run {self.name!r}: no worker sent a result "
                               f"({self.stop_reason or 'no reason given'})")
        merged = self._merge()
        if missing:
            merged.info["workers_missing"] = [self._label(i) for i in missing]
        if self.aborted is not None:
            merged.info["aborted"] = self.aborted
            merged.info["stopped"] = f"aborted: {self.aborted}"
        if self.interrupted is not None:
            merged.info["stopped"] = self.interrupted
            merged.info["interrupted"] = True
            raise RunInterrupted(merged)
        if missing:
            raise WorkerFailed(f"load run {self.name!r}: {len(missing)} of {self.n} workers "
                               f"sent no result ({', '.join(merged.info['workers_missing'])})")
        return merged


def _summary(result: LoadResult) -> str:
    return (f"{result.operations:,} operations, {result.error_count:,} errors in "
            f"{result.duration:.1f} s")


def start_local_workers(n: int) -> WorkerPool:
    """``n`` worker processes on this machine, said hello, clocks measured."""
    workers: list[WorkerHandle] = []
    try:
        for i in range(n):
            workers.append(LocalWorker(i))
        pool = WorkerPool(workers)
        pool.wait_hello()
    except BaseException:
        for worker in workers:
            worker.kill()
        raise
    return pool


def _start_pool(processes: int | str, clients: int,
                hosts: Sequence[str]) -> WorkerPool:
    if hosts:
        from pytest_roo.load.hosts import start_host_workers

        return start_host_workers(hosts, processes, clients)
    return start_local_workers(resolve_processes(processes, clients))


class SpreadCall:
    """A fixture's ``call(engine, keywords)`` run over worker processes: the same signature,
    the pool started on the first call and kept for the next (the warm-up, then the measured
    run), closed by :func:`spread_calls`."""

    def __init__(self, call: Callable[[Any, dict[str, Any]], LoadResult],
                 processes: int | str, hosts: Sequence[str]) -> None:
        self.call = call
        self.processes = processes
        self.hosts = tuple(hosts)
        self.pool: WorkerPool | None = None

    def __call__(self, engine: Any, keywords: dict[str, Any]) -> LoadResult:
        keywords = dict(keywords)
        abort = keywords.pop("abort", None) or getattr(engine, "abort", None)
        spec = capture(self.call, engine, keywords)
        return self.run_spec(spec, engine, abort)

    def run_spec(self, spec: CallSpec, engine: Any, abort: AbortCheck | None) -> LoadResult:
        """Split ``spec`` over the pool (started now if need be), run it, merge."""
        clients = total_clients(spec)
        if self.pool is None:
            # a bad argument is reported before any process starts
            check_sendable(spec)
            self.pool = _start_pool(self.processes, clients, self.hosts)
        parts = split(spec, len(self.pool))
        blobs = [check_sendable(part) for part in parts]
        duration = _duration_of(spec)
        timeout = float(spec.kwargs.get("timeout") or getattr(engine, "timeout", 5.0) or 5.0)
        budget = duration + timeout * (4 + clients / 256) + 60.0
        return self.pool.run(
            parts, blobs, name=spec.label, duration=duration, abort=abort,
            progress=getattr(engine, "progress", None),
            stop=getattr(engine, "stop_event", None),
            max_late_share=getattr(engine, "max_late_share", None), budget=budget)

    def close(self) -> None:
        """Stop the workers (nothing is left running)."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def _duration_of(spec: CallSpec) -> float:
    from pytest_roo.load.workload import _as_stages
    from pytest_roo.units import parse_duration

    duration = spec.kwargs.get("duration")
    if duration is not None:
        return parse_duration(duration)
    stages = spec.kwargs.get("stages")
    if stages is not None:
        return sum(s.duration for s in _as_stages(stages))
    return 10.0


@contextlib.contextmanager
def spread_calls(call: Callable[[Any, dict[str, Any]], LoadResult], processes: int | str,
                 hosts: Sequence[str] = ()) -> Iterator[SpreadCall]:
    """``call`` run over ``processes`` workers (on ``hosts`` when given) for the duration of
    the block; the workers are stopped when it ends, also on an error or an interrupt."""
    spread = SpreadCall(call, processes, hosts)
    try:
        yield spread
    finally:
        spread.close()


def run_spread(driver: Any, method: str, *args: Any, processes: int | str = "auto",
               hosts: Sequence[str] = (), **kwargs: Any) -> LoadResult:
    """One call of a driver's method spread over worker processes, without pytest::

        from pytest_roo.load import WsSwarm
        from pytest_roo.load.workers import run_spread
        result = run_spread(WsSwarm(), "echo", "ws://127.0.0.1:8080/ws/echo",
                            processes=2, clients=100, rate="20000/s", duration="10s")

    ``hosts`` are execnet specs as ``--roo-load-hosts`` takes them; the other keywords are
    the method's own."""
    abort = kwargs.pop("abort", None) or getattr(driver, "abort", None)

    def call(engine: Any, keywords: Mapping[str, Any]) -> LoadResult:
        result: LoadResult = getattr(engine, method)(*args, **keywords)
        return result

    with spread_calls(call, processes, hosts) as spread:
        spec = capture(call, driver, kwargs)
        return spread.run_spec(spec, driver, abort)
