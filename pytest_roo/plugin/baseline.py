"""The regression gate wired into pytest: ``--roo-baseline-save`` and ``--roo-baseline-compare``.

Comparing happens when a test body ends (on the xdist worker that ran it), so the regression
verdicts travel with the test's other verdicts into the table, JSON, JUnit and HTML reports; a
FAIL fails the test, an INCONCLUSIVE one is reported without failing it (a noisy difference is
not a regression). A result the baseline does not hold is named in a note and in the terminal
summary, never passed silently. Saving happens once, on the controller, at the end of the
session, from the session's report store.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_roo.baseline.store import Baseline, BaselineError, keyed, load, save
from pytest_roo.plugin.options import get_settings
from pytest_roo.plugin.recording import get_recording
from pytest_roo.report.store import get_store

__all__ = ["NO_BASELINE", "BaselineGate"]

#: the start of the note a result without a baseline gets
NO_BASELINE = "no baseline for result"


class BaselineGate:
    """Registered when either baseline option is given."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings = get_settings(config)
        self.baseline: Baseline | None = None
        self.saved: Baseline | None = None
        self.save_problem = ""
        if self.settings.baseline_compare is not None:
            try:
                self.baseline = load(self.settings.baseline_dir, self.settings.baseline_compare)
            except BaselineError as exc:
                raise pytest.UsageError(f"pytest-roo: --roo-baseline-compare: {exc}") from None
        # (Settings.validate refused a missing baseline already; this catches one removed since)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """Compare the results the test recorded with the baseline once its body ends; a regression
        judged FAIL fails the test with :class:`~pytest_roo.slo.SloFailure` (when the body failed,
        the comparison is still shown in the reports)."""
        __tracebackhide__ = True
        try:
            outcome = yield
        except BaseException:
            if self.baseline is not None:
                self._compare(item)  # shown in the reports; the test fails for its own reason
            raise
        if self.baseline is not None:
            failed = [v for v in self._compare(item) if v.status == "fail"]
            if failed:
                from pytest_roo.slo import SloFailure

                raise SloFailure(failed, extra=f"regressions against baseline "
                                 f"{self.baseline.name!r} ({self.baseline.created_at})")
        return outcome

    def _compare(self, item: pytest.Item) -> list[Any]:
        from pytest_roo.baseline import DEFAULT_RULES, compare
        from pytest_roo.results.metrics import LoadResult

        assert self.baseline is not None
        recording = get_recording(item)
        rules = self.settings.regression or DEFAULT_RULES
        verdicts: list[Any] = []
        current = keyed({"name": r.name} for r in recording.results)
        for key, result in zip(current, recording.results, strict=True):
            saved = self.baseline.result(item.nodeid, key)
            if saved is None:
                note = (f"{NO_BASELINE} {key!r} in baseline {self.baseline.name!r}: not "
                        "compared")
                if note not in recording.notes:
                    recording.notes.append(note)
                continue
            base = LoadResult.from_dict(saved)
            judged = compare(result, base, rules, confidence=self.settings.confidence,
                             baseline_name=self.baseline.name)
            result.info["baseline"] = _overlay(self.baseline, saved)
            recording.add_verdicts(result, judged)
            verdicts.extend(judged)
        return verdicts

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Save the session's results as the baseline named by ``--roo-baseline-save`` (on the
        controller only); a baseline that cannot be written makes the run an internal error."""
        name = self.settings.baseline_save
        if name is None or hasattr(self.config, "workerinput"):
            return
        from pytest_roo.report.html import host_facts

        store = get_store(self.config)
        tests = {nodeid: [_without_overlay(r) for r in entry.results]
                 for nodeid, entry in store.tests.items()}
        try:
            self.saved = save(self.settings.baseline_dir, name, tests,
                              settings=self.settings.public(), host=host_facts())
        except BaselineError as exc:
            self.save_problem = str(exc)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The ``pytest-roo: baseline`` section: what was compared against, the results without a
        baseline, what was saved (or why it could not be)."""
        lines: list[str] = []
        if self.baseline is not None:
            missing = [f"  {nodeid}: {note}" for nodeid, entry in get_store(self.config).tests.items()
                       for note in entry.notes if note.startswith(NO_BASELINE)]
            lines.append(f"compared against baseline {self.baseline.name!r} "
                         f"({self.baseline.path}, saved {self.baseline.created_at})")
            if missing:
                lines.append(f"{len(missing)} result(s) without a baseline, not compared:")
                lines.extend(missing)
        if self.saved is not None:
            lines.append(f"saved baseline {self.saved.name!r}: {self.saved.result_count} "
                         f"result(s) of {len(self.saved.results)} test(s) in {self.saved.path}")
        if self.save_problem:
            lines.append(f"could not save the baseline: {self.save_problem}")
        if lines:
            terminalreporter.write_sep("-", "pytest-roo: baseline")
            for line in lines:
                terminalreporter.write_line(line, red=bool(self.save_problem))


def _overlay(baseline: Baseline, saved: Any) -> dict[str, Any]:
    """What the HTML report draws of the baseline beside the current run."""
    primary = saved.get("primary")
    metrics = saved.get("metrics") or {}
    return {
        "name": baseline.name,
        "created_at": baseline.created_at,
        "primary": primary,
        "metric": metrics.get(primary) if primary else None,
        "timeline": saved.get("timeline") or [],
        "throughput": saved.get("throughput"),
        "error_rate": saved.get("error_rate"),
    }


def _without_overlay(result: Any) -> Any:
    """A result as saved: the overlay of an earlier baseline is not part of what it measured."""
    info = result.get("info") or {}
    if "baseline" not in info:
        return result
    return {**result, "info": {k: v for k, v in info.items() if k != "baseline"}}
