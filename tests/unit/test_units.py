from __future__ import annotations

import pytest

from pytest_roo import units


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("2m", 120.0), ("500ms", 0.5), ("1h", 3600.0), ("2.5", 2.5), (3, 3.0),
     ("250us", 0.00025), (" 1 min ", 60.0), ("0", 0.0)],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert units.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten seconds", "10 parsecs", "-1s", "1e3", True, "s"])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        units.parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "rate"), [("2000/s", 2000.0), ("2000", 2000.0), ("120/m", 2.0), ("50 rps", 50.0), (7, 7.0)]
)
def test_parse_rate(text: str | int, rate: float) -> None:
    assert units.parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["", "0/s", "fast", "10/h", "-5/s", False])
def test_parse_rate_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        units.parse_rate(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "fraction"), [("95%", 0.95), ("0.5", 0.5), ("100%", 1.0), ("0%", 0.0)])
def test_parse_percent(text: str, fraction: float) -> None:
    assert units.parse_percent(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["", "150%", "2", "half", "-1%"])
def test_parse_percent_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="percentage"):
        units.parse_percent(text)


def test_formats() -> None:
    assert units.format_duration(0.0482) == "48.2 ms"
    assert units.format_duration(0.000812) == "812 us"
    assert units.format_duration(1.5) == "1.50 s"
    assert units.format_duration(None) == "-"
    assert units.format_percent(0.001) == "0.1%"
    assert units.format_percent(0.5) == "50.0%"
    assert units.format_rate(1234.5) == "1,234.5/s"
    assert units.format_count(1000) == "1,000"
