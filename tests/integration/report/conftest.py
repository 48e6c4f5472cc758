"""What the report's browser tests share: one browser pool per module, and the report opened
in an engine with its console watched until every chart is drawn."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_roo.browser.engines import discover_all
from pytest_roo.browser.pool import BrowserPool


@pytest.fixture(scope="module")
def pool() -> Iterator[BrowserPool]:
    with BrowserPool(discover_all(["chromium", "firefox"]), {"headless": True}) as pool:
        yield pool


@contextlib.contextmanager
def report_page(pool: BrowserPool, engine: str, path: Path,
                requests: list[str] | None = None) -> Iterator[tuple[Any, list[str]]]:
    """The report at ``path`` open in ``engine`` (skipped with the reason when it is missing),
    once its charts are drawn: (page, the console errors and warnings and page errors seen,
    filled while the page lives). ``requests`` collects every URL the page asks for."""
    found = pool.engines[engine]
    if not found.available:
        pytest.skip(found.skip_reason)
    context = pool.get(engine).new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        if requests is not None:
            page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_function("document.documentElement.dataset.chartsDrawn !== undefined",
                               timeout=15_000)
        yield page, problems
    finally:
        context.close()
