"""Criterion: user B never sees user A's deployments or logs: not in the list, not over HTTP,
not over the live-log WebSocket, while A's own page does get them (so the check is not empty)."""

from __future__ import annotations

from typing import Any

from suites.e2e.dashboard import Api, open_dashboard, sign_in

SPY_JS = """
(deploymentId) => new Promise((resolve) => {
  const ws = window.refapp.ws;
  const answer = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.deployment_id === deploymentId && msg.type !== 'log') {
      ws.removeEventListener('message', answer);
      resolve(msg);
    }
  };
  ws.addEventListener('message', answer);
  ws.send(JSON.stringify({ type: 'subscribe', deployment_id: deploymentId }));
  setTimeout(() => resolve(null), 5000);
})
"""


def test_user_b_never_sees_user_a(roo_new_context: Any, api: Api) -> None:
    alice, bob = api.new_user("alice"), api.new_user("bob")
    secret = api.create_deployment(alice, "alice-secret")
    mine = api.create_deployment(bob, "bob-own")

    a_context, b_context = roo_new_context(), roo_new_context()
    sign_in(a_context, alice)
    sign_in(b_context, bob)
    a_page, b_page = a_context.new_page(), b_context.new_page()
    open_dashboard(a_page, live=True)
    open_dashboard(b_page, live=True)

    names = b_page.locator("[data-testid=deployment-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.name)")
    assert names == ["bob-own"]
    status = b_page.evaluate(
        "async (id) => (await fetch('/api/deployments/' + id, {headers: "
        "{Authorization: 'Bearer ' + window.refapp.access}})).status", secret["id"])
    assert status == 404, "B's browser can read A's deployment"
    refused = b_page.evaluate(SPY_JS, secret["id"])
    assert refused is not None, "the server did not answer B's subscription to A's deployment"
    assert (refused["type"], refused["code"]) == ("error", "forbidden"), refused
    assert "alice" not in str(refused)  # refused like a missing one: nothing about A leaks

    api.inject(alice, secret["id"], "alice's private line", id="alice-private")
    api.inject(bob, mine["id"], "bob's line", id="bob-own")
    a_page.wait_for_selector("[data-line-id='alice-private']")  # A sees it: the fan-out works
    b_page.wait_for_selector("[data-line-id='bob-own']")  # and B's socket is live
    assert b_page.locator("[data-line-id='alice-private']").count() == 0
    assert b_page.locator(f"[data-deployment-id='{secret['id']}']").count() == 0
    assert "alice" not in (b_page.text_content("#main") or "")
