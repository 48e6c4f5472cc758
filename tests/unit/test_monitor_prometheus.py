"""The Prometheus text-format parser and series selectors."""

from __future__ import annotations

import math

import pytest

from pytest_roo.monitor.prometheus import ParseError, parse_selector, parse_text

EXPOSITION = r"""
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 5.2428800e+07
# TYPE http_requests_total counter
http_requests_total{method="GET",code="200"} 1027 1395066363000
http_requests_total{method="POST",code="200"} 3
http_requests_total{method="GET",code="500"} 2
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le="0.05"} 24054
rpc_seconds_bucket{le="+Inf"} 144320
rpc_seconds_sum 53423
rpc_seconds_count 144320
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
odd_values{kind="nan"} NaN
odd_values{kind="inf"} +Inf
odd_values{kind="minus"} -Inf
spaced { a = "1" , b="2" , } 4
"""


def test_parses_values_labels_types_and_timestamps() -> None:
    samples = parse_text(EXPOSITION)
    by_name = {(s.name, s.labels): s for s in samples}
    rss = by_name[("process_resident_memory_bytes", ())]
    assert rss.value == 52428800.0 and rss.type == "gauge"
    first = samples[1]
    assert first.label_dict == {"method": "GET", "code": "200"}
    assert first.timestamp_ms == 1395066363000 and first.type == "counter"
    assert by_name[("rpc_seconds_bucket", (("le", "+Inf"),))].type == "histogram"
    assert by_name[("rpc_seconds_count", ())].value == 144320


def test_unescapes_label_values() -> None:
    sample = next(s for s in parse_text(EXPOSITION) if s.name.startswith("msdos"))
    assert sample.label_dict == {"path": "C:\\DIR\\FILE.TXT",
                                 "error": 'Cannot find file:\n"FILE.TXT"'}


def test_special_values_and_spacing() -> None:
    odd = {s.label_dict["kind"]: s.value for s in parse_text(EXPOSITION) if s.name == "odd_values"}
    assert math.isnan(odd["nan"]) and odd["inf"] == math.inf and odd["minus"] == -math.inf
    spaced = next(s for s in parse_text(EXPOSITION) if s.name == "spaced")
    assert spaced.label_dict == {"a": "1", "b": "2"} and spaced.value == 4


def test_selector_sums_what_it_picks() -> None:
    samples = parse_text(EXPOSITION)
    assert parse_selector("http_requests_total").total(samples) == 1032
    assert parse_selector('http_requests_total{code="200"}').total(samples) == 1030
    assert parse_selector('http_requests_total{code="200",method="GET"}').total(samples) == 1027
    assert parse_selector('http_requests_total{code="404"}').total(samples) is None
    assert parse_selector("no_such_metric").total(samples) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [("metric", "expected a value"), ("metric{a=1} 2", 'expected ="'),
     ('metric{a="1" 2', "expected , or }"), ('metric{a="x} 1', "unterminated"),
     ("metric abc", "not a sample value"), ("metric 1 soon", "not a timestamp"),
     ("9metric 1", "expected a metric name"), ("metric 1 2 3", "expected a value")],
)
def test_bad_lines_are_named(line: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_text("# TYPE metric gauge\n" + line)
    assert "line 2" in str(info.value)


@pytest.mark.parametrize("text", ["", "9x", 'x{code=200}', "x y", 'x{code="1"} extra'])
def test_bad_selectors_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="invalid metric selector"):
        parse_selector(text)
