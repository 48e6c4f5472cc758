"""The resource monitor on real processes and a real /metrics endpoint on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_roo.monitor import ResourceMonitor, Timeline
from pytest_roo.results.metrics import LoadResult

if TYPE_CHECKING:
    from tests.integration.monitor.conftest import StartChild

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


@pytest.fixture
def metrics_url() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, str(HERE / "metrics_server.py"), "60"],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert line.startswith("PORT "), f"metrics server did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}/metrics"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()


def test_samples_a_process_tree(memory_child: StartChild) -> None:
    """A shell with two children: three processes, their RSS summed, each also apart."""
    parent = subprocess.Popen(
        ["/bin/sh", "-c", f"{sys.executable} {HERE / 'memory_child.py'} sockets 3 20 & "
                          f"{sys.executable} {HERE / 'memory_child.py'} flat 1 20 & wait"],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        monitor = ResourceMonitor([parent.pid], interval=0.2, count=15)
        with monitor:
            assert monitor.wait(30)
        timeline = monitor.timeline
        assert timeline.info["ticks"] == 15
        processes = timeline.get("processes").values
        assert max(v or 0 for v in processes) == 3, processes
        last_pids = [s for s in timeline.series if s.startswith("pid:") and s.endswith("/rss")]
        assert len(last_pids) == 3
        total = timeline.get("rss").values[-1]
        parts = sum(timeline.series[key].values[-1] or 0 for key in last_pids)
        assert total == pytest.approx(parts)
        assert max(v or 0 for v in timeline.get("sockets").values) >= 3
        assert max(v or 0 for v in timeline.get("fds").values) >= 9
        assert max(v or 0 for v in timeline.get("threads").values) >= 3
        assert set(timeline.processes.values()) >= {"sh"}
        assert timeline.names("generator") == ["cpu", "rss", "threads"]  # this process, apart
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(10)


def test_scrapes_named_series(metrics_url: str) -> None:
    monitor = ResourceMonitor(
        metrics_url=metrics_url, interval=0.1, count=8,
        metrics={"ok": 'scrapes_total{code="200"}', "all": "scrapes_total",
                 "memory": "fake_memory_bytes", "absent": "no_such_series"},
    )
    with monitor:
        assert monitor.wait(30)
    timeline = monitor.timeline
    ok = timeline.get("ok", "metrics").values
    assert ok == [float(i) for i in range(1, 9)]
    assert timeline.get("all", "metrics").values == [v + 5 for v in ok]
    assert timeline.get("memory", "metrics").values[-1] == 1080.0
    assert timeline.get("absent", "metrics").values == [None] * 8
    assert timeline.info["scrape_errors"] == 0


def test_scrape_errors_are_counted_not_raised() -> None:
    monitor = ResourceMonitor(metrics_url="http://user:secret@127.0.0.1:9/metrics",
                              interval=0.05, count=3, metrics=["up"])
    with monitor:
        assert monitor.wait(30)
    info = monitor.timeline.info
    assert info["scrape_errors"] == 3
    assert info["metrics_url"] == "http://127.0.0.1:9/metrics"
    assert "secret" not in str(monitor.timeline.to_dict())


def test_attach_mark_and_stop(memory_child: StartChild) -> None:
    child = memory_child("flat", 1)
    result = LoadResult(name="run")
    monitor = ResourceMonitor([child.pid], interval=0.1, duration=30).start()
    assert monitor.running
    monitor.mark("load_end")
    while monitor.snapshot().info["ticks"] < 5:
        monitor.wait(0.1)
    timeline = monitor.stop()
    assert not monitor.running
    monitor.attach(result)
    again = Timeline.from_dict(LoadResult.from_json(result.to_json()).info["resources"])
    assert again.marks["load_end"] >= 0
    assert len(again.get("rss").values) == len(timeline.get("rss").values) >= 5
    monitor.attach(result)  # attaching twice merges: the same pid is not counted twice
    merged = Timeline.from_dict(result.info["resources"])
    assert max(v or 0 for v in merged.get("processes").values) == 1


def test_a_process_that_exits_drops_out(memory_child: StartChild) -> None:
    child = memory_child("flat", 1, seconds=0.5)
    with ResourceMonitor([child.pid], interval=0.1, duration=2.0) as monitor:
        assert monitor.wait(30)
    assert monitor.timeline.get("processes").values[-1] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"pids": [0]}, "invalid pid 0"), ({"pids": ["1"]}, "invalid pid '1'"),
     ({"pids": [2**22 + 12345]}, "no process with pid"), ({}, "nothing to monitor"),
     ({"pids": [1], "interval": 0}, "interval must be"),
     ({"pids": [1], "count": 0}, "count must be"),
     ({"metrics_url": "ftp://127.0.0.1/metrics"}, "expected an http"),
     ({"metrics_url": "http://127.0.0.1:1/metrics", "metrics": ["bad name"]},
      "invalid metric selector")],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResourceMonitor(**kwargs)


def test_samples_the_machine_when_asked(memory_child: StartChild) -> None:
    child = memory_child("flat", 1)
    with ResourceMonitor([child.pid], interval=0.1, count=5, system=True) as monitor:
        assert monitor.wait(30)
    timeline = monitor.timeline
    assert timeline.names("system") == ["cpu", "memory_percent", "memory_used",
                                        "net_bytes_recv", "net_bytes_sent"]
    used = timeline.get("memory_used", "system").values
    assert len(used) == 4 and all(v is not None and v > 0 for v in used)  # first tick primes
    assert 0 <= (timeline.get("cpu", "system").values[-1] or 0) <= 100
    assert timeline.info["cpu_count"] >= 1
