"""Device names of the matrix: aliases, Playwright names, clear errors for bad names."""

from __future__ import annotations

import pytest

from pytest_roo.browser.devices import (
    ALIASES,
    DeviceError,
    all_devices,
    resolve_device,
    resolve_devices,
)


@pytest.mark.parametrize(
    ("alias", "name", "kind"),
    [("desktop", "Desktop Chrome", "desktop"), ("tablet", "iPad Pro 11", "tablet"),
     ("mobile", "iPhone 13", "mobile"), ("MOBILE", "iPhone 13", "mobile")],
)
def test_aliases_resolve_to_concrete_devices(alias: str, name: str, kind: str) -> None:
    device = resolve_device(alias)
    assert device.name == name
    assert device.kind == kind
    assert ALIASES[alias.lower()] == name


def test_names_are_matched_case_insensitively_and_give_context_args() -> None:
    device = resolve_device("  iphone 13 ")
    assert device.name == "iPhone 13"
    args = device.context_args()
    assert args["viewport"] == {"width": 390, "height": 664}
    assert args["is_mobile"] is True
    assert args["has_touch"] is True
    assert args["device_scale_factor"] == 3
    assert "iPhone" in args["user_agent"]


def test_the_device_list_is_playwrights() -> None:
    devices = all_devices()
    assert len(devices) > 100
    assert {"Desktop Chrome", "Desktop Firefox", "Pixel 7", "iPad Pro 11"} <= set(devices)


@pytest.mark.parametrize(
    ("bad", "suggestion"),
    [("iPhone 31", "iPhone 13"), ("Desktop Chrom", "Desktop Chrome"), ("ipad pro 12", "iPad Pro 11"),
     ("phone", None), ("", None)],
)
def test_unknown_names_are_errors_listing_close_matches(bad: str, suggestion: str | None) -> None:
    with pytest.raises(DeviceError) as excinfo:
        resolve_device(bad)
    message = str(excinfo.value)
    assert repr(bad) in message
    assert "desktop = Desktop Chrome" in message
    if suggestion:
        assert "close matches" in message
        assert suggestion in message


def test_repeats_collapse_in_order() -> None:
    devices = resolve_devices(["mobile", "iPhone 13", "desktop", "Desktop Chrome", "tablet"])
    assert [d.name for d in devices] == ["iPhone 13", "Desktop Chrome", "iPad Pro 11"]
