"""Talking to the reference system's dashboard: an HTTP client for set-up, page helpers.

Set-up that is not under test (users, deployments, injected lines) goes over HTTP with the
standard library; what the criterion is about happens in the browser. No pytest import.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

PASSWORD_BYTES = 12
HTTP_TIMEOUT = 10.0


class ApiError(RuntimeError):
    """An unexpected answer of the reference system's API (status and body in the message)."""


@dataclasses.dataclass
class User:
    username: str
    password: str
    access_token: str = ""
    refresh_token: str = ""
    user_id: int = 0


class Api:
    """Minimal synchronous client of the reference system's HTTP API (loopback only)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise ApiError(f"{method} {path} answered {exc.code}: {detail}") from None
        return json.loads(raw) if raw else None

    def new_user(self, prefix: str = "e2e") -> User:
        """Register a fresh user (unique name) and log it in."""
        user = User(f"{prefix}-{secrets.token_hex(5)}", secrets.token_urlsafe(PASSWORD_BYTES))
        self.call("POST", "/api/auth/register", {"username": user.username, "password": user.password})
        tokens = self.call("POST", "/api/auth/login",
                           {"username": user.username, "password": user.password})
        user.access_token = tokens["access_token"]
        user.refresh_token = tokens["refresh_token"]
        user.user_id = int(tokens["user_id"])
        return user

    def create_deployment(self, user: User, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/api/deployments", {"name": name},
                                           user.access_token)
        return result

    def action(self, user: User, deployment_id: int, action: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "POST", f"/api/deployments/{deployment_id}/{action}", {}, user.access_token)
        return result

    def inject(self, user: User, deployment_id: int, line: str, **meta: Any) -> int:
        answer = self.call("POST", f"/api/deployments/{deployment_id}/logs",
                           {"line": line, **meta}, user.access_token)
        return int(answer["seq"])


def sign_in(context: BrowserContext, user: User) -> None:
    """Make every page of ``context`` start signed in as ``user`` (tokens in localStorage)."""
    context.add_init_script(
        f"localStorage.setItem('refapp.access', {json.dumps(user.access_token)}); localStorage.setItem('refapp.refresh', {json.dumps(user.refresh_token)});"
    )


#: Records the page's uncaught script errors, so a broken page fails at once, with its error.
ERRORS_JS = """
window.__rooErrors = [];
window.addEventListener('error', (e) => window.__rooErrors.push(String(e.message || e.error)));
"""


def open_dashboard(page: Page, *, live: bool = False) -> None:
    """Load ``/`` and wait until the script has wired the page (and the live socket is open).

    An uncaught error in the page's script fails at once with that error, instead of after
    the wait for a page that will never be ready.
    """
    page.add_init_script(ERRORS_JS)
    page.goto("/")
    page.wait_for_function(
        "document.body && (document.body.dataset.ready === '1' || window.__rooErrors.length > 0)"
    )
    errors = page.evaluate("window.__rooErrors")
    if errors:
        raise AssertionError(f"the dashboard's script failed: {errors[0]}")
    if live:
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_selector("#ws-status[data-state='open']", state="attached")


#: Inject lines from inside the page and time each from the request to the line in the DOM.
#: Returns the milliseconds per line (null for a line not seen within the timeout).
TIME_LINES_JS = """
async ([deploymentId, count, timeoutMs, gapMs]) => {
  const panel = document.getElementById('log-panel');
  const waitFor = (id) => new Promise((resolve) => {
    const find = () => panel.querySelector(`[data-line-id="${id}"]`);
    const found = find();
    if (found) { resolve(found); return; }
    const observer = new MutationObserver(() => {
      const el = find();
      if (el) { observer.disconnect(); clearTimeout(timer); resolve(el); }
    });
    const timer = setTimeout(() => { observer.disconnect(); resolve(null); }, timeoutMs);
    observer.observe(panel, { childList: true });
  });
  const inject = (id, line) => fetch(`/api/deployments/${deploymentId}/logs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json',
               Authorization: 'Bearer ' + window.refapp.access },
    body: JSON.stringify({ line, id, client_ts: Date.now() }),
  });
  // the subscription is made when the socket opens: wait until a first line gets through
  let ready = false;
  for (let attempt = 0; attempt < 20 && !ready; attempt++) {
    const id = `warmup-${attempt}-${Math.random()}`;
    const seen = waitFor(id);
    await inject(id, 'warm-up');
    ready = (await seen) !== null;
  }
  if (!ready) return { ready: false, samples: [] };
  const samples = [];
  for (let i = 0; i < count; i++) {
    const id = `probe-${i}-${Math.random()}`;
    const seen = waitFor(id);
    const started = performance.now();
    await inject(id, `latency probe ${i}`);
    const el = await seen;
    samples.push(el === null ? null : parseFloat(el.dataset.renderedAt) - started);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return { ready: true, samples };
}
"""
