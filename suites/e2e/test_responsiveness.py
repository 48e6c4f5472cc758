"""Criterion: the dashboard scores at least 90 for responsiveness on a phone, a tablet and a
desktop (overflow, viewport meta, tap targets, text size, axe-core), signed out and signed in."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.browser import responsiveness
from suites.e2e.dashboard import Api, open_dashboard, sign_in

MIN_SCORE = 90


@pytest.mark.matrix(devices="mobile,tablet,desktop")
def test_dashboard_is_responsive(roo_new_context: Any, api: Api, roo_cell: Any) -> None:
    signed_out = roo_new_context().new_page()
    open_dashboard(signed_out)
    before = responsiveness(signed_out)

    user = api.new_user("responsive")
    deployment = api.create_deployment(user, "a-rather-long-deployment-name-for-layout")
    api.create_deployment(user, "api")
    context = roo_new_context()
    sign_in(context, user)
    page = context.new_page()
    open_dashboard(page, live=True)
    for n in range(3):
        api.inject(user, deployment["id"], f"GET /api/items/{n} 200 12ms " + "x" * 80)
    page.wait_for_selector("[data-testid=log-line]")
    after = responsiveness(page)

    failures = [f"{label}: {result}" for label, result in (("signed out", before),
                                                           ("signed in", after))
                if result.score < MIN_SCORE]
    assert not failures, f"{roo_cell.device.name}: " + "\n".join(failures)
