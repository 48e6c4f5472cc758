"""A factory of browser contexts that traces each one and closes what it made.

Behind the ``roo_new_context`` fixture: every context it makes emulates the cell's device, records
a Playwright trace, and is closed at the end of the test. On a failure the factory writes the
evidence (a screenshot per open page, the trace) before anything is closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_roo.browser.evidence import capture, drop_trace, start_trace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

__all__ = ["ContextFactory"]

#: Default timeout of every Playwright action in a context made here (ms): bounded waits.
DEFAULT_TIMEOUT_MS = 15_000


@dataclasses.dataclass
class _Made:
    number: int
    context: BrowserContext
    fixture_owned: bool
    #: the greenlet that made it: interleaved iterations (pytest_roo.browser.interleave) each
    #: run in their own, and a failing one's evidence is its own contexts, not its neighbours'
    owner: object = None
    closed: bool = False


class ContextFactory:
    """Make traced contexts on one browser with the cell's context arguments.

    Args:
        browser: the engine's browser.
        context_args: keyword arguments of every ``Browser.new_context`` (device emulation,
            ``base_url``...); a call's own keyword arguments override them.
        title: trace title (the test id).
        trace: what the Playwright trace of every context records (kept only on failure):
            ``"dom"`` (DOM snapshots), ``"full"`` (also screenshots), ``"off"``; ``True`` is
            ``"dom"`` and ``False`` is ``"off"``.
    """

    def __init__(
        self,
        browser: Browser,
        context_args: Mapping[str, Any],
        *,
        title: str = "",
        trace: bool | str = "dom",
        default_timeout_ms: float = DEFAULT_TIMEOUT_MS,
    ) -> None:
        self.browser = browser
        self.context_args = dict(context_args)
        self.title = title
        mode = {True: "dom", False: "off"}.get(trace, trace) if isinstance(trace, bool) else trace
        if mode not in ("dom", "full", "off"):
            raise ValueError(f"invalid trace={trace!r}: expected 'dom', 'full' or 'off'")
        self.trace = mode != "off"
        self.screenshots = mode == "full"
        self.default_timeout_ms = default_timeout_ms
        self._made: list[_Made] = []

    def __call__(self, **overrides: Any) -> BrowserContext:
        """A new context: the cell's context arguments updated with ``overrides``."""
        return self.make(fixture_owned=False, **overrides)

    def make(self, *, fixture_owned: bool, **overrides: Any) -> BrowserContext:
        """A new browser context with the factory's arguments and ``overrides`` (traced when tracing
        is on), tracked so that the factory can capture and close it."""
        context = self.browser.new_context(**{**self.context_args, **overrides})
        context.set_default_timeout(self.default_timeout_ms)
        made = _Made(len(self._made) + 1, context, fixture_owned, _current_greenlet())
        context.on("close", lambda _context: setattr(made, "closed", True))
        if self.trace:
            start_trace(context, self.title, screenshots=self.screenshots)
        self._made.append(made)
        return context

    @property
    def contexts(self) -> list[BrowserContext]:
        """The contexts made so far that are still open."""
        return [made.context for made in self._made if not made.closed]

    def capture(self, directory: Path, *, iteration: bool = False) -> list[str]:
        """Write screenshots and traces of the open contexts into ``directory``.

        With ``iteration`` (one failed iteration of an iterating test) only the contexts that
        iteration made (in the calling greenlet: iterations run at a time each have their own)
        and the fixture's own are written; the iteration's are closed afterwards, the fixture's
        own keeps recording in a new trace chunk.
        """
        open_made = [made for made in self._made if not made.closed]
        if iteration:
            # the failing iteration's contexts (the fixture's own made at set-up: always)
            current = _current_greenlet()
            open_made = [made for made in open_made
                         if made.fixture_owned or made.owner is current]
        paths = capture(
            [(made.number, made.context) for made in open_made],
            directory,
            keep_tracing=iteration,
        )
        if iteration:
            for made in open_made:
                if not made.fixture_owned:
                    self._close(made, drop=True)
        return paths

    def close_all(self) -> None:
        """Close every context still open, dropping their traces."""
        for made in self._made:
            if not made.closed:
                self._close(made, drop=True)

    def _close(self, made: _Made, *, drop: bool) -> None:
        if drop and self.trace:
            drop_trace(made.context)
        try:
            made.context.close()
        except Exception:  # already gone with its browser
            pass
        made.closed = True


def _current_greenlet() -> object:
    """The running greenlet (Playwright's sync API runs on greenlets, so it is installed)."""
    import greenlet  # type: ignore[import-untyped]  # no stubs; installed with Playwright

    return greenlet.getcurrent()
