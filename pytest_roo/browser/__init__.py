"""The browser matrix: engines x devices, traced contexts, evidence, responsiveness.

Plain Python, no pytest import; Playwright is imported only where a browser is started. The pytest
glue: the fixtures in :mod:`pytest_roo.fixtures.browser`, the cells, report payloads and the
summary grid in :mod:`pytest_roo.plugin.matrix`.
"""

from __future__ import annotations

from pytest_roo.browser.devices import ALIASES, Device, DeviceError, resolve_device, resolve_devices
from pytest_roo.browser.engines import Engine, discover, discover_all
from pytest_roo.browser.matrix import Cell, MatrixOutcomes, build_cells
from pytest_roo.browser.responsiveness import WEIGHTS, Responsiveness, responsiveness

__all__ = [
    "ALIASES",
    "WEIGHTS",
    "Cell",
    "Device",
    "DeviceError",
    "Engine",
    "MatrixOutcomes",
    "Responsiveness",
    "build_cells",
    "discover",
    "discover_all",
    "resolve_device",
    "resolve_devices",
    "responsiveness",
]
