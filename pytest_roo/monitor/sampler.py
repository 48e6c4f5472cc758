"""The resource monitor: a background thread sampling a process tree, Docker containers and a
``/metrics`` endpoint.

It runs beside the load generator, never inside its event loop: one daemon thread wakes at a
fixed rate (``interval``), reads the processes (psutil) and scrapes the target's Prometheus
endpoint, and appends to a :class:`~pytest_roo.monitor.timeline.Timeline`. A tick that comes
late (the machine was busy) is not made up: the missed ticks are counted in ``info``. The
monitor stops by itself after ``duration`` seconds or ``count`` samples, on :meth:`stop`, or at
the end of a ``with`` block.

The process running the monitor (the load generator, usually) is sampled apart as ``generator``
so that its CPU is never mixed into the system under test's.
"""

from __future__ import annotations

import math
import os
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pytest_roo.monitor.timeline import UNITS, Series, Timeline

if TYPE_CHECKING:
    import psutil

    from pytest_roo.monitor.containers import ContainerStats
    from pytest_roo.monitor.procs import ProcessTree
    from pytest_roo.monitor.prometheus import Selector
    from pytest_roo.results.metrics import LoadResult

__all__ = ["DEFAULT_METRICS", "MAX_DURATION", "ResourceMonitor"]

#: a safety bound when neither duration nor count is given
MAX_DURATION = 3600.0
#: the series scraped from /metrics when none are named (the standard process collector's)
DEFAULT_METRICS = {
    "process_rss": "process_resident_memory_bytes",
    "process_cpu_seconds": "process_cpu_seconds_total",
    "process_open_fds": "process_open_fds",
}
_PROCESS_METRICS = ("rss", "uss", "cpu", "threads", "fds", "sockets")


