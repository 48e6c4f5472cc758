"""Browser bench: seconds per run of a flow, one at a time or K at a time on one browser
(``@pytest.mark.slo(..., concurrency=K)``, :func:`pytest_roo.browser.interleave.run_interleaved`).

    .venv/bin/python bench/browser_concurrency.py [--rounds 3] [--runs 12] [--engines chromium,firefox]

A sign-in page served on 127.0.0.1 (a thread of this process; its answer comes after 40 ms, about
a password hash) is driven the way the auth suite drives the dashboard: a fresh traced context
per run, a page, ``goto``, two ``fill``, a ``click``, a wait for the answer in the DOM, close.
Each round runs ``--runs`` of them per concurrency (1, 2, 3, 4), alternating so that the
machine's load falls on all of them; the medians of the rounds' seconds per run are printed with
the ratio to one at a time. The machine is usually shared: compare the figures of one invocation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/http.py would shadow the standard library's http package: import from the root
sys.path[0] = str(HERE.parent)
import http.server  # noqa: E402

from bench._common import load_average, stamp  # noqa: E402
from pytest_roo.browser.contexts import ContextFactory  # noqa: E402
from pytest_roo.browser.engines import discover  # noqa: E402
from pytest_roo.browser.interleave import run_interleaved  # noqa: E402

LEVELS = (1, 2, 3, 4)
ANSWER_DELAY_S = 0.04
PAGE = b"""<!doctype html><html><body>
<input id=username><input id=password type=password>
<button id=go onclick="fetch('/signin').then(r => r.text()).then(t =>
  document.getElementById('out').textContent = document.getElementById('username').value + t)"
>go</button><div id=out></div></body></html>"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE
        if self.path == "/signin":
            time.sleep(ANSWER_DELAY_S)  # the server's own work, e.g. a password hash
            body = b" signed in"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def one_run(factory: ContextFactory, url: str) -> None:
    context = factory()
    page = context.new_page()
    page.goto(url)
    page.fill("#username", "someone")
    page.fill("#password", "not-a-secret")
    page.click("#go")
    page.wait_for_selector("#out:has-text('someone signed in')")
    context.close()


def runs_at_a_time(factory: ContextFactory, url: str, runs: int, level: int) -> None:
    left = [runs]

    def lane() -> None:
        while left[0] > 0:
            left[0] -= 1
            one_run(factory, url)

    if level == 1:
        lane()
    else:
        run_interleaved(factory.browser, [lane] * level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--engines", default="chromium,firefox")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"# {stamp()}, {load_average()}")
    print(f"# {args.rounds} rounds x {args.runs} runs per level; seconds per run (median of "
          "rounds), traced contexts (--roo-trace dom)")
    try:
        with sync_playwright() as playwright:
            for name in args.engines.split(","):
                engine = discover(name)
                if not engine.available:
                    print(f"{name}: skipped ({engine.reason})")
                    continue
                browser = getattr(playwright, name).launch(**engine.launch_args())
                try:
                    factory = ContextFactory(browser, {}, title="bench", trace="dom")
                    one_run(factory, url)  # warm the engine
                    per_run: dict[int, list[float]] = {level: [] for level in LEVELS}
                    for _ in range(args.rounds):
                        for level in LEVELS:
                            start = time.perf_counter()
                            runs_at_a_time(factory, url, args.runs, level)
                            per_run[level].append((time.perf_counter() - start) / args.runs)
                    factory.close_all()
                finally:
                    browser.close()
                base = statistics.median(per_run[1])
                cells = ", ".join(
                    f"{level} at a time {statistics.median(per_run[level]):.2f} s "
                    f"({statistics.median(per_run[level]) / base:.2f}x)" for level in LEVELS
                )
                print(f"{name:9} {cells}")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
