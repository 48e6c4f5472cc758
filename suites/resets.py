"""Bursts of connection resets through a fault proxy, for the resilience suites.

Every ``every`` seconds a ``reset_peer`` toxic with ``timeout=0`` is on for ``window`` seconds:
each connection through the proxy draws once (with probability ``share``, Toxiproxy's
toxicity, drawn when the toxic is added and when a connection opens) and, if drawn, the next
data the server sends it within the window resets both sides (TCP RST). That data is lost on
the way, so a client that resumes must get it again from the server. Works the same on the
in-process proxy and on a Toxiproxy server (it only adds and removes a toxic).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["ResetBursts"]


class ResetBursts:
    """``with ResetBursts(proxy, share=0.2, every=1.0, window=0.2, duration=8):`` runs the
    bursts in a thread for ``duration`` seconds (or until the block ends)."""

    NAME = "reset_bursts"

    def __init__(self, proxy: Any, *, share: float, every: float, window: float,
                 duration: float, stream: str = "downstream") -> None:
        if not 0 < window < every:
            raise ValueError(f"reset bursts: window={window!r} must be above 0 and below "
                             f"every={every!r} (seconds)")
        self.proxy = proxy
        self.share = share
        self.every = every
        self.window = window
        self.duration = duration
        self.stream = stream
        self.bursts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reset-bursts", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        end = time.monotonic() + self.duration
        try:
            while not self._stop.wait(self.every - self.window) and time.monotonic() < end:
                handle = self.proxy.add("reset_peer", name=self.NAME, stream=self.stream,
                                        toxicity=self.share, timeout=0)
                self.bursts += 1
                try:
                    self._stop.wait(self.window)
                finally:
                    handle.remove()
        except BaseException as exc:  # reported by __exit__: a burst that failed is no burst
            self._error = exc

    def __enter__(self) -> ResetBursts:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(15.0)
        if self._error is not None and exc is None:
            raise RuntimeError(f"reset bursts failed: {self._error}") from self._error

    def describe(self) -> dict[str, Any]:
        return {"share": self.share, "every_s": self.every, "window_s": self.window,
                "bursts": self.bursts, "stream": self.stream}
