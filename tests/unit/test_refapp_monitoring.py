"""The reference app's /metrics text: the latency histogram is cumulative in Prometheus' sense
(``le`` includes the bound), and the collector's series parse."""

from __future__ import annotations

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
