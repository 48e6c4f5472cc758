"""Browser bench: seconds per run of a flow, one at a time or K at a time on one browser
(``@pytest.mark.slo(..., concurrency=K)``, :func:`pytest_roo.browser.interleave.run_interleaved`).

    .venv/bin/python bench/browser_concurrency.py [--rounds 3] [--runs 12] [--engines chromium,firefox]

A sign-in page served on 127.0.0.1 (a thread of this process, bench/_signin.py; its answer comes
after 40 ms, about a password hash) is driven the way the auth suite drives the dashboard: a
fresh traced context per run, a page, ``goto``, two ``fill``, a ``click``, a wait for the answer
in the DOM, close. Each round runs ``--runs`` of them per concurrency (1, 2, 3, 4), alternating
so that the machine's load falls on all of them; the medians of the rounds' seconds per run are
printed with the ratio to one at a time. The machine is usually shared: compare the figures of
one invocation.
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
from pytest_roo.browser.interleave import run_interleaved  # noqa: E402

LEVELS = (1, 2, 3, 4)
ANSWER_DELAY_S = 0.04


def one_run(factory: ContextFactory, url: str) -> None:
    context = factory()
    sign_in(context, url, "someone signed in")
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

    with serve(ANSWER_DELAY_S) as url:
        def bench(browser: Any) -> str:
            factory = ContextFactory(browser, {}, title="bench", trace="dom")
            one_run(factory, url)  # warm the engine
            per_run: dict[int, list[float]] = {level: [] for level in LEVELS}
            for _ in range(args.rounds):
                for level in LEVELS:
                    start = time.perf_counter()
                    runs_at_a_time(factory, url, args.runs, level)
                    per_run[level].append((time.perf_counter() - start) / args.runs)
            factory.close_all()
            base = statistics.median(per_run[1])
            return ", ".join(f"{level} at a time {statistics.median(per_run[level]):.2f} s "
                             f"({statistics.median(per_run[level]) / base:.2f}x)"
                             for level in LEVELS)

        each_engine(args.engines, f"{args.rounds} rounds x {args.runs} runs per level; seconds "
                    "per run (median of rounds), traced contexts (--roo-trace dom)", bench)


if __name__ == "__main__":
    main()
