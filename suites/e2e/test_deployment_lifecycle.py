"""Criterion: the deployment lifecycle in the dashboard (create -> start -> live logs visible ->
stop -> delete) succeeds in at least 90 % of runs: 29 runs (the fewest that can show ">= 90 %")
shared by the cells of the matrix and judged together; a failure in any cell counts, and the cell
it happened in fails as well. Three runs at a time, each with its own user and context (``concurrency``)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from suites.e2e.dashboard import Api, open_dashboard, sign_in
from suites.e2e.test_auth_flow import CONCURRENCY


@pytest.mark.slo("success_rate >= 90%", iterations=29, pool="matrix", concurrency=CONCURRENCY)
@pytest.mark.timeout(900)  # Firefox: about 3 s per run in a fresh context
def test_create_start_logs_stop_delete(roo_new_context: Any, api: Api) -> None:
    user = api.new_user("lifecycle")
    context = roo_new_context()
    sign_in(context, user)
    page = context.new_page()
    open_dashboard(page, live=True)
    name = f"web-{secrets.token_hex(3)}"

    page.fill("[data-testid=new-deployment-name]", name)
    page.click("#create-button")
    row = page.locator(f"[data-testid=deployment-row][data-name='{name}']")
    row.wait_for()
    deployment_id = row.get_attribute("data-id")
    status = row.locator("[data-testid=deployment-status]")
    assert status.get_attribute("data-status") == "stopped"

    row.locator("[data-testid=deployment-start]").click()
    page.wait_for_selector(f"#deployment-{deployment_id} [data-status=running]")
    # a running deployment emits its own log lines; they must show up live
    page.wait_for_selector(f"[data-testid=log-line][data-deployment-id='{deployment_id}']",
                           timeout=10_000)

    row.locator("[data-testid=deployment-stop]").click()
    page.wait_for_selector(f"#deployment-{deployment_id} [data-status=stopped]")

    row.locator("[data-testid=deployment-delete]").click()
    row.wait_for(state="detached")
    assert api.call("GET", "/api/deployments", token=user.access_token)["deployments"] == []
    context.close()
