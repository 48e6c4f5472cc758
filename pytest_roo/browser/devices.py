"""Device names of the matrix: Playwright's device descriptors, aliases, and name checks.

The descriptors are read from ``devices.json``, a copy of ``playwright.devices`` of the pinned
Playwright version, so a bad ``--roo-devices`` name is rejected when pytest starts without
launching Playwright's driver (about 1 s). A test compares the copy with the installed Playwright.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ALIASES",
    "Device",
    "DeviceError",
    "all_devices",
    "resolve_device",
    "resolve_devices",
]

#: What the aliases of ``--roo-devices`` stand for.
ALIASES: Mapping[str, str] = {
    "desktop": "Desktop Chrome",
    "tablet": "iPad Pro 11",
    "mobile": "iPhone 13",
}

_SNAPSHOT = Path(__file__).with_name("devices.json")


class DeviceError(ValueError):
    """A device name that is neither a Playwright device nor an alias."""


@dataclasses.dataclass(frozen=True)
class Device:
    """One emulated device: its Playwright name and the context arguments it implies."""

    name: str
    viewport: tuple[int, int]
    device_scale_factor: float
    is_mobile: bool
    has_touch: bool
    user_agent: str
    default_browser_type: str = "chromium"

    def context_args(self) -> dict[str, Any]:
        """Keyword arguments for ``Browser.new_context`` that emulate this device."""
        return {
            "viewport": {"width": self.viewport[0], "height": self.viewport[1]},
            "device_scale_factor": self.device_scale_factor,
            "is_mobile": self.is_mobile,
            "has_touch": self.has_touch,
            "user_agent": self.user_agent,
        }

    @property
    def kind(self) -> str:
        """``mobile``, ``tablet`` or ``desktop``, from the viewport and the mobile flag."""
        if not self.is_mobile:
            return "desktop"
        return "tablet" if min(self.viewport) >= 600 else "mobile"


@functools.lru_cache(maxsize=1)
def _snapshot() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_SNAPSHOT.read_text(encoding="utf-8"))
    return data


def snapshot_version() -> str:
    """The Playwright version ``devices.json`` was taken from."""
    return str(_snapshot()["playwright"])


def all_devices() -> dict[str, dict[str, Any]]:
    """Every Playwright device descriptor by name (snake_case keys, as ``playwright.devices``)."""
    devices: dict[str, dict[str, Any]] = _snapshot()["devices"]
    return devices


def _device(name: str, raw: Mapping[str, Any]) -> Device:
    viewport = raw["viewport"]
    return Device(
        name=name,
        viewport=(int(viewport["width"]), int(viewport["height"])),
        device_scale_factor=float(raw["device_scale_factor"]),
        is_mobile=bool(raw["is_mobile"]),
        has_touch=bool(raw["has_touch"]),
        user_agent=str(raw["user_agent"]),
        default_browser_type=str(raw.get("default_browser_type", "chromium")),
    )


def resolve_device(name: str) -> Device:
    """Return the device for a Playwright name (any case) or an alias.

    Raises :class:`DeviceError` naming the value, close matches and the aliases.

    >>> resolve_device("mobile").name, resolve_device("iphone 13").viewport
    ('iPhone 13', (390, 664))
    """
    text = name.strip()
    devices = all_devices()
    canonical = ALIASES.get(text.lower(), text)
    if canonical not in devices:
        by_lower = {key.lower(): key for key in devices}
        canonical = by_lower.get(canonical.lower(), canonical)
    if canonical not in devices:
        close = difflib.get_close_matches(text, list(devices), n=5, cutoff=0.5)
        hint = f"close matches: {', '.join(close)}; " if close else ""
        raise DeviceError(
            f"unknown device {name!r}; {hint}use a Playwright device name "
            f"({len(devices)} known, e.g. 'Desktop Chrome', 'iPhone 13', 'Pixel 7') "
            f"or an alias: {', '.join(f'{k} = {v}' for k, v in ALIASES.items())}"
        )
    return _device(canonical, devices[canonical])


def resolve_devices(names: Iterable[str]) -> tuple[Device, ...]:
    """Resolve several names, dropping repeats (``mobile`` and ``iPhone 13`` are one device)."""
    seen: dict[str, Device] = {}
    for name in names:
        device = resolve_device(name)
        seen.setdefault(device.name, device)
    return tuple(seen.values())
