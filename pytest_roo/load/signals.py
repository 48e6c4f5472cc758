"""Signals during a load run: Ctrl-C stops the run and keeps its result; whatever another
signal handler raises (pytest-timeout's ``Failed`` from SIGALRM, SystemExit from SIGTERM) stops
the run and is raised once it has ended.

Without this, an exception raised by a Python signal handler while the event loop runs is
raised inside whatever callback the loop was running; uvloop and asyncio log it ("Exception in
callback Loop._read_from_self") or store it in a task, and the run goes on to its end.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Any

from pytest_roo.load.recorder import Recorder

__all__ = ["SignalGuard", "drive_in_thread"]

#: Signals whose Python handlers are wrapped during a run (SIGINT has its own handler).
_WRAPPED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGALRM", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2",
                                       "SIGQUIT")
    if hasattr(signal, name)
)


class SignalGuard:
    """For the duration of a run: Ctrl-C stops it (RunInterrupted, with the result), and every
    other Python signal handler is wrapped so that what it raises (pytest-timeout's Failed,
    SystemExit) stops the run and is raised when it has ended, instead of being logged and
    dropped by the event loop that happened to run the handler."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rec: Recorder, sigint: bool) -> None:
        self.loop = loop
        self.rec = rec
        self.sigint = sigint
        self.interrupted = False
        self._previous: dict[int, Any] = {}

    def _fail(self, exc: BaseException, where: str) -> None:
        # Set directly (plain attributes, read by the loop's tasks), not through the loop:
        # the loop may already be past its last iteration, and the failure must not be lost.
        self.rec.fail(exc, where)
        self._wake()

    def _wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(lambda: None)
        except RuntimeError:  # the loop is closed: the run is over
            pass

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.interrupted:  # second Ctrl-C: stop without waiting for the result
            self._fail(KeyboardInterrupt(), "signal SIGINT (second Ctrl-C)")
            return
        self.interrupted = True
        self.rec.stop("interrupted (Ctrl-C)")
        self._wake()

    def _wrap(self, previous: Callable[[int, Any], Any]) -> Callable[[int, Any], None]:
        def handler(signum: int, frame: Any) -> None:
            try:
                previous(signum, frame)
            except BaseException as exc:  # raised when the run has ended, see _raise_failure
                self._fail(exc, f"signal {signal.Signals(signum).name}")

        return handler

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        wrapped = _WRAPPED_SIGNALS
        if self.sigint:
            self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_sigint)
        else:  # no result kept on Ctrl-C, but the KeyboardInterrupt must not be swallowed
            wrapped = (signal.SIGINT, *wrapped)
        for signum in wrapped:
            current = signal.getsignal(signum)
            if callable(current):
                self._previous[signum] = signal.signal(signum, self._wrap(current))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


def drive_in_thread(drive: Callable[[], None], thread_name: str, rec: Recorder,
                     loop: asyncio.AbstractEventLoop) -> None:
    """Run ``drive`` in a thread of its own (a loop is already running in this one), forwarding
    Ctrl-C to the run and re-raising what ``drive`` raised."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            drive()
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name=thread_name, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except BaseException as exc:  # raised in this thread while waiting: stop the run, go on
        rec.fail(exc, "interrupted")
        try:
            loop.call_soon_threadsafe(lambda: None)  # wake it to see the stop
        except RuntimeError:  # already closed
            pass
        thread.join(3.0)
        raise
    if errors:
        raise errors[0]
