"""Criterion: the dashboard recovers its live-log WebSocket after the server side drops it: it
reconnects, resubscribes, and lines injected afterwards show up. The connection is dropped by
closing its server side (close code 1012, service restart) through Playwright's WebSocket
routing, three times per cell; the time from drop to the socket open again is recorded."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from pytest_roo.results.metrics import LoadResult
from suites.e2e.dashboard import Api, open_dashboard, sign_in

DROPS = 3


@pytest.mark.slo("recovery.max < 5s")
def test_live_logs_recover_after_server_drop(
    roo_context: Any, roo_page: Any, api: Api, roo_record: Any
) -> None:
    user = api.new_user("recovery")
    deployment = api.create_deployment(user, "recovery")
    sockets: list[Any] = []

    def route(ws: Any) -> None:
        sockets.append((ws, ws.connect_to_server()))

    roo_page.route_web_socket("**/ws/logs*", route)
    sign_in(roo_context, user)
    open_dashboard(roo_page, live=True)
    recovery: list[float] = []
    for drop in range(1, DROPS + 1):
        page_side, server_side = sockets[-1]
        started = time.perf_counter()
        server_side.close(code=1012, reason="service restart")
        page_side.close(code=1012, reason="service restart")
        roo_page.wait_for_function(f"window.refapp.reconnects >= {drop}")
        roo_page.wait_for_selector("#ws-status[data-state='open']", state="attached")
        recovery.append(time.perf_counter() - started)
        assert len(sockets) == drop + 1, "the page did not open a new socket"
        line_id = f"after-drop-{drop}"
        # the page resubscribes on open; the line must come through the new socket
        deadline = time.monotonic() + 5
        while roo_page.locator(f"[data-line-id='{line_id}']").count() == 0:
            assert time.monotonic() < deadline, f"no live line after drop {drop}"
            api.inject(user, deployment["id"], f"line after drop {drop}", id=line_id)
            roo_page.wait_for_timeout(200)
    roo_record(LoadResult.from_samples("ws recovery", recovery, metric="recovery"))


#: The network the browser reaches the system through (pytest_roo.faults.PROFILES): uneven
#: delay and capped rates of a busy Wi-Fi, without the profile's random resets (see the test).
LOSSY = "lossy-wifi"
#: How long a reset page may take to reconnect before it counts as not recovered.
RECOVERY_WAIT_S = 10


def lossy_network(proxy: Any) -> list[Any]:
    """Put :data:`LOSSY`'s delay, jitter and rate caps on ``proxy``, not its random resets (the
    toxics' handles). Derived from the profile, so a change of its figures applies here too."""
    from pytest_roo.faults.profiles import get_profile

    profile = dataclasses.replace(get_profile(LOSSY), reset_share=0.0)
    return [proxy.add(type_, stream=stream, toxicity=toxicity,
                      name=f"{profile.name}_{type_}_{stream}", **attributes)
            for type_, stream, toxicity, attributes in profile.toxics()]


@pytest.mark.slo("recovery.max < 5s")
def test_live_logs_recover_through_a_lossy_network(
    roo_new_context: Any, api: Api, fault_proxy: Any, target: Any, roo_record: Any
) -> None:
    """The dashboard is served through a fault proxy (``target.through(proxy)``, every engine
    of the matrix) that takes on lossy-wifi's delay (40 ms +/- 20 ms round trip) and rate caps
    once the page is up; its live-log WebSocket is reset (TCP RST, a ``reset_peer`` toxic at
    the next frame the server sends) three times. Each time the page reconnects through the
    same network, resubscribes, and a line injected afterwards shows up. ``recovery``: the
    reset -> the socket open again, the page's back-off (200 ms and up) included.

    The subject is the page's reconnect after a reset it did not choose, so the resets are
    this test's own, three per cell, at known moments. The full lossy-wifi profile also
    resets 5 % of all connections after a 3 s stall, at random: a reconnect that draws it
    waits 3 s, then backs off again and may draw it again, so the maximum over three resets
    measured the profile's dice (7.98 s once in Chromium, whose other runs took 0.35 to
    1.43 s), not the page, and no fixed limit would be both stable and tight. That random stall
    is what ``suites/network`` judges, with limits derived from it (``ack_limit_ms``). Without
    it the recovery is bounded by the back-off and a few round trips, well under 5 s, while a
    page that does not reconnect (fault ``dashboard_no_reconnect``) is recorded as the 10 s it
    was waited for and fails (tests/suites/test_resilience_suites.py)."""
    proxy = fault_proxy(target.url())
    lossy = target.through(proxy)
    user = api.new_user("lossy")
    deployment = api.create_deployment(user, "lossy")
    context = roo_new_context(base_url=lossy.base_url)
    sign_in(context, user)
    page = context.new_page()
    open_dashboard(page, live=True)
    # the network turns lossy once the page is loaded: the page load is not what this test is
    # about (and the bandwidth cap would only make it slower), the socket's recovery is
    lossy_network(proxy)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    recovery: list[float] = []
    unrecovered = 0
    for drop in range(1, DROPS + 1):
        with proxy.fault("reset_peer", timeout=0, name="drop"):
            started = time.perf_counter()
            # the next frame the server sends the page (this line's) resets its socket
            api.inject(user, deployment["id"], f"line that resets {drop}", id=f"reset-{drop}")
            page.wait_for_selector("#ws-status:not([data-state='open'])", state="attached")
        try:
            page.wait_for_selector("#ws-status[data-state='open']", state="attached",
                                   timeout=RECOVERY_WAIT_S * 1000)
        except PlaywrightTimeout:
            # not recovered: the time waited is the sample (a lower bound), so the criterion
            # fails with a figure instead of the test ending on a timeout
            recovery.append(time.perf_counter() - started)
            unrecovered += 1
            break
        recovery.append(time.perf_counter() - started)
        line_id = f"through-lossy-{drop}"
        deadline = time.monotonic() + 10
        while page.locator(f"[data-line-id='{line_id}']").count() == 0:
            assert time.monotonic() < deadline, f"no live line after reset {drop}"
            api.inject(user, deployment["id"], f"line after reset {drop}", id=line_id)
            page.wait_for_timeout(300)
    roo_record(LoadResult.from_samples("ws recovery through lossy-wifi", recovery,
                                       metric="recovery", errors={"timeout": unrecovered}))
