"""End-to-end suites against the dashboard, over the browser matrix (engines x devices).

Each test uses the matrix fixtures (``roo_page``, ``roo_new_context``), so it runs once per cell
of ``--roo-browsers`` x ``--roo-devices``; contexts open pages relative to the target's URL.
"""

from __future__ import annotations

from typing import Any

import pytest

from suites.e2e.dashboard import Api, User


@pytest.fixture
def roo_browser_context_args(roo_browser_context_args: dict[str, Any], target: Any) -> dict[str, Any]:
    """The cell's device emulation, with pages relative to the system under test."""
    return {**roo_browser_context_args, "base_url": target.base_url}


@pytest.fixture(scope="session")
def api(target: Any) -> Api:
    """HTTP client of the system under test, for set-up that is not under test."""
    return Api(target.base_url)


@pytest.fixture
def user(api: Api) -> User:
    """A freshly registered, logged-in user."""
    return api.new_user()
