"""Evidence of a failing cell or iteration: a screenshot of each open page and a Playwright trace.

Every context made through the fixtures records a trace from the start
(``context.tracing.start``); on success the trace is dropped, on failure it is written to
``<output>/browser/<test slug>/[iteration-N/]context-K.trace.zip`` (open it with
``playwright show-trace``) next to ``context-K-page-J.png``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

__all__ = ["capture", "drop_trace", "slug", "start_trace"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(nodeid: str, limit: int = 120) -> str:
    """A directory name for a test id: readable, unique (hash suffix when shortened).

    >>> slug("tests/test_a.py::test_login[firefox-iPhone 13]")
    'tests-test_a.py-test_login-firefox-iPhone-13'
    """
    text = _UNSAFE.sub("-", nodeid.replace("::", "-")).strip("-")
    if len(text) > limit:
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:8]
        text = text[: limit - 9] + "-" + digest
    return text


def start_trace(context: BrowserContext, title: str, *, screenshots: bool = False) -> None:
    """Start recording a trace of a new context: DOM snapshots of every action, and with
    ``screenshots`` a screenshot per action too (the film strip; in Firefox over WebDriver BiDi
    it makes a run about 1.7x slower, so it is opt-in: ``--roo-trace full``)."""
    context.tracing.start(title=title, screenshots=screenshots, snapshots=True, sources=False)


def drop_trace(context: BrowserContext) -> None:
    """Stop tracing without writing anything (the context passed)."""
    try:
        context.tracing.stop()
    except Exception:  # the context may have been closed by the test already
        pass


def capture(
    contexts: Iterable[tuple[int, BrowserContext]],
    directory: Path,
    *,
    keep_tracing: bool = False,
) -> list[str]:
    """Write a screenshot of every open page and the trace of every context; return the paths.

    ``contexts`` are (number, context) pairs; a closed context yields nothing. With
    ``keep_tracing`` the trace is written as a chunk and recording goes on (between iterations).
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[str] = []
    for number, context in contexts:
        for page_number, page in enumerate(context.pages, start=1):
            path = directory / f"context-{number}-page-{page_number}.png"
            try:
                page.screenshot(path=str(path), full_page=True, timeout=10_000)
            except Exception:
                continue
            paths.append(str(path))
        trace = directory / f"context-{number}.trace.zip"
        try:
            if keep_tracing:
                context.tracing.stop_chunk(path=str(trace))
                context.tracing.start_chunk()
            else:
                context.tracing.stop(path=str(trace))
        except Exception:
            continue
        paths.append(str(trace))
    return paths
