"""The browser benches' sign-in page and the flow they drive on it, the way the auth suite
drives the dashboard: a page, ``goto``, two ``fill``, a ``click``, a wait for the answer in the
DOM. The page is served on 127.0.0.1 by a thread of the bench's process; its button answers at
once in the page, or (``answer_delay``) from the server after that many seconds, like a
password hash.
"""

from __future__ import annotations

import contextlib

# bench/http.py would shadow the standard library's http package: the benches put the
# repository's root first on sys.path before importing this module
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench._common import load_average, stamp

_LOCAL = b"""document.getElementById('out').textContent=
  document.getElementById('username').value"""
_FETCH = b"""fetch('/signin').then(r => r.text()).then(t =>
  document.getElementById('out').textContent = document.getElementById('username').value + t)"""


def page(answer_delay: float | None) -> bytes:
    """The form; its button writes the user name (and `` signed in`` from the server)."""
    script = _LOCAL if answer_delay is None else _FETCH
    return (b"<!doctype html><html><body>\n<input id=username><input id=password type=password>"
            b'\n<button id=go onclick="' + script + b'">go</button><div id=out></div>'
            b"</body></html>")


@contextlib.contextmanager
def serve(answer_delay: float | None = None) -> Iterator[str]:
    """The page's URL while a thread serves it (``/signin`` answers after ``answer_delay``)."""
    body = page(answer_delay)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = body
            if self.path == "/signin" and answer_delay is not None:
                time.sleep(answer_delay)  # the server's own work, e.g. a password hash
                answer = b" signed in"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def sign_in(context: Any, url: str, expect: str) -> None:
    """The flow on a fresh context: the form filled, the button clicked, ``expect`` waited for."""
    tab = context.new_page()
    tab.goto(url)
    tab.fill("#username", "someone")
    tab.fill("#password", "not-a-secret")
    tab.click("#go")
    tab.wait_for_selector(f"#out:has-text('{expect}')")


def each_engine(engines: str, header: str, bench: Callable[[Any], str]) -> None:
    """Print the stamp and ``header``, then for each engine (comma-separated names) launch the
    Debian browser, print ``bench(browser)``'s line, close it; a missing engine says why."""
    from playwright.sync_api import sync_playwright

    from pytest_roo.browser.engines import discover

    print(f"# {stamp()}, {load_average()}")
    print(f"# {header}")
    with sync_playwright() as playwright:
        for name in engines.split(","):
            engine = discover(name)
            if not engine.available:
                print(f"{name}: skipped ({engine.reason})")
                continue
            browser = getattr(playwright, name).launch(**engine.launch_args())
            try:
                line = bench(browser)
            finally:
                browser.close()
            print(f"{name:9} {line}")
