"""``@pytest.mark.slo("success_rate >= 95%", iterations=N, pool="matrix")``: one rate over the matrix.

A flow's success rate is a property of the system; the browser matrix asks in addition that it
works in every engine and device. Showing ">= 95 %" at 95 % confidence takes 59 clean runs; with
``pool="matrix"`` those runs are shared by the cells: ``iterations=N`` is the size of the pool,
each of its C cells runs ceil(N / C) iterations (59 over Chromium and Firefox: 30 each; over
one engine: 59), and the rate criteria are judged once, over all of them, as the session's entry
``<test> [pooled over C cells]`` (terminal table, JSON, HTML, step summary; the session fails
when it is not PASS, like ``--roo-matrix-min-success``). Every failure counts in the pool, so a
flow that breaks in one engine only still pulls the pooled rate down; a cell whose own runs
already prove the rate violated (its own verdict FAIL) fails its test as well. Other criteria
(the iterations' duration, say) are judged per cell as usual.

The pooled sample is honest only if every cell runs the same flow against the same system:
that is what a matrix test is. Under xdist the cells may run in different workers; the pooled
verdict is made where the reports meet (the controller).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_roo.report.store import Store
    from pytest_roo.results.verdict import Verdict

__all__ = ["RATE_STATS", "PooledVerdicts", "is_rate", "pool_key", "pool_size"]

RATE_STATS = ("success_rate", "error_rate")
_SIZES_KEY = pytest.StashKey[dict[str, int]]()


def is_rate(criterion: str) -> bool:
    """Whether ``criterion`` is judged on a rate (the criteria a pool shares)."""
    from pytest_roo import slo

    return slo.parse(criterion).stat in RATE_STATS


def pool_key(item: pytest.Item) -> str | None:
    """The test id without its matrix cell: the same for every cell of one test (and one set
    of its other parameters); None for a test outside the matrix."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or callspec.params.get("roo_cell") is None:
        return None
    cell = callspec.params["roo_cell"]
    base = item.nodeid.split("[", 1)[0]
    rest = "-".join(part for part in str(callspec.id).split(str(cell.id), 1) if part).strip("-")
    return f"{base}[{rest}]" if rest else base


def pool_size(item: pytest.Item) -> int:
    """How many cells of the item's pool this session runs (cells whose engine is available)."""
    config = item.config
    sizes = config.stash.get(_SIZES_KEY, None)
    if sizes is None:
        sizes = config.stash[_SIZES_KEY] = {}
        for other in item.session.items:
            key = pool_key(other)
            if key is None:
                continue
            engine = getattr(other.callspec.params["roo_cell"], "engine", None)  # type: ignore[attr-defined]
            if getattr(engine, "available", False):
                sizes[key] = sizes.get(key, 0) + 1
    return max(sizes.get(pool_key(item) or "", 1), 1)


def cell_verdicts(
    verdicts: Sequence[Verdict], *, stopped: bool = False
) -> tuple[list[Verdict], list[str]]:
    """What a cell of a pool keeps of its own verdicts: every non-rate verdict, and a rate
    verdict only when it is FAIL (the cell's own runs already prove the rate violated) or the
    cell ``stopped`` early (its failures alone mean the pool can no longer PASS). The notes say
    where the other rate criteria are judged."""
    kept: list[Verdict] = []
    moved: list[str] = []
    for verdict in verdicts:
        if is_rate(verdict.criterion) and verdict.status != "fail" and not stopped:
            moved.append(verdict.criterion)
        else:
            kept.append(verdict)
    notes = [f"{criterion} is judged over the whole matrix (pool='matrix'): see the pooled entry"
             for criterion in moved]
    return kept, notes


def pooled_entries(store: Store, confidence: float) -> dict[str, tuple[Any, list[Verdict]]]:
    """``{entry name: (pooled LoadResult, verdicts)}`` for every pool in the store."""
    from pytest_roo import slo
    from pytest_roo.results.metrics import LoadResult

    groups: dict[str, dict[str, Any]] = {}
    for nodeid, entry in store.tests.items():
        for data in entry.results:
            pool = (data.get("info") or {}).get("pool")
            if not pool:
                continue
            group = groups.setdefault(pool["key"], {"cells": [], "results": [],
                                                    "criteria": pool["criteria"]})
            group["cells"].append(nodeid)
            group["results"].append(LoadResult.from_dict(data))
    entries: dict[str, tuple[Any, list[Verdict]]] = {}
    for key, group in groups.items():
        merged: LoadResult = group["results"][0]
        for other in group["results"][1:]:
            merged = merged.merge(other)
        merged.name = "iterations"
        merged.info = {"kind": "iterations", "pooled": group["cells"]}
        count = len(group["cells"])
        name = f"{key} [pooled over {count} cell{'s' if count != 1 else ''}]"
        entries[name] = (merged, slo.evaluate(merged, group["criteria"], confidence))
    return entries


class PooledVerdicts:
    """Judges every pool when the session ends (on the xdist controller: over every worker's
    cells) and puts it into the session report as an entry of its own."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Judge every pool over its cells' results (on the controller only) and add it to the
        session report as an entry of its own; a pool that fails makes the session fail."""
        if hasattr(self.config, "workerinput"):
            return
        from pytest_roo.plugin.options import get_settings
        from pytest_roo.report.store import get_store

        store = get_store(self.config)
        entries = pooled_entries(store, get_settings(self.config).confidence)
        for name, (result, verdicts) in entries.items():
            store.add_payload(name, {"results": [result.to_dict()],
                                     "verdicts": [v.to_dict() for v in verdicts]})
            passed = all(v.passed for v in verdicts)
            reason = next((v.reason for v in verdicts if not v.passed and v.reason), "")
            for when in ("setup", "call", "teardown"):
                failed = not passed and when == "call"
                store.set_outcome(name, when, "failed" if failed else "passed", 0.0,
                                  reason or "pooled criterion not met" if failed else "")
            if not passed and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
