"""Matrix cells, the marker's arguments, cell outcomes, success rate and the summary grid."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.browser.devices import DeviceError, resolve_devices
from pytest_roo.browser.engines import Engine
from pytest_roo.browser.matrix import MatrixOutcomes, build_cells, parse_marker_kwargs

ENGINES = {
    "chromium": Engine("chromium", True, "system", "/usr/lib/chromium/chromium"),
    "firefox": Engine("firefox", True, "system", "/usr/bin/firefox-esr", "moz-firefox"),
    "webkit": Engine("webkit", False, "missing", reason="no build", hint="playwright install webkit"),
}


def test_cells_are_engine_major_with_readable_ids() -> None:
    cells = build_cells(ENGINES, resolve_devices(["desktop", "mobile"]))
    assert [c.id for c in cells] == [
        "chromium-Desktop Chrome", "chromium-iPhone 13", "firefox-Desktop Chrome",
        "firefox-iPhone 13", "webkit-Desktop Chrome", "webkit-iPhone 13",
    ]
    narrowed = build_cells(ENGINES, resolve_devices(["mobile"]), only_browsers=("firefox",))
    assert [c.id for c in narrowed] == ["firefox-iPhone 13"]


def test_firefox_mobile_cells_say_what_is_not_emulated() -> None:
    cells = {c.id: c for c in build_cells(ENGINES, resolve_devices(["desktop", "mobile"]))}
    assert cells["firefox-iPhone 13"].notes
    assert "is_mobile" in cells["firefox-iPhone 13"].notes[0]
    assert not cells["firefox-Desktop Chrome"].notes
    assert not cells["chromium-iPhone 13"].notes


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {"browser": "chromium"}, "unknown argument(s) browser; accepted: browsers, devices"),
        (("chromium",), {}, "keyword arguments only"),
        ((), {"browsers": "chromium,safari"}, "unknown browser 'safari'"),
        ((), {"browsers": ""}, "matrix browsers is empty"),
        ((), {"browsers": 3}, "comma-separated string or a list"),
    ],
)
def test_bad_marker_arguments_are_errors(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=None) as excinfo:
        parse_marker_kwargs(args, kwargs)
    assert message in str(excinfo.value)


def test_marker_device_names_are_checked() -> None:
    with pytest.raises(DeviceError, match="iPhone 99"):
        parse_marker_kwargs((), {"devices": ["iPhone 99"]})
    parsed = parse_marker_kwargs((), {"browsers": ["Firefox"], "devices": "mobile, tablet"})
    assert parsed["browsers"] == ("firefox",)
    assert [d.name for d in parsed["devices"]] == ["iPhone 13", "iPad Pro 11"]


def record(outcomes: MatrixOutcomes, test: str, cell: str, when: str, outcome: str, reason: str = "") -> None:
    engine, device = cell.split("-", 1)
    outcomes.record(nodeid=f"{test}[{cell}]", test=test, cell=cell, engine=engine, device=device,
                    when=when, outcome=outcome, reason=reason)


def test_the_worst_phase_wins() -> None:
    outcomes = MatrixOutcomes()
    for when, outcome in (("setup", "passed"), ("call", "passed"), ("teardown", "failed")):
        record(outcomes, "t.py::a", "chromium-Desktop Chrome", when, outcome, "teardown broke")
    record(outcomes, "t.py::b", "chromium-Desktop Chrome", "setup", "skipped", "no browser")
    record(outcomes, "t.py::b", "chromium-Desktop Chrome", "teardown", "passed")
    cells = outcomes.cells
    assert cells["t.py::a[chromium-Desktop Chrome]"].outcome == "fail"
    assert cells["t.py::a[chromium-Desktop Chrome]"].reason == "teardown broke"
    assert cells["t.py::b[chromium-Desktop Chrome]"].outcome == "skip"
    assert cells["t.py::b[chromium-Desktop Chrome]"].reason == "no browser"


def test_success_rate_counts_cells_that_ran() -> None:
    outcomes = MatrixOutcomes()
    before = outcomes.success_rate  # a name, not the attribute: mypy would keep that as None
    assert before is None
    record(outcomes, "t.py::a", "chromium-Desktop Chrome", "call", "passed")
    record(outcomes, "t.py::a", "firefox-Desktop Chrome", "call", "passed")
    record(outcomes, "t.py::a", "webkit-Desktop Chrome", "setup", "skipped", "webkit unavailable")
    assert outcomes.success_rate == 1.0
    assert outcomes.meets(1.0)
    record(outcomes, "t.py::b", "chromium-Desktop Chrome", "call", "failed", "AssertionError: no")
    assert outcomes.success_rate == pytest.approx(2 / 3)
    assert outcomes.meets(0.66)
    assert not outcomes.meets(0.95)
    assert outcomes.meets(None)


def test_all_skipped_does_not_meet_a_minimum() -> None:
    outcomes = MatrixOutcomes()
    record(outcomes, "t.py::a", "webkit-Desktop Chrome", "setup", "skipped", "webkit unavailable")
    assert not outcomes.meets(0.5)
    assert outcomes.to_dict(0.5)["meets_min_success"] is False


def test_render_gives_a_grid_with_reasons() -> None:
    outcomes = MatrixOutcomes()
    record(outcomes, "t.py::login", "chromium-Desktop Chrome", "call", "passed")
    record(outcomes, "t.py::login", "firefox-Desktop Chrome", "call", "failed", "AssertionError: x")
    record(outcomes, "t.py::login", "webkit-Desktop Chrome", "setup", "skipped", "webkit unavailable")
    lines = outcomes.render(1.0, width=200)
    assert lines[0].startswith("1 passed, 1 failed, 1 skipped of 3 cells; success rate 50.0%")
    assert "NOT MET" in lines[0]
    header = lines[1].split()
    assert header[0] == "test"
    row = lines[2].split()
    assert row == ["t.py::login", "pass", "FAIL", "skip"]
    assert "FAIL t.py::login[firefox-Desktop Chrome]: AssertionError: x" in lines
    assert "skip webkit-Desktop Chrome: webkit unavailable" in lines
    narrow = outcomes.render(None, width=40)
    assert "  #1 = chromium-Desktop Chrome" in narrow
    data = outcomes.to_dict(1.0)
    assert data["columns"] == ["chromium-Desktop Chrome", "firefox-Desktop Chrome", "webkit-Desktop Chrome"]
    assert [c["outcome"] for c in data["cells"]] == ["pass", "fail", "skip"]


def test_desktop_devices_keep_the_engines_own_user_agent() -> None:
    cells = {c.id: c for c in build_cells(ENGINES, resolve_devices(["desktop", "mobile"]))}
    assert "user_agent" not in cells["firefox-Desktop Chrome"].context_args()
    assert cells["firefox-Desktop Chrome"].context_args()["viewport"] == {"width": 1280, "height": 720}
    assert "Chrome/" in cells["chromium-Desktop Chrome"].context_args()["user_agent"]
    assert "iPhone" in cells["firefox-iPhone 13"].context_args()["user_agent"]
