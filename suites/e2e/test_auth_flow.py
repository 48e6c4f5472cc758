"""Criterion: the auth flow (register -> log in -> dashboard) succeeds in at least 95 % of runs,
each in a fresh browser context. 59 runs (the fewest that can show ">= 95 %" at 95 % confidence)
are shared by the cells of the matrix (engine x device; 30 each over Chromium and Firefox) and the
rate is judged over all of them; a failure in any cell counts, and the cell it happened in fails
as well. The runs of a cell go three at a time (``concurrency``), each in a context of its own:
the same runs, each judged alone."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from suites.e2e.dashboard import open_dashboard


def signed_in(page: Any) -> None:
    """Wait for the dashboard or an error shown on the sign-in form, and fail on the error."""
    page.wait_for_function(
        "!document.getElementById('app').hidden || document.getElementById('auth-error').textContent"
    )
    error = page.text_content("#auth-error")
    assert not error, f"sign-in failed: {error}"


#: Runs at a time in one browser, each in its own fresh context: a run mostly waits for the
#: browser and the server, so three overlap well on two cores (docs/browser.md).
CONCURRENCY = 3


@pytest.mark.slo("success_rate >= 95%", iterations=59, pool="matrix", concurrency=CONCURRENCY)
@pytest.mark.timeout(900)  # Firefox: about 3 s per run in a fresh context, one at a time
def test_register_login_dashboard(roo_new_context: Any) -> None:
    context = roo_new_context()
    page = context.new_page()
    open_dashboard(page)
    username, password = f"auth-{secrets.token_hex(5)}", secrets.token_urlsafe(12)

    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#register-button")
    signed_in(page)
    assert page.text_content("#whoami") == username

    page.click("#logout-button")
    page.wait_for_selector("#auth:not([hidden])")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-button")
    signed_in(page)
    assert page.text_content("#whoami") == username
    assert page.is_visible("[data-testid=create-form]")
    assert page.text_content("#auth-error") == ""
    context.close()
