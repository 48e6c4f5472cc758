"""``target.through(proxy)``: the system under test reached through a fault proxy, by HTTP
clients, WebSocket clients and every browser engine of the matrix."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from pytest_roo.fixtures.faults import FaultProxyFactory
from pytest_roo.target import Target, TargetError
from tests.integration.faults.faults_servers import LoopServer

pytestmark = pytest.mark.integration


def get(url: str, timeout: float = 5.0) -> tuple[bytes, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body, time.perf_counter() - started


@pytest.fixture
def app(http: LoopServer) -> Target:
    return Target(f"http://127.0.0.1:{http.port}", info={"region": "local"})


def test_the_view_uses_the_proxy_and_keeps_the_rest(
    app: Target, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(app.url())
    view = app.through(proxy)
    assert view.base_url == f"http://127.0.0.1:{proxy.port}"
    assert view.ws_url("/ws") == f"ws://127.0.0.1:{proxy.port}/ws"
    assert view.info["region"] == "local" and view.alive()
    assert get(view.url("/hello"))[0] == b"hello"
    with proxy.fault("latency", latency=300):
        assert get(view.url("/hello"))[1] >= 0.3  # the toxic's delay is on the path
    proxy.down()
    with pytest.raises(urllib.error.URLError):
        get(view.url("/hello"), timeout=2)
    assert get(app.url("/hello"))[0] == b"hello"
    view.stop()  # owns nothing: the system goes on
    assert get(app.url("/hello"))[0] == b"hello" and not app.stopped


def test_a_proxy_to_something_else_is_refused(
    app: Target, http: LoopServer, fault_proxy: FaultProxyFactory
) -> None:
    other = fault_proxy(f"127.0.0.1:{http.port + 1 if http.port < 65535 else 1}")
    with pytest.raises(TargetError, match=r"the proxy forwards to 127\.0\.0\.1:\d+, not to this "
                                          r"target \('http://127\.0\.0\.1:\d+'\)"):
        app.through(other)


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright: pip install -e '.[browser]'")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_browsers_go_through_the_proxy(
    engine: str, app: Target, fault_proxy: FaultProxyFactory, playwright_instance: object
) -> None:
    """Any engine follows the view's URLs (unlike CDP throttling, which only Chromium has):
    a blackholed proxy makes the page load time out, a latency toxic slows it."""
    from pytest_roo.browser.engines import discover

    found = discover(engine)
    if not found.available:
        pytest.skip(found.skip_reason)
    proxy = fault_proxy(app.url())
    view = app.through(proxy)
    browser = getattr(playwright_instance, engine).launch(**found.launch_args())
    try:
        context = browser.new_context(base_url=view.base_url)
        page = context.new_page()
        assert page.goto("/hello") is not None and "hello" in page.content()
        with proxy.fault("latency", latency=400):
            started = time.perf_counter()
            page.goto("/hello?slow")
            assert time.perf_counter() - started >= 0.4
        with proxy.fault("timeout", timeout=0), pytest.raises(Exception, match=r"[Tt]imeout"):
            page.goto("/hello?blackholed", timeout=1500)
        context.close()
    finally:
        browser.close()
