"""A fault that starts in the background while the test's block runs (a load run, usually).

``postgres_server.restart()`` blocks until the server is back, and so does a load run: to put
one inside the other, the fault runs in a thread::

    with scheduled(postgres_server.restart, after=2.0) as fault:
        result = http_load.get(url, clients=10, duration="6s")
    recovery_meter(probe, since=fault.window)

The action is anything that returns a :class:`~pytest_roo.faults.windows.FaultWindow` (a
service's ``restart`` / ``kill``, ``target.restart``) or nothing. Leaving the block waits for
the action to finish (at most ``timeout`` seconds) and raises what it raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from pytest_roo.faults.windows import FaultWindow

__all__ = ["ScheduledFault", "scheduled"]


class ScheduledFault:
    """The background run of one fault action; ``window`` once it returned one."""

    def __init__(self, action: Callable[[], Any], after: float, timeout: float,
                 name: str) -> None:
        if not callable(action):
            raise TypeError(f"scheduled(action): expected a callable such as "
                            f"postgres_server.restart, got {type(action).__name__}")
        if isinstance(after, bool) or not isinstance(after, (int, float)) or not after >= 0:
            raise ValueError(f"scheduled(after={after!r}) is not valid; expected seconds >= 0")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"scheduled(timeout={timeout!r}) is not valid; expected seconds > 0")
        self.action = action
        self.after = float(after)
        self.timeout = float(timeout)
        self.name = name
        self.returned: Any = None
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"roo-fault-{name}", daemon=True)

    @property
    def window(self) -> FaultWindow | None:
        """The FaultWindow the action returned (None before it returned, or if it returned
        something else)."""
        return self.returned if isinstance(self.returned, FaultWindow) else None

    def _run(self) -> None:
        try:
            if self._cancel.wait(self.after):
                return
            self.returned = self.action()
        except BaseException as exc:  # handed to the test's thread on exit
            self.error = exc
        finally:
            self._done.set()

    def start(self) -> ScheduledFault:
        """Start the timer (``with`` does it)."""
        self._thread.start()
        return self

    def wait(self) -> FaultWindow | None:
        """Wait for the action (at most ``timeout`` s after its planned start); raise its
        error; return its window."""
        if not self._done.wait(self.after + self.timeout):
            raise TimeoutError(f"the scheduled fault {self.name} did not finish within "
                               f"{self.timeout:g} s")
        if self.error is not None:
            raise self.error
        return self.window

    def __enter__(self) -> ScheduledFault:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self._cancel.set()  # the block failed: no fault now (one under way finishes)
            self._done.wait(self.timeout)
            return
        self.wait()  # an action planned after the block ended still runs, then returns


def scheduled(action: Callable[[], Any], *, after: float = 0.0, timeout: float = 120.0,
              name: str | None = None) -> ScheduledFault:
    """Run ``action()`` in a thread ``after`` seconds into the ``with`` block.

    Args:
        action: e.g. ``postgres_server.restart``, ``redis_server.kill``, ``target.restart``
            (or ``lambda: proxy.down()``).
        after: seconds from entering the block to the action.
        timeout: how long leaving the block waits for the action to finish.
        name: shown in errors; default the action's name.
    """
    shown = name or getattr(action, "__qualname__", None) or repr(action)
    return ScheduledFault(action, after, timeout, str(shown))
