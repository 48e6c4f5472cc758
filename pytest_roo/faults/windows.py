"""When a fault was on: :class:`FaultWindow`, and the windows a load run can see.

Every window registers itself when it is made (the proxy's ``fault(...)`` block, a service's
``restart()`` / ``kill()``, ``target.restart()``), so a load run that overlaps it splits what it
measured into phases (before / during / after) without being told: the run asks
:func:`open_windows` when it starts and :func:`windows_since` while it runs. Only weak
references are kept. No heavy import here: the load engine imports this module.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_roo.faults.handles import ToxicHandle

__all__ = ["PHASES", "FaultWindow", "listen", "open_windows", "phase_at", "windows_since"]

#: the phases of a run that overlaps fault windows, in time order
PHASES = ("before", "during", "after")

_lock = threading.Lock()
_serial = itertools.count(1)
#: serial number -> window; a window nobody holds any more drops out by itself
_windows: weakref.WeakValueDictionary[int, FaultWindow] = weakref.WeakValueDictionary()
#: called with the window whenever one starts or ends (a load run's phase split listens, so
#: its cut falls at the instant, not at its next look)
_listeners: list[Callable[[FaultWindow], None]] = []


@dataclasses.dataclass(eq=False)
class FaultWindow:
    """When a fault was on, in ``time.monotonic()`` seconds (``ended`` is None while it is on).

    ``kind`` names the fault (``down``, ``latency``, ``restart``, ``kill``...), ``target`` what
    it hit (``postgres``, ``redis``, ``target``; "" for a proxy's toxic).
    """

    kind: str
    started: float | None = None
    ended: float | None = None
    handle: ToxicHandle | None = None
    target: str = ""
    serial: int = dataclasses.field(default=0, repr=False)

    def __post_init__(self) -> None:
        with _lock:
            self.serial = next(_serial)
            _windows[self.serial] = self

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in ("started", "ended") and value is not None:
            with _lock:
                listeners = list(_listeners)
            for listener in listeners:
                listener(self)

    @property
    def active(self) -> bool:
        """True between the fault's start and its end."""
        return self.started is not None and self.ended is None

    def start(self) -> FaultWindow:
        """Mark the fault as on from now; returns the window."""
        self.started = time.monotonic()
        return self

    def end(self) -> FaultWindow:
        """Mark the fault as over from now; returns the window."""
        self.ended = time.monotonic()
        return self

    def phase(self, at: float) -> str:
        """``before``, ``during`` or ``after`` the fault for a ``time.monotonic()`` instant."""
        if self.started is None or at < self.started:
            return "before"
        if self.ended is None or at < self.ended:
            return "during"
        return "after"

    def describe(self, origin: float) -> dict[str, Any]:
        """Plain data for reports: kind, target, start and end in seconds from ``origin``."""
        return {
            "kind": self.kind,
            "target": self.target,
            "started": None if self.started is None else round(self.started - origin, 4),
            "ended": None if self.ended is None else round(self.ended - origin, 4),
        }


def listen(listener: Callable[[FaultWindow], None]) -> Callable[[], None]:
    """Call ``listener(window)`` (in the thread that changed it) whenever a window starts or
    ends; returns the function that stops it."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return stop


def open_windows() -> list[FaultWindow]:
    """The windows that exist now and have not ended (not started yet, or on)."""
    with _lock:
        found = list(_windows.values())
    return [w for w in found if w.ended is None]


def windows_since(serial: int) -> list[FaultWindow]:
    """The windows made after the one numbered ``serial`` (0: all that still exist)."""
    with _lock:
        return [w for s, w in list(_windows.items()) if s > serial]


def last_serial() -> int:
    """The number of the newest window made so far (0 when none)."""
    with _lock:
        return max(_windows.keys(), default=0)


def phase_at(windows: Sequence[FaultWindow], at: float) -> tuple[str, float]:
    """The phase of instant ``at`` among several windows, and for ``after`` the seconds since
    the latest end before ``at`` (0.0 otherwise).

    ``during``: inside any window; ``before``: before the first one started; ``after``: every
    other instant, counted from the end of the latest window that ended (between two faults
    is "after" the first one).
    """
    latest_end: float | None = None
    started_any = False
    for window in windows:
        if window.started is None or at < window.started:
            continue
        started_any = True
        if window.ended is None or at < window.ended:
            return "during", 0.0
        if latest_end is None or window.ended > latest_end:
            latest_end = window.ended
    if not started_any or latest_end is None:
        return "before", 0.0
    return "after", at - latest_end
