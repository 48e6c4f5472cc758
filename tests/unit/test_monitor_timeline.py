"""The resource timeline: JSON round trip, slicing, merging several monitors' series."""

from __future__ import annotations

import json

import pytest

from pytest_roo.monitor.timeline import Series, Timeline
from pytest_roo.results.metrics import LoadResult


def timeline(started_at: float, pid: int, rss: list[float | None],
             interval: float = 1.0) -> Timeline:
    tl = Timeline(started_at, interval)
    times = [i * interval for i in range(len(rss))]
    tl.add(Series("rss", f"pid:{pid}", "bytes", list(times), list(rss)))
    tl.add(Series("rss", "total", "bytes", list(times), list(rss)))
    tl.add(Series("processes", "total", "count", list(times), [1.0] * len(rss)))
    tl.processes[f"pid:{pid}"] = "server"
    return tl


def test_json_round_trip() -> None:
    tl = timeline(1000.0, 7, [1.0, 2.0, None, 4.0])
    tl.marks["load_end"] = 2.5
    data = json.loads(json.dumps(tl.to_dict()))
    again = Timeline.from_dict(data)
    assert again.get("rss").values == [1.0, 2.0, None, 4.0]
    assert again.marks == {"load_end": 2.5} and again.processes == {"pid:7": "server"}
    assert again.get("rss").finite() == ([0.0, 1.0, 3.0], [1.0, 2.0, 4.0])


def test_get_names_what_there_is() -> None:
    with pytest.raises(KeyError, match=r"no series 'total/cpu' \(has: pid:7/rss, "):
        timeline(0.0, 7, [1.0]).get("cpu")


def test_unknown_schema_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown resources schema"):
        Timeline.from_dict({"schema": "other", "started_at": 0, "interval": 1})


def test_between() -> None:
    series = timeline(0.0, 7, [1.0, 2.0, 3.0, 4.0]).get("rss")
    assert series.between(1.0, 3.0).values == [2.0, 3.0]
    assert series.between(start=2.0).values == [3.0, 4.0]


def test_merge_sums_processes_and_aligns_time() -> None:
    """Two monitors, started one second apart, each watching one process."""
    first = timeline(1000.0, 1, [10.0, 10.0, 10.0, 10.0])
    second = timeline(1001.0, 2, [5.0, 5.0, 5.0])
    merged = first.merge(second)
    assert merged.started_at == 1000.0
    total = merged.get("rss")
    assert total.times == [0.0, 1.0, 2.0, 3.0]
    assert total.values == [10.0, 15.0, 15.0, 15.0]
    assert merged.get("processes").values == [1.0, 2.0, 2.0, 2.0]
    assert merged.get("rss", "pid:2").times == [1.0, 2.0, 3.0]
    assert set(merged.processes) == {"pid:1", "pid:2"}


def test_merge_does_not_count_a_process_twice() -> None:
    one = timeline(1000.0, 1, [10.0, 10.0])
    same = timeline(1000.2, 1, [10.0, 10.0])  # the same pid watched by a second monitor
    merged = one.merge(same)
    assert merged.get("rss").values == [10.0, 10.0]


def test_merge_of_totals_only() -> None:
    a = Timeline(0.0, 1.0)
    a.add(Series("rss", "total", "bytes", [0.0, 1.0], [3.0, 3.0]))
    b = Timeline(0.0, 1.0)
    b.add(Series("rss", "total", "bytes", [0.0, 1.0], [4.0, 4.0]))
    assert a.merge(b).get("rss").values == [7.0, 7.0]


def test_attached_timeline_survives_the_result_json() -> None:
    result = LoadResult(name="soak")
    result.info["resources"] = timeline(5.0, 3, [1.0, 2.0]).to_dict()
    again = LoadResult.from_json(result.to_json())
    assert Timeline.from_dict(again.info["resources"]).get("rss").values == [1.0, 2.0]


def test_summary() -> None:
    summary = timeline(0.0, 3, [float(i) for i in range(20)]).summary()
    assert summary["total/rss"]["max"] == 19.0 and "pid:3/rss" not in summary


def test_merge_of_per_process_and_totals_only() -> None:
    """One monitor kept per-process series, another only totals: both count."""
    detailed = timeline(0.0, 1, [10.0, 10.0])
    totals = Timeline(0.0, 1.0)
    totals.add(Series("rss", "total", "bytes", [0.0, 1.0], [4.0, 4.0]))
    totals.add(Series("processes", "total", "count", [0.0, 1.0], [2.0, 2.0]))
    merged = detailed.merge(totals)
    assert merged.get("rss").values == [14.0, 14.0]
    assert merged.get("processes").values == [3.0, 3.0]


def test_merge_counts_the_containers_a_monitor_watched_beside_its_processes() -> None:
    """A monitor of a process tree and a container: its totals held both shares, and so does
    the merged timeline's."""
    both = timeline(0.0, 1, [10.0, 10.0])
    both.add(Series("rss", "container:db", "bytes", [0.0, 1.0], [30.0, 30.0]))
    both.add(Series("cpu", "container:db", "percent", [0.0, 1.0], [50.0, 50.0]))
    both.add(Series("processes", "container:db", "count", [0.0, 1.0], [4.0, 4.0]))
    both.add(Series("net_rx_bytes", "container:db", "bytes", [0.0, 1.0], [1.0, 2.0]))
    both.series["total/rss"].values = [40.0, 40.0]
    both.series["total/processes"].values = [5.0, 5.0]
    other = timeline(0.0, 2, [5.0, 5.0])
    merged = both.merge(other)
    assert merged.get("rss").values == [45.0, 45.0]
    assert merged.get("processes").values == [6.0, 6.0]
    assert merged.get("cpu").values == [50.0, 50.0]
    assert merged.get("net_rx_bytes", "container:db").values == [1.0, 2.0]
    assert "total/net_rx_bytes" not in merged.series
