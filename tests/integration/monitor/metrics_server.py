"""A /metrics endpoint in Prometheus text format on 127.0.0.1, for the monitor's tests.

Prints ``PORT <n>``; serves ``/metrics`` where ``scrapes_total`` counts the scrapes served
(by label ``code``: 200 for each, and a fixed 5 for 500) and ``fake_memory_bytes`` is a gauge
of 1000 + 10 x scrapes. Exits after the given seconds (default 60).
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRAPES = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        global SCRAPES
        if self.path != "/metrics":
            self.send_error(404)
            return
        SCRAPES += 1
        body = (
            "# HELP scrapes_total Scrapes served.\n# TYPE scrapes_total counter\n"
            f'scrapes_total{{code="200"}} {SCRAPES}\nscrapes_total{{code="500"}} 5\n'
            "# TYPE fake_memory_bytes gauge\n"
            f"fake_memory_bytes {1000 + 10 * SCRAPES}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Timer(seconds, server.shutdown).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
