from __future__ import annotations

import hdrh.histogram  # noqa: F401  -- imported once here: in-process pytester runs drop
import numpy  # noqa: F401  -- modules they imported, and numpy cannot be imported twice
import pytest


@pytest.fixture
def no_playwright_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process pytester runs without pytest-playwright, whose module-level state does not
    survive a pytest session nested inside another one (its own tests run it in a subprocess)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:playwright")
