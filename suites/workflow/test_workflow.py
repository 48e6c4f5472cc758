"""Workflow suite: concurrent users run the whole product journey, each step timed.

register -> login -> create deployment -> subscribe to its logs -> start -> receive logs ->
stop -> delete. One LoadResult, one named metric per step.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites import client
from suites.realtime.test_realtime import next_event
from suites.workflow.sizes import WORKFLOW, WorkflowSizes


@pytest.fixture(scope="module")
def sizes(roo_sizes: SelectedProfile) -> WorkflowSizes:
    """The workflow suite's sizes for ``--roo-profile`` (suites/workflow/sizes.py)."""
    return roo_sizes(WORKFLOW)


STEPS = ("register", "login", "create", "subscribe", "start", "receive_logs", "stop", "delete")


@pytest.mark.slo("success_rate >= 99.9%")
@pytest.mark.timeout(600)  # the full profile runs journeys for 240 s, near the 300 s default
def test_user_workflow(ws_swarm: Any, target: Target, sizes: WorkflowSizes) -> None:
    """New user journeys arrive on an open schedule and run concurrently (up to N at once);
    a journey succeeds only when every step does (a failed step counts as an error of its
    kind and ends the journey). ``iteration`` runs from the journey's intended start."""
    timeout = 5.0

    async def workflow(session: Any) -> None:
        http = session.http
        creds = {"username": f"flow_{secrets.token_hex(6)}", "password": client.PASSWORD}
        await session.request("POST", target.url("/api/auth/register"), name="register",
                              json=creds)
        with session.measure("login"):
            data = await client.call(http, "POST", target.url("/api/auth/login"), json=creds,
                                     expect=(200,))
        auth = {"Authorization": f"Bearer {data['access_token']}"}
        with session.measure("create"):
            dep = await client.call(http, "POST", target.url("/api/deployments"),
                                    json={"name": "flow-web"}, headers=auth, expect=(201,))
        dep_id = int(dep["id"])
        with session.measure("subscribe"):
            ws = await asyncio.wait_for(http.ws_connect(
                target.ws_url(f"/ws/deployments/{dep_id}/logs?token={data['access_token']}")),
                timeout)
        try:
            await next_event(ws, lambda e: e.get("type") == "subscribed", timeout)
            await session.request("POST", target.url(f"/api/deployments/{dep_id}/start"),
                                  name="start", headers=auth)
            t0 = time.perf_counter()
            await next_event(ws, lambda e: e.get("type") == "log", timeout)
            session.record("receive_logs", time.perf_counter() - t0)
            await session.request("POST", target.url(f"/api/deployments/{dep_id}/stop"),
                                  name="stop", headers=auth)
        finally:
            await ws.close()
        await session.request("DELETE", target.url(f"/api/deployments/{dep_id}"),
                              name="delete", headers=auth)
        session.count("completed")

    result = ws_swarm.run(workflow, clients=sizes.users,
                          rate=f"{sizes.rate}/s",
                          duration=sizes.duration, primary="iteration",
                          name="workflow", timeout=timeout + 2)
    result.info["steps"] = {
        step: {"p95_ms": round(result.percentile(step, 95) * 1000, 1),
               "count": result.metrics[step].count}
        for step in STEPS if step in result.metrics
    }
