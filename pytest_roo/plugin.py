"""pytest-roo's pytest hooks: options, markers, fixture modules, criteria, session report.

Only wiring lives here; the logic is in plain modules (slo/, load/, report/) that never import
pytest. Importing this module is cheap: no Playwright, testcontainers, asyncpg, aiohttp or
HdrHistogram until a fixture needs them.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_roo import options
from pytest_roo.report.store import PROPERTY, get_store, short_message

if TYPE_CHECKING:
    from pytest_roo.load.metrics import LoadResult
    from pytest_roo.slo.verdict import Verdict

pytest_plugins = [
    "pytest_roo.fixtures.core",
    "pytest_roo.fixtures.services",
    "pytest_roo.fixtures.load",
    "pytest_roo.fixtures.target",
    "pytest_roo.fixtures.browser",
    "pytest_roo.fixtures.redis_load",
    "pytest_roo.fixtures.artillery",
]

MARKERS = (
    "slo(*criteria, iterations=None, abort_on_fail=False): criteria such as 'p95 < 50ms' that "
    "every result the test records must meet; iterations=N runs the test N times and judges "
    "its success_rate.",
)
SLO_KWARGS = ("iterations", "abort_on_fail")


# --- options and configuration ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_roo import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[options.SETTINGS_KEY] = options.resolve_settings(config)
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.pluginmanager.register(SessionReport(config), "roo-session-report")


def pytest_report_header(config: pytest.Config) -> str:
    settings = options.get_settings(config)
    target = settings.target or "embedded reference system"
    report = settings.report_json or "off"
    return f"roo: profile={settings.profile} target={target} report-json={report}"


# --- the slo marker -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SloSpec:
    criteria: tuple[str, ...]
    iterations: int | None = None
    abort_on_fail: bool = False


SLO_SPEC_KEY = pytest.StashKey[SloSpec]()
RECORDER_KEY = pytest.StashKey["Recorder"]()


def parse_slo_markers(item: pytest.Item) -> SloSpec | None:
    """All ``slo`` markers of an item (function, class, module) as one spec, validated."""
    from pytest_roo import slo

    markers = list(item.iter_markers("slo"))
    if not markers:
        return None
    criteria: list[str] = []
    iterations: int | None = None
    abort_on_fail = False
    for marker in markers:
        unknown = sorted(set(marker.kwargs) - set(SLO_KWARGS))
        if unknown:
            raise ValueError(
                f"@pytest.mark.slo got unknown argument {unknown[0]!r}; "
                f"accepted: criteria strings and {', '.join(SLO_KWARGS)}"
            )
        for arg in marker.args:
            slo.parse(arg)  # raises CriterionError naming the text and the accepted forms
            if arg not in criteria:
                criteria.append(arg)
        if "iterations" in marker.kwargs and iterations is None:
            value = marker.kwargs["iterations"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"@pytest.mark.slo(iterations={value!r}): expected a whole number >= 1"
                )
            iterations = value
        if "abort_on_fail" in marker.kwargs:
            value = marker.kwargs["abort_on_fail"]
            if not isinstance(value, bool):
                raise ValueError(f"@pytest.mark.slo(abort_on_fail={value!r}): expected True or False")
            abort_on_fail = abort_on_fail or value
    if not criteria:
        raise ValueError(
            "@pytest.mark.slo needs at least one criterion, e.g. @pytest.mark.slo('p95 < 50ms')"
        )
    return SloSpec(tuple(criteria), iterations, abort_on_fail)


class Recorder:
    """What one test recorded: results, verdicts, notes. Flushed into the test's report."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.results: list[LoadResult] = []
        self.verdicts: list[Verdict] = []
        self.notes: list[str] = []
        self._sent_results = 0
        self._sent_verdicts = 0
        self._sent_notes = 0

    def record(self, result: LoadResult, verdicts: list[Verdict] | None = None) -> None:
        if not any(result is known for known in self.results):
            self.results.append(result)
        if verdicts:
            self.verdicts.extend(verdicts)
        self.item.config.hook.pytest_roo_result_recorded(
            item=self.item, result=result, verdicts=list(verdicts or [])
        )

    def unsent_payload(self) -> str | None:
        results = self.results[self._sent_results :]
        verdicts = self.verdicts[self._sent_verdicts :]
        notes = self.notes[self._sent_notes :]
        if not (results or verdicts or notes):
            return None
        self._sent_results = len(self.results)
        self._sent_verdicts = len(self.verdicts)
        self._sent_notes = len(self.notes)
        return json.dumps(
            {
                "results": [r.to_dict() for r in results],
                "verdicts": [v.to_dict() for v in verdicts],
                "notes": notes,
            }
        )


