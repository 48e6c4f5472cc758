"""Browser bench: what a context's Playwright trace costs per run, by engine and ``--roo-trace``.

    .venv/bin/python bench/browser_trace.py [--rounds 3] [--runs 6] [--engines chromium,firefox]

A form page served on 127.0.0.1 (a thread of this process) is driven the way the auth suite
drives the dashboard: a fresh context per run, a page, ``goto``, two ``fill``, a ``click``, a
wait for the answer in the DOM, close. Each round runs ``--runs`` of them per trace mode, the
modes alternating (off, dom, full) so the machine's load falls on all of them; the medians of the
rounds' per-run seconds are printed with the ratio to ``off``. The machine is usually shared:
compare the figures of one invocation, not across runs.
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

MODES = ("off", "dom", "full")
PAGE = b"""<!doctype html><html><body>
<input id=username><input id=password type=password>
<button id=go onclick="document.getElementById('out').textContent=
  document.getElementById('username').value">go</button><div id=out></div></body></html>"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


def one_run(factory: ContextFactory, url: str) -> None:
    context = factory()
    page = context.new_page()
    page.goto(url)
    page.fill("#username", "someone")
    page.fill("#password", "not-a-secret")
    page.click("#go")
    page.wait_for_selector("#out:has-text('someone')")
    factory.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--engines", default="chromium,firefox")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"# {stamp()}, {load_average()}")
    print(f"# {args.rounds} rounds x {args.runs} runs per mode; seconds per run (median of rounds)")
    try:
        with sync_playwright() as playwright:
            for name in args.engines.split(","):
                engine = discover(name)
                if not engine.available:
                    print(f"{name}: skipped ({engine.reason})")
                    continue
                browser = getattr(playwright, name).launch(**engine.launch_args())
                try:
                    one_run(ContextFactory(browser, {}, trace="off"), url)  # warm the engine
                    per_run: dict[str, list[float]] = {mode: [] for mode in MODES}
                    for _ in range(args.rounds):
                        for mode in MODES:
                            factory = ContextFactory(browser, {}, title="bench", trace=mode)
                            start = time.perf_counter()
                            for _ in range(args.runs):
                                one_run(factory, url)
                            per_run[mode].append((time.perf_counter() - start) / args.runs)
                finally:
                    browser.close()
                base = statistics.median(per_run["off"])
                cells = ", ".join(
                    f"{mode} {statistics.median(per_run[mode]):.2f} s "
                    f"({statistics.median(per_run[mode]) / base:.2f}x)" for mode in MODES
                )
                print(f"{name:9} {cells}")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