def _safe_url(url: str) -> str:
    """The URL without user:password, for messages and reports."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urllib.parse.urlunsplit(parts)


def _check_number(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


class ResourceMonitor:
    """Samples processes (by pid tree) and optionally a Prometheus ``/metrics`` URL.

    Args:
        pids: root process ids of the system under test.
        children: also sample every descendant of the roots (workers, backends).
        metrics_url: ``http://127.0.0.1:8080/metrics`` of the target, or None.
        metrics: the series to keep from it: a list of selectors, or alias -> selector
            (``{"requests": 'http_requests_total{code="200"}'}``); each is the sum of the
            samples the selector picks. Default: the process collector's RSS, CPU, open fds.
        interval: seconds between samples.
        duration: seconds after which sampling stops by itself (default: one hour).
        count: the most samples to take.
        uss: also read USS (unique memory) where it is cheap.
        per_process: keep one series per process besides the totals.
        generator: sample this process (the load generator) apart as ``generator``.
        system: also sample the whole machine as ``system``: CPU % of all cores, memory used
            (bytes and %), network bytes sent / received on all interfaces (cumulative).
            Meaningful when the system under test runs on this machine.
        containers: Docker containers of the system under test (ids or names), sampled
            through the Engine API (``docker_host``, default ``DOCKER_HOST``) as
            ``container:<name>`` series: ``rss``, ``cpu``, ``processes``, ``net_rx_bytes``,
            ``net_tx_bytes`` (:mod:`pytest_roo.monitor.containers`); their ``rss``, ``cpu`` and
            ``processes`` also count into the totals beside the process tree's.

    Example::

        with ResourceMonitor([server.pid], interval=0.5, duration=60) as monitor:
            result = run_load()
            monitor.mark("load_end")
        monitor.attach(result)  # result.info["resources"]
        rss = monitor.timeline.get("rss")
    """

    def __init__(
        self,
        pids: Iterable[int] = (),
        *,
        children: bool = True,
        metrics_url: str | None = None,
        metrics: Sequence[str] | Mapping[str, str] | None = None,
        interval: float = 1.0,
        duration: float | None = None,
        count: int | None = None,
        uss: bool = True,
        per_process: bool = True,
        generator: bool = True,
        system: bool = False,
        scrape_timeout: float | None = None,
        containers: Iterable[str] = (),
        docker_host: str | None = None,
    ) -> None:
        from pytest_roo.monitor.procs import ProcessTree
        from pytest_roo.monitor.prometheus import parse_selector

        _check_number("interval", interval, allow_none=False)
        _check_number("duration", duration)
        _check_number("scrape_timeout", scrape_timeout)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"count must be a whole number >= 1, got {count!r}")
        roots = list(pids)
        boxes = [containers] if isinstance(containers, str) else list(containers)
        if not roots and metrics_url is None and not boxes:
            raise ValueError("nothing to monitor: give pids, containers, a metrics_url, or "
                             "several of them")
        self.containers: ContainerStats | None = None
        if boxes:
            from pytest_roo.monitor.containers import ContainerStats

            self.containers = ContainerStats(boxes, docker_host)
        self.tree: ProcessTree | None = ProcessTree(roots, children=children, uss=uss) if roots \
            else None
        self.selectors: dict[str, Selector] = {}
        if metrics_url is not None:
            scheme = urllib.parse.urlsplit(metrics_url).scheme
            if scheme not in ("http", "https"):
                raise ValueError(f"invalid metrics_url {_safe_url(metrics_url)!r}: expected an "
                                 "http:// or https:// URL of a Prometheus /metrics endpoint")
            named: Mapping[str, str]
            if metrics is None:
                named = DEFAULT_METRICS
            elif isinstance(metrics, Mapping):
                named = metrics
            else:
                named = {text: text for text in metrics}
            self.selectors = {alias: parse_selector(text) for alias, text in named.items()}
        self.metrics_url = metrics_url
        self.interval = float(interval)
        self.duration = float(duration) if duration is not None else (
            MAX_DURATION if count is None else None)
        self.count = count
        self.per_process = per_process
        self.generator = generator
        self.system = system
        self._system_primed = False
        self.scrape_timeout = scrape_timeout or min(self.interval, 5.0)
        self._own: psutil.Process | None = None
        self.timeline = Timeline(time.time(), self.interval)
        self._origin = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._costs: list[float] = []
        self._ticks = 0
        self._missed = 0
        self._scrape_errors = 0
        self._sample_errors = 0
        self._last_sample_error = ""
        self._last_error = ""

    # -- control --

    def start(self) -> ResourceMonitor:
        """Start sampling in the background (the first sample is taken at once)."""
        if self._thread is not None:
            raise RuntimeError("this monitor was already started; make a new one per run")
        self.timeline.started_at = time.time()
        self._origin = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="roo-resource-monitor",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> Timeline:
        """Stop sampling and return the timeline (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:
            self._update_info()
        return self.timeline

    @property
    def running(self) -> bool:
        """True while the sampling thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until sampling ends by its own bound (duration / count); True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def mark(self, label: str) -> float:
        """Name this instant on the timeline (``load_start``, ``load_end``); returns its time."""
        t = self.now()
        with self._lock:
            self.timeline.marks[label] = t
        return t

    def now(self) -> float:
        """Seconds since the timeline started (the time base of its series)."""
        return time.monotonic() - self._origin

    def __enter__(self) -> ResourceMonitor:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- results --

    def snapshot(self) -> Timeline:
        """A copy of the timeline so far, safe to read while sampling goes on."""
        with self._lock:
            self._update_info()
            return Timeline.from_dict(self.timeline.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """What was sampled so far, as plain data for the JSON report."""
        return self.snapshot().to_dict()

    def attach(self, result: LoadResult, key: str = "resources") -> None:
        """Put the timeline (as JSON-ready data) into ``result.info["resources"]``.

        When the result already holds a timeline, the two are merged.
        """
        timeline = self.snapshot()
        existing = result.info.get(key)
        if isinstance(existing, dict) and existing.get("series") is not None:
            timeline = Timeline.from_dict(existing).merge(timeline)
        result.info[key] = timeline.to_dict()

    # -- sampling --

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            if self.duration is not None and self.now() >= self.duration:
                break
            if self.count is not None and self._ticks >= self.count:
                break
            try:
                self.sample_once()
            except Exception as exc:  # a sampling bug must not end the timeline silently
                self._sample_errors += 1
                self._last_sample_error = f"{type(exc).__name__}: {exc}"[:300]
            next_tick += self.interval
            now = time.monotonic()
            if now > next_tick:
                missed = int((now - next_tick) // self.interval) + 1
                self._missed += missed
                next_tick += missed * self.interval
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def sample_once(self) -> None:
        """Take one sample of everything now (the thread calls this; tests may too)."""
        started = time.perf_counter()
        t = self.now()
        procs = self.tree.sample() if self.tree is not None else None
        boxes = self.containers.sample() if self.containers is not None else None
        scraped: dict[str, float | None] = {}
        if self.metrics_url is not None:
            scraped = self._scrape()
        own = self._sample_generator() if self.generator else None
        machine = self._sample_system() if self.system else None
        with self._lock:
            self._ticks += 1
            if procs is not None or boxes is not None:
                self._append_processes(t, procs or {}, boxes or {})
            for alias, value in scraped.items():
                self._series(alias, "metrics", "").append(t, value)
            if machine is not None:
                for name, (unit, value) in machine.items():
                    self._series(name, "system", unit).append(t, value)
            if own is not None:
                for name, value in own.items():
                    self._series(name, "generator", UNITS[name]).append(t, value)
            self._costs.append(time.perf_counter() - started)

    def _series(self, name: str, source: str, unit: str) -> Series:
        return self.timeline.add(Series(name, source, unit))

    def _append_processes(self, t: float, procs: dict[int, tuple[str, dict[str, float | None]]],
                          boxes: dict[str, dict[str, float | None]]) -> None:
        from pytest_roo.monitor.containers import CONTAINER_UNITS

        for name in _PROCESS_METRICS:
            present = [values.get(name) for _, values in procs.values()]
            present += [values.get(name) for values in boxes.values()]
            known = [v for v in present if v is not None]
            if name == "uss" and not known:
                continue
            if self.tree is None and name not in ("rss", "cpu"):
                continue  # containers alone: no uss, threads, fds, sockets
            total = math.fsum(known) if known else None
            self._series(name, "total", UNITS[name]).append(t, total)
        alive = float(len(procs)) + math.fsum(v.get("processes") or 0.0 for v in boxes.values())
        self._series("processes", "total", "count").append(t, alive)
        for source, values in boxes.items():
            for name, value in values.items():
                self._series(name, source, CONTAINER_UNITS[name]).append(t, value)
        if not self.per_process:
            return
        for pid, (pname, values) in procs.items():
            source = f"pid:{pid}"
            self.timeline.processes[source] = pname
            for name, value in values.items():
                if name == "uss" and value is None:
                    continue
                self._series(name, source, UNITS[name]).append(t, value)

    def _sample_generator(self) -> dict[str, float | None] | None:
        import psutil

        if self._own is None:
            self._own = psutil.Process(os.getpid())
            self._own.cpu_percent(interval=None)
            return None
        if self.tree is not None and any(r.pid == self._own.pid for r in self.tree.roots):
            return None
        with self._own.oneshot():
            return {"rss": float(self._own.memory_info().rss),
                    "cpu": float(self._own.cpu_percent(interval=None)),
                    "threads": float(self._own.num_threads())}

    def _sample_system(self) -> dict[str, tuple[str, float]] | None:
        import psutil

        if not self._system_primed:
            psutil.cpu_percent(interval=None)  # the first reading is meaningless
            self._system_primed = True
            return None
        memory = psutil.virtual_memory()
        values = {
            "cpu": ("percent", float(psutil.cpu_percent(interval=None))),
            "memory_used": ("bytes", float(memory.total - memory.available)),
            "memory_percent": ("percent", float(memory.percent)),
        }
        net = psutil.net_io_counters()
        if net is not None:
            values["net_bytes_sent"] = ("bytes", float(net.bytes_sent))
            values["net_bytes_recv"] = ("bytes", float(net.bytes_recv))
        return values

    def _scrape(self) -> dict[str, float | None]:
        from pytest_roo.monitor.prometheus import ParseError, scrape

        assert self.metrics_url is not None
        try:
            samples = scrape(self.metrics_url, self.scrape_timeout)
        except (OSError, ParseError, ValueError) as exc:
            self._scrape_errors += 1
            self._last_error = f"{type(exc).__name__}: {exc}"[:300]
            return dict.fromkeys(self.selectors)
        return {alias: selector.total(samples) for alias, selector in self.selectors.items()}

    def _update_info(self) -> None:
        costs = sorted(self._costs)
        info: dict[str, Any] = {
            "ticks": self._ticks,
            "missed_ticks": self._missed,
            "interval": self.interval,
            "duration_bound": self.duration,
            "count_bound": self.count,
            "sample_cost_p50_ms": costs[len(costs) // 2] * 1e3 if costs else None,
            "sample_cost_max_ms": costs[-1] * 1e3 if costs else None,
            "sample_errors": self._sample_errors,
            "cpu_count": os.cpu_count(),
        }
        if self._last_sample_error:
            info["last_sample_error"] = self._last_sample_error
        if self.tree is not None:
            info["roots"] = [p.pid for p in self.tree.roots]
        if self.containers is not None:
            info["containers"] = dict(self.containers.names) or list(self.containers.containers)
            info["container_errors"] = self.containers.errors
            if self.containers.last_error:
                info["last_container_error"] = self.containers.last_error
        if self.metrics_url is not None:
            info["metrics_url"] = _safe_url(self.metrics_url)
            info["metrics"] = {alias: s.text for alias, s in self.selectors.items()}
            info["scrape_errors"] = self._scrape_errors
            if self._last_error:
                info["last_scrape_error"] = self._last_error.replace(
                    self.metrics_url, _safe_url(self.metrics_url))
        self.timeline.info.update(info)
