"""The session's collected results and verdicts, fed from test reports (also across xdist).

Workers attach what a test recorded to its report as the attribute ``roo_payload`` (a JSON
string: pytest serialises a report's attributes for xdist, and unlike ``user_properties`` it
does not end up in JUnit XML); the controller's store reads it back in
``pytest_runtest_logreport``. Other areas add top-level sections (the browser matrix).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import weakref
from pathlib import Path
from typing import Any

from pytest_roo import __version__

__all__ = ["PROPERTY", "REPORT_SCHEMA", "Store", "TestEntry", "get_store", "short_message",
           "write_atomic"]

#: the test report attribute that carries what a test recorded
PROPERTY = "roo_payload"
REPORT_SCHEMA = "pytest-roo/report/v1"


@dataclasses.dataclass
class TestEntry:
    """One test's results, verdicts, notes and outcome in the session report."""

    nodeid: str
    #: passed, failed, error, skipped, interrupted; "" until a phase reported
    outcome: str = ""
    duration: float = 0.0
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    verdicts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    #: why a test was skipped, or the first line of its failure
    message: str = ""
    #: the phases (setup, call, teardown) that reported
    phases: list[str] = dataclasses.field(default_factory=list)

    @property
    def final_outcome(self) -> str:
        """The outcome to show: a test whose teardown never reported did not finish, whatever
        its setup said (an interrupt under xdist leaves only the setup report)."""
        if self.outcome in ("failed", "error", "skipped", "interrupted"):
            return self.outcome
        if "teardown" not in self.phases:
            return "interrupted"
        return self.outcome or "passed"

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain data, with its final outcome."""
        data = dataclasses.asdict(self)
        data["outcome"] = self.final_outcome
        return data


_OUTCOME_RANK = {"": -1, "passed": 0, "skipped": 1, "interrupted": 2, "failed": 3, "error": 4}


class Store:
    """Everything the session report shows, in the order tests reported."""

    def __init__(self) -> None:
        self.tests: dict[str, TestEntry] = {}
        self.sections: dict[str, Any] = {}

    def entry(self, nodeid: str) -> TestEntry:
        """The entry of ``nodeid``, created on first use."""
        if nodeid not in self.tests:
            self.tests[nodeid] = TestEntry(nodeid)
        return self.tests[nodeid]

    def add_payload(self, nodeid: str, payload: str | dict[str, Any]) -> None:
        """Add a test's recorded payload (results, verdicts, notes), as JSON text or data."""
        data = json.loads(payload) if isinstance(payload, str) else payload
        entry = self.entry(nodeid)
        entry.results.extend(data.get("results", []))
        entry.verdicts.extend(data.get("verdicts", []))
        entry.notes.extend(data.get("notes", []))

    def set_outcome(
        self, nodeid: str, when: str, outcome: str, duration: float, message: str = ""
    ) -> None:
        """Every test gets an entry, also those that recorded nothing (a skipped suite says why)."""
        entry = self.entry(nodeid)
        if when not in entry.phases:
            entry.phases.append(when)
        if outcome == "failed" and when != "call":
            outcome = "error"
        if _OUTCOME_RANK.get(outcome, 0) > _OUTCOME_RANK.get(entry.outcome, 0):
            entry.outcome = outcome
            entry.message = message
        entry.duration += duration

    def add_section(self, name: str, data: Any) -> None:
        """Put ``data`` (JSON-ready) into the report under ``sections[name]``."""
        self.sections[name] = data

    @property
    def verdict_counts(self) -> tuple[int, int]:
        """(met, not met): an inconclusive verdict is not met."""
        passed = sum(1 for e in self.tests.values() for v in e.verdicts if v["passed"])
        total = sum(len(e.verdicts) for e in self.tests.values())
        return passed, total - passed

    @property
    def inconclusive_count(self) -> int:
        """How many verdicts of the session are INCONCLUSIVE."""
        return sum(1 for e in self.tests.values() for v in e.verdicts
                   if v.get("status") == "inconclusive")

    def to_dict(self, settings: dict[str, Any] | None = None, exit_status: int | None = None) -> dict[str, Any]:
        """The session report as plain data (schema, counts, settings, every test)."""
        passed, failed = self.verdict_counts
        tests = [entry.to_dict() for entry in self.tests.values()]
        return {
            "schema": REPORT_SCHEMA,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "pytest_roo_version": __version__,
            "exit_status": exit_status,
            "settings": settings or {},
            "summary": {
                "tests": len(tests),
                "results": sum(len(t["results"]) for t in tests),
                "verdicts": passed + failed,
                "verdicts_passed": passed,
                "verdicts_failed": failed - self.inconclusive_count,
                "verdicts_inconclusive": self.inconclusive_count,
            },
            "tests": tests,
            "sections": self.sections,
        }

    def write_json(self, path: Any, **kwargs: Any) -> None:
        """Write :meth:`to_dict` as JSON to ``path`` atomically."""
        write_atomic(path, json.dumps(self.to_dict(**kwargs), indent=2) + "\n")


def write_atomic(target: Any, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file beside it (never a half file)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def short_message(report: Any) -> str:
    """The skip reason, or the first line of the failure, of a report."""
    if report.passed:
        return ""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or longrepr or "")
    return (text.strip().splitlines() or [""])[0][:300]


_stores: weakref.WeakKeyDictionary[Any, Store] = weakref.WeakKeyDictionary()


def get_store(config: Any) -> Store:
    """The session store of this pytest config (created on first use)."""
    store = _stores.get(config)
    if store is None:
        store = _stores[config] = Store()
    return store
