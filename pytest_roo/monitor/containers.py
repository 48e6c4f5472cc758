"""Docker containers of the system under test, sampled through the Engine API.

One ``GET /containers/{id}/stats?stream=false&one-shot=true`` per container and tick (about
8 ms here, standard library only: :mod:`pytest_roo.services.docker_engine`), read as:

- ``rss``: memory in use as ``docker stats`` shows it: the cgroup's usage minus its inactive
  page cache (``total_inactive_file`` on cgroup v1, ``inactive_file`` on v2), bytes;
- ``cpu``: the container's CPU time between two ticks over the wall time between them, in
  percent of one core (like a process tree's ``cpu``); the first tick has none;
- ``processes``: the container's pids (``pids_stats.current``);
- ``net_rx_bytes``, ``net_tx_bytes``: bytes received and sent on all its interfaces
  (cumulative counters).

A container that cannot be read (gone, the engine not answering) gives ``None`` for that tick
and the error is kept (``last_error``, ``errors``). The engine is ``DOCKER_HOST`` unless given.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CONTAINER_UNITS", "ContainerStats", "read_stats"]

#: the unit of each container series
CONTAINER_UNITS = {
    "rss": "bytes",
    "cpu": "percent",
    "processes": "count",
    "net_rx_bytes": "bytes",
    "net_tx_bytes": "bytes",
}


def read_stats(doc: Mapping[str, Any]) -> dict[str, float | None]:
    """The figures of one stats document (without ``cpu``, which needs two of them): ``rss``,
    ``processes``, ``net_rx_bytes``, ``net_tx_bytes`` and ``cpu_ns`` (cumulative).

    >>> read_stats({"memory_stats": {"usage": 5000, "stats": {"total_inactive_file": 1000}},
    ...             "cpu_stats": {"cpu_usage": {"total_usage": 7}}, "pids_stats": {"current": 3},
    ...             "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 4}}})["rss"]
    4000.0
    """
    memory = doc.get("memory_stats") or {}
    usage = memory.get("usage")
    stats = memory.get("stats") or {}
    cache = stats.get("total_inactive_file", stats.get("inactive_file", 0)) or 0
    rss = float(usage) - float(cache) if isinstance(usage, (int, float)) else None
    cpu = ((doc.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    pids = (doc.get("pids_stats") or {}).get("current")
    networks = doc.get("networks")
    rx = tx = None
    if isinstance(networks, Mapping) and networks:
        rx = float(sum(float(n.get("rx_bytes") or 0) for n in networks.values()))
        tx = float(sum(float(n.get("tx_bytes") or 0) for n in networks.values()))
    return {
        "rss": rss,
        "cpu_ns": float(cpu) if isinstance(cpu, (int, float)) else None,
        "processes": float(pids) if isinstance(pids, (int, float)) else None,
        "net_rx_bytes": rx,
        "net_tx_bytes": tx,
    }


class ContainerStats:
    """Samples the named containers (ids or names) of one Docker engine."""

    def __init__(self, containers: Iterable[str], endpoint: str | None = None,
                 timeout: float = 2.0) -> None:
        self.containers = [str(c) for c in containers]
        if not self.containers or any(not c.strip() for c in self.containers):
            raise ValueError(f"containers={self.containers!r}: expected container ids or names")
        endpoint = endpoint or os.environ.get("DOCKER_HOST")
        if not endpoint:
            raise ValueError("container stats need the Docker engine: set DOCKER_HOST "
                             "(unix:///path/docker.sock or tcp://host:port) or pass "
                             "docker_host=")
        self.endpoint = endpoint
        self.timeout = timeout
        self.errors = 0
        self.last_error = ""
        self.names: dict[str, str] = {}  # container as given -> its name in the engine
        self._last_cpu: dict[str, tuple[float, float]] = {}

    def _stats(self, container: str) -> Mapping[str, Any]:
        from urllib.parse import quote

        from pytest_roo.services.docker_engine import EngineError, request

        status, body = request(self.endpoint, "GET", f"/containers/{quote(container, safe='')}"
                               "/stats?stream=false&one-shot=true", timeout=self.timeout)
        if status != 200:
            raise EngineError(f"stats of container {container!r}: HTTP {status}: "
                              f"{body[:200].decode(errors='replace')}")
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise EngineError(f"stats of container {container!r}: not a JSON object")
        return doc

    def sample(self) -> dict[str, dict[str, float | None]]:
        """One reading of every container: ``{"container:<name>": {series: value}}``."""
        from pytest_roo.services.docker_engine import EngineError

        out: dict[str, dict[str, float | None]] = {}
        for container in self.containers:
            values: dict[str, float | None] = dict.fromkeys(CONTAINER_UNITS)
            try:
                doc = self._stats(container)
            except (EngineError, ValueError) as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                self._last_cpu.pop(container, None)
            else:
                now = time.monotonic()
                name = str(doc.get("name") or container).lstrip("/")
                self.names[container] = name
                read = read_stats(doc)
                cpu_ns = read.pop("cpu_ns")
                values.update(read)
                previous = self._last_cpu.get(container)
                if cpu_ns is not None:
                    if previous is not None and now > previous[0]:
                        values["cpu"] = max(0.0, cpu_ns - previous[1]) / 1e9 / (
                            now - previous[0]) * 100.0
                    self._last_cpu[container] = (now, cpu_ns)
            out[f"container:{self.names.get(container, container)}"] = values
        return out
