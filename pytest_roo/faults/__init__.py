"""Network faults: a TCP proxy with Toxiproxy's toxics, in process or on a Toxiproxy server.

    from pytest_roo.faults import LocalProxy
    with LocalProxy("127.0.0.1:5432") as proxy:
        proxy.add("latency", latency=100, jitter=10)
        ...  # connect to proxy.host:proxy.port

No pytest import here; the fixtures are in ``pytest_roo.fixtures.faults``. Names are resolved
lazily so that importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "PROFILES",
    "FaultWindow",
    "LocalProxy",
    "NetworkProfile",
    "ProfileHandle",
    "Proxy",
    "ProxyError",
    "ScheduledFault",
    "Toxic",
    "ToxicError",
    "ToxicHandle",
    "ToxiproxyError",
    "ToxiproxyProxy",
    "make_toxic",
    "measure_recovery",
    "measure_recovery_async",
    "scheduled",
    "watch_recovery",
]

if TYPE_CHECKING:
    from pytest_roo.faults.local import LocalProxy
    from pytest_roo.faults.profiles import PROFILES, NetworkProfile
    from pytest_roo.faults.proxy import ProfileHandle, Proxy, ProxyError, ToxicHandle
    from pytest_roo.faults.recovery import (
        measure_recovery,
        measure_recovery_async,
        watch_recovery,
    )
    from pytest_roo.faults.schedule import ScheduledFault, scheduled
    from pytest_roo.faults.toxics import Toxic, ToxicError, make_toxic
    from pytest_roo.faults.toxiproxy import ToxiproxyError, ToxiproxyProxy
    from pytest_roo.faults.windows import FaultWindow

_WHERE = {
    "LocalProxy": "pytest_roo.faults.local",
    "PROFILES": "pytest_roo.faults.profiles",
    "NetworkProfile": "pytest_roo.faults.profiles",
    "FaultWindow": "pytest_roo.faults.windows",
    "ScheduledFault": "pytest_roo.faults.schedule",
    "scheduled": "pytest_roo.faults.schedule",
    "ProfileHandle": "pytest_roo.faults.proxy",
    "Proxy": "pytest_roo.faults.proxy",
    "ProxyError": "pytest_roo.faults.proxy",
    "ToxicHandle": "pytest_roo.faults.proxy",
    "measure_recovery": "pytest_roo.faults.recovery",
    "measure_recovery_async": "pytest_roo.faults.recovery",
    "watch_recovery": "pytest_roo.faults.recovery",
    "Toxic": "pytest_roo.faults.toxics",
    "ToxicError": "pytest_roo.faults.toxics",
    "make_toxic": "pytest_roo.faults.toxics",
    "ToxiproxyError": "pytest_roo.faults.toxiproxy",
    "ToxiproxyProxy": "pytest_roo.faults.toxiproxy",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_roo.faults' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
