"""Playwright's event loop, kept out of the tests that do not drive a browser.

Playwright's sync API leaves its event loop marked as running in the main thread for as long as
its browsers are open (the session, once a matrix test ran): a later test's ``asyncio.run()``,
an anyio or pytest-asyncio test would fail with "cannot be called from a running event loop".
For a test that requests no browser fixture, that mark is lifted while its setup, call and
teardown run, and put back afterwards. A test that drives a browser keeps it (Playwright needs
it), and so does the teardown of the session's last test (it may close the browsers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Iterator

import pytest

__all__ = ["BROWSER_FIXTURES", "PlaywrightLoopGuard", "without_playwright_loop"]

#: fixtures of pytest-roo's matrix and of pytest-playwright that drive Playwright
BROWSER_FIXTURES = frozenset({
    "roo_cell", "roo_browser", "roo_browsers", "roo_playwright", "roo_browser_context_args",
    "roo_new_context", "roo_context", "roo_page",
    "playwright", "browser_type", "browser", "context", "new_context", "page",
    "launch_browser", "browser_context_args",
})


@contextlib.contextmanager
def without_playwright_loop(item: pytest.Item, *, keep: bool = False) -> Iterator[None]:
    """Lift a running loop that no task runs on (Playwright's, between its calls) for ``item``
    unless it requests a browser fixture or ``keep`` is set; put it back afterwards."""
    loop = asyncio._get_running_loop()
    uses_browser = BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if loop is None or keep or uses_browser or asyncio.current_task(loop) is not None:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)


class PlaywrightLoopGuard:
    """The hooks: setup and call of a test without a browser fixture run without Playwright's
    loop mark; so does its teardown, unless it is the session's last (``nextitem`` None)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        """Setup without the mark (async fixtures of anyio or pytest-asyncio start loops)."""
        with without_playwright_loop(item):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """The test body without the mark."""
        with without_playwright_loop(item):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        """Teardown without the mark, except the last one (session fixtures close browsers)."""
        with without_playwright_loop(item, keep=nextitem is None):
            return (yield)
