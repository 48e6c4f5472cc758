"""Browser bench: what a context's Playwright trace costs per run, by engine and ``--roo-trace``.

    .venv/bin/python bench/browser_trace.py [--rounds 3] [--runs 6] [--engines chromium,firefox]

A form page served on 127.0.0.1 (a thread of this process, bench/_signin.py) is driven the way
the auth suite drives the dashboard: a fresh context per run, a page, ``goto``, two ``fill``, a
``click``, a wait for the answer in the DOM, close. Each round runs ``--runs`` of them per trace
mode, the modes alternating (off, dom, full) so the machine's load falls on all of them; the
medians of the rounds' per-run seconds are printed with the ratio to ``off``. The machine is
usually shared: compare the figures of one invocation, not across runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# bench/http.py would shadow the standard library's http package: import from the root
sys.path[0] = str(HERE.parent)

from bench._signin import each_engine, serve, sign_in  # noqa: E402
from pytest_roo.browser.contexts import ContextFactory  # noqa: E402

MODES = ("off", "dom", "full")


def one_run(factory: ContextFactory, url: str) -> None:
    sign_in(factory(), url, "someone")
    factory.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--engines", default="chromium,firefox")
    args = parser.parse_args()

    with serve() as url:
        def bench(browser: Any) -> str:
            one_run(ContextFactory(browser, {}, trace="off"), url)  # warm the engine
            per_run: dict[str, list[float]] = {mode: [] for mode in MODES}
            for _ in range(args.rounds):
                for mode in MODES:
                    factory = ContextFactory(browser, {}, title="bench", trace=mode)
                    start = time.perf_counter()
                    for _ in range(args.runs):
                        one_run(factory, url)
                    per_run[mode].append((time.perf_counter() - start) / args.runs)
            base = statistics.median(per_run["off"])
            return ", ".join(f"{mode} {statistics.median(per_run[mode]):.2f} s "
                             f"({statistics.median(per_run[mode]) / base:.2f}x)" for mode in MODES)

        each_engine(args.engines, f"{args.rounds} rounds x {args.runs} runs per mode; seconds per "
                    "run (median of rounds)", bench)


if __name__ == "__main__":
    main()
