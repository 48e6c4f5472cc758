"""Real browsers for the integration tests: one pool for the package, closed at its end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_roo.browser.engines import discover_all
from pytest_roo.browser.pool import BrowserPool

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="package")
def pool() -> Iterator[BrowserPool]:
    with BrowserPool(discover_all(["chromium", "firefox", "webkit"]), {"headless": True}) as pool:
        yield pool


def browser_or_skip(pool: BrowserPool, engine: str) -> Browser:
    """The engine's browser; a skip naming the install hint where it is not installed."""
    found = pool.engines[engine]
    if not found.available:
        pytest.skip(found.skip_reason)
    return pool.get(engine)