def get_recorder(item: pytest.Item) -> Recorder:
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is None:
        recorder = item.stash[RECORDER_KEY] = Recorder(item)
    return recorder


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    try:
        spec = parse_slo_markers(item)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    if spec is not None:
        item.stash[SLO_SPEC_KEY] = spec


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    from pytest_roo import slo

    __tracebackhide__ = True
    recorder = get_recorder(item)
    slo.add_sink(recorder.record)
    try:
        outcome = yield
    except BaseException as exc:
        _judge_marker(item, recorder, raise_on_failure=False)
        if isinstance(exc, KeyboardInterrupt):
            _keep_interrupted(item, recorder)
        raise
    finally:
        slo.remove_sink(recorder.record)
    _judge_marker(item, recorder, raise_on_failure=True)
    return outcome


def _keep_interrupted(item: pytest.Item, recorder: Recorder) -> None:
    """Ctrl-C propagates out of the test call, so pytest makes no report for it: put what the
    test measured so far into the session report directly."""
    store = get_store(item.config)
    payload = recorder.unsent_payload()
    if payload is not None:
        store.add_payload(item.nodeid, payload)
    entry = store.entry(item.nodeid)
    entry.outcome = "interrupted"
    entry.notes.append("interrupted (Ctrl-C): the results measured until then are recorded")


def _judge_marker(item: pytest.Item, recorder: Recorder, raise_on_failure: bool) -> None:
    __tracebackhide__ = True
    from pytest_roo import slo

    spec = item.stash.get(SLO_SPEC_KEY, None)
    if spec is None:
        return
    subjects = recorder.results
    if spec.iterations:
        subjects = [r for r in recorder.results if r.info.get("kind") == "iterations"]
    if not subjects:
        if raise_on_failure:
            raise AssertionError(
                f"@pytest.mark.slo{spec.criteria} but the test recorded no result: nothing was "
                "measured, so nothing is proven (record one with roo_record(result) or a load "
                "fixture)"
            )
        return
    verdicts: list[Verdict] = []
    for result in subjects:
        judged = slo.evaluate(result, spec.criteria)
        recorder.verdicts.extend(judged)
        verdicts.extend(judged)
    if raise_on_failure and not all(v.passed for v in verdicts):
        failing = [
            f"  iteration {f['iteration']}: {f['error']}"
            for result in subjects
            for f in result.info.get("failures", [])
        ]
        extra = "failing iterations:\n" + "\n".join(failing) if failing else ""
        raise slo.SloFailure(verdicts, extra=extra)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    spec = pyfuncitem.stash.get(SLO_SPEC_KEY, None)
    if spec is None or not spec.iterations:
        return None
    function = pyfuncitem.obj
    if inspect.iscoroutinefunction(function):
        pytest.fail("@pytest.mark.slo(iterations=...) supports plain (not async) test functions")
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    _run_iterations(pyfuncitem, function, kwargs, spec.iterations)
    return True


def _run_iterations(item: pytest.Function, function: Any, kwargs: dict[str, Any], n: int) -> None:
    from pytest_roo.load.metrics import LoadResult

    result = LoadResult(name="iterations", info={"kind": "iterations", "failures": []})
    metric = result.metric("iteration")
    recorder = get_recorder(item)
    started = time.perf_counter()
    try:
        for index in range(1, n + 1):
            t0 = time.perf_counter()
            try:
                function(**kwargs)
            except pytest.skip.Exception:
                raise
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # an iteration's failure is data, not the end
                result.add_error("assertion" if isinstance(exc, AssertionError) else "exception")
                first_line = (str(exc).strip().splitlines() or [""])[0]
                text = f"{type(exc).__name__}: {first_line}".rstrip(": ")
                failures = result.info["failures"]
                if len(failures) < 50:
                    failures.append({"iteration": index, "error": text[:500]})
                item.config.hook.pytest_roo_iteration_failed(
                    item=item, iteration=index, excinfo=pytest.ExceptionInfo.from_exception(exc)
                )
            finally:
                result.operations += 1
                metric.record(time.perf_counter() - t0)
    finally:
        result.duration = time.perf_counter() - started
        result.info["iterations_requested"] = n
        recorder.record(result)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is not None:
        payload = recorder.unsent_payload()
        if payload is not None:
            report.user_properties.append((PROPERTY, payload))
    return report


class SessionReport:
    """Collects every test's recorded results (also from xdist workers) and renders the report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.store = get_store(config)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # On the controller this sees xdist workers' reports too.
        for key, value in report.user_properties:
            if key == PROPERTY:
                self.store.add_payload(report.nodeid, str(value))
        self.store.set_outcome(
            report.nodeid, report.when, report.outcome, report.duration, short_message(report)
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from pytest_roo.report.terminal import render_summary

        text = render_summary(self.store)
        if text:
            terminalreporter.write_sep("=", "pytest-roo: service levels")
            terminalreporter.write_line(text)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: its results reach the controller inside the test reports
        settings = options.get_settings(self.config)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            from pytest_roo.report.markdown import render_markdown

            text = render_markdown(self.store)
            if text:
                with open(summary_path, "a", encoding="utf-8") as summary:
                    summary.write(text)
        if settings.report_json is not None:
            self.store.write_json(
                settings.report_json,
                settings=settings.public(),
                exit_status=int(session.exitstatus),
            )
