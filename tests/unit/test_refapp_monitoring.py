"""The reference app's /metrics text: the latency histogram is cumulative in Prometheus' sense
(``le`` includes the bound), and the collector's series parse."""

from __future__ import annotations

import time

from fixtures.refapp.cost import WINDOW, CpuSurcharge
from fixtures.refapp.metrics import BUCKETS, Metrics
from fixtures.refapp.monitoring import Monitoring
from pytest_roo.monitor.prometheus import parse_text


def _values(text: str, name: str) -> dict[str, float]:
    return {dict(s.labels).get("le", ""): s.value for s in parse_text(text) if s.name == name}


def test_the_latency_histogram_is_cumulative() -> None:
    metrics = Metrics()
    for seconds in (0.0005, 0.001, 0.003, 0.03, 7.0):  # 0.001 falls in le="0.001"
        metrics.observe("GET", "/h", 200, seconds)
    metrics.observe("GET", "/ws", 101, None)  # counted, not timed
    text = metrics.render()
    buckets = _values(text, "refapp_http_request_duration_seconds_bucket")
    assert buckets["0.001"] == 2 and buckets["0.005"] == 3 and buckets["0.05"] == 4
    assert buckets["5.0"] == 4 and buckets["+Inf"] == 5
    assert len(buckets) == len(BUCKETS) + 1
    assert list(buckets.values()) == sorted(buckets.values())
    assert _values(text, "refapp_http_request_duration_seconds_count")[""] == 5
    assert abs(_values(text, "refapp_http_request_duration_seconds_sum")[""] - 7.0345) < 1e-6


def test_the_collector_series_parse() -> None:
    monitoring = Monitoring()
    monitoring.sample(0.002)
    text = monitoring.render()
    names = {s.name for s in parse_text(text)}
    assert {"refapp_monitoring_enabled", "refapp_monitoring_samples_total",
            "process_cpu_seconds_total", "process_threads", "process_open_fds",
            "refapp_event_loop_lag_seconds", "python_gc_collections_total"} <= names
    monitoring.switch(False)
    assert _values(monitoring.render(), "refapp_monitoring_enabled")[""] == 0


def _spin(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def test_a_surcharge_goes_on_across_short_arms() -> None:
    """A feature switched on for 30 events at a time (an A/B in short arms) is charged like one
    left on: the window of 200 events goes on across the pauses, and the CPU spent while paused
    is not taken for the events' cost."""
    surcharge = CpuSurcharge(0.5, on=False)
    burned, charged, events = 0.0, 0, 0
    for _ in range(2 * WINDOW // 30 + 2):  # arms of 30 events
        surcharge.switch(True)
        for _ in range(30):
            _spin(0.0002)  # the event's own work: 0.2 ms
            started = time.process_time()
            surcharge.charge()
            events += 1
            if events > WINDOW:  # the first window is measured, not charged
                burned += time.process_time() - started
                charged += 1
        surcharge.switch(False)
        _spin(0.01)  # the other arm: 10 ms that are not the feature's
    per_event = burned / charged
    assert 0.00007 < per_event < 0.0002, per_event  # about half of 0.2 ms, never the pauses'


def test_a_paused_surcharge_charges_nothing() -> None:
    surcharge = CpuSurcharge(1.0)
    for _ in range(WINDOW):
        _spin(0.0001)
        surcharge.charge()
    surcharge.switch(False)
    started = time.process_time()
    for _ in range(50):
        surcharge.charge()
    assert time.process_time() - started < 0.002
