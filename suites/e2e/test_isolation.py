"""Criterion: user B never sees user A's deployments or logs: not in the list, not over HTTP,
not over the live-log WebSocket, while A's own page does get them (so the check is not empty).
A injects 1,000 lines per run: enough to see a fault that leaks one line in 200."""

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

    # enough of A's lines to see a fault that leaks one in 200 (missed: 0.995^1000 = 0.7 %)
    inject_many(api, alice, secret["id"], PRIVATE_LINES, "alice-private")
    api.inject(bob, mine["id"], "bob's line", id="bob-own")
    last = f"alice-private-{PRIVATE_LINES - 1}"
    a_page.wait_for_selector(f"[data-line-id='{last}']")  # A sees them: the fan-out works
    b_page.wait_for_selector("[data-line-id='bob-own']")  # and B's socket is live
    seen_by_a = int(a_page.get_attribute("#log-count", "data-count") or 0)
    assert seen_by_a >= PRIVATE_LINES, f"A's page got {seen_by_a} of {PRIVATE_LINES} lines"
    leaked = b_page.locator(f"[data-deployment-id='{secret['id']}']").count()
    assert leaked == 0, f"{leaked} of A's {PRIVATE_LINES} lines reached B's page"
    assert "alice" not in (b_page.text_content("#main") or "")


#: A's private lines per run: a leak of one line in 200 shows in 99 % of runs.
PRIVATE_LINES = 1000


def inject_many(api: Api, user: Any, deployment_id: int, n: int, prefix: str) -> None:
    """``n`` lines ``<prefix>-0`` .. ``<prefix>-<n-1>``, four requests at a time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: api.inject(user, deployment_id, f"{prefix} line {i}",
                                           id=f"{prefix}-{i}"), range(n)))
