"""pytest-roo's pytest hooks: options, markers, fixture modules, criteria, session report.

This module owns every pytest hook that more than one part of the plugin takes part in
(``pytest_configure``, ``pytest_configure_node``, ``pytest_report_header``,
``pytest_runtest_makereport``): each calls the parts as plain functions, in the order written
here, instead of relying on the order pluggy happens to call several implementations in.

Only wiring lives here (and in this package's modules: :mod:`.options`, :mod:`.recording`,
:mod:`.iterations`, :mod:`.session`); the logic is in plain modules (slo/, load/, report/) that
never import pytest. Importing this module is cheap: no Playwright, docker SDK, asyncpg,
aiohttp or HdrHistogram until a fixture needs them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Generator
from typing import Any

import pytest

from pytest_roo.plugin import matrix
from pytest_roo.plugin.options import SETTINGS_KEY, add_options, get_settings, resolve_settings
from pytest_roo.plugin.recording import (
    RECORDING_KEY,
    SLO_SPEC_KEY,
    Recording,
    get_recording,
    get_slo_spec,
    parse_slo_markers,
)
from pytest_roo.plugin.session import SessionReport
from pytest_roo.report.junit import verdict_properties
from pytest_roo.report.store import PROPERTY, get_store

pytest_plugins = [
    "pytest_roo.plugin.secrets",
    "pytest_roo.fixtures.core",
    "pytest_roo.fixtures.services",
    "pytest_roo.fixtures.load",
    "pytest_roo.fixtures.target",
    "pytest_roo.fixtures.browser",
    "pytest_roo.fixtures.monitor",
    "pytest_roo.fixtures.faults",
    "pytest_roo.fixtures.redis_load",
    "pytest_roo.fixtures.artillery",
    "pytest_roo.fixtures.socketio",
    "pytest_roo.fixtures.profiles",
]

MARKERS = (
    "slo(*criteria, iterations=None, max_iterations=None, abort_on_fail=False, pool=None, "
    "concurrency=1): "
    "criteria such as 'p95 < 50ms' that every result the test records must meet; iterations=N "
    "runs the test N times and judges its success_rate; iterations='auto' runs it until the "
    "rate criteria are decided (sequentially, at the stated confidence), at most max_iterations "
    "(600); pool='matrix' judges that rate over the iterations of every browser matrix cell "
    "together; concurrency=K runs K iterations of a browser matrix test at a time.",
)


# --- options and configuration ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_roo import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SETTINGS_KEY] = resolve_settings(config)
    matrix.configure(config)  # a bad --roo-devices is a usage error before anything
    # fixture modules are imported here, after pytest registered them for assertion rewriting
    from pytest_roo.fixtures import services as services_fixtures

    services_fixtures.configure(config)  # the Docker probe, once per run (workers: workerinput)
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    report = SessionReport(config)
    config.pluginmanager.register(report, "roo-session-report")
    report.install_sigterm()
    from pytest_roo.plugin.pooling import PooledVerdicts

    config.pluginmanager.register(PooledVerdicts(config), "roo-pooled-verdicts")
    if config.stash[SETTINGS_KEY].baseline_save or config.stash[SETTINGS_KEY].baseline_compare:
        from pytest_roo.plugin.baseline import BaselineGate

        config.pluginmanager.register(BaselineGate(config), "roo-baseline")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, on the controller, for each worker it starts: hand over what the controller
    worked out once (``node.workerinput`` becomes the worker's ``config.workerinput``)."""
    from pytest_roo.fixtures import services as services_fixtures

    services_fixtures.configure_node(node)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from pytest_roo.redact import mask_url

    settings = get_settings(config)
    target = mask_url(settings.target) if settings.target else "started by pytest_roo_start_target"
    report = settings.report_json or "off"
    return [
        f"roo: profile={settings.profile} target={target} report-json={report}",
        _services_header(config),
    ]


# --- the slo marker and the recording of each test ----------------------------------------------


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
    __tracebackhide__ = True
    from pytest_roo.slo import NothingMeasured, SloFailure

    recording = get_recording(item)
    try:
        outcome = yield
    except NothingMeasured as exc:
        raise pytest.skip.Exception(str(exc), _use_item_location=True) from None
    except BaseException as exc:
        if isinstance(exc, SloFailure) and exc.result is not None:
            recording.add_verdicts(exc.result, exc.verdicts)  # an explicit check that failed
        _judge_marker(item, recording, raise_on_failure=False)
        recording.announce(item)
        if isinstance(exc, KeyboardInterrupt):
            _keep_interrupted(item, recording)
        raise
    try:
        _judge_marker(item, recording, raise_on_failure=True)
    except NothingMeasured as exc:
        raise pytest.skip.Exception(str(exc), _use_item_location=True) from None
    finally:
        recording.announce(item)
    return outcome


def _keep_interrupted(item: pytest.Item, recording: Recording) -> None:
    """Ctrl-C propagates out of the test call, so pytest makes no report for it: put what the
    test measured so far into the session report directly."""
    store = get_store(item.config)
    payload = _payload_or_problem(recording)[0]
    if payload is not None:
        store.add_payload(item.nodeid, payload)
    entry = store.entry(item.nodeid)
    entry.outcome = "interrupted"
    report = item.config.pluginmanager.get_plugin("roo-session-report")
    why = getattr(report, "interrupted", "") or "interrupted (Ctrl-C)"
    entry.notes.append(f"{why}: the results measured until then are recorded")


def _judge_marker(item: pytest.Item, recording: Recording, raise_on_failure: bool) -> None:
    __tracebackhide__ = True
    from pytest_roo import slo

    spec = get_slo_spec(item)
    if spec is None:
        return
    subjects = recording.results
    if spec.iterations:
        subjects = [r for r in recording.results if r.info.get("kind") == "iterations"]
    benchmark = getattr(item, "funcargs", {}).get("benchmark")
    if not subjects and benchmark is not None and not spec.iterations:
        # the marker judges pytest-benchmark's rounds when the test recorded nothing else
        try:
            result = slo.as_result(benchmark)  # NothingMeasured when benchmarking is disabled
        except (slo.NothingMeasured, TypeError):
            if raise_on_failure:
                raise
            return  # the test failed on its own: that error is the one to show
        recording.add_result(result)
        subjects = [result]
    if not subjects:
        if raise_on_failure:
            raise AssertionError(
                f"@pytest.mark.slo{spec.criteria} but the test recorded no result: nothing was "
                "measured, so nothing is proven (record one with roo_record(result) or a load "
                "fixture)"
            )
        return
    verdicts: list[slo.Verdict] = []
    confidence = get_settings(item.config).confidence
    for result in subjects:
        judged = slo.evaluate(result, spec.criteria, confidence)
        if spec.iterations == "auto":
            from pytest_roo.plugin.iterations import sequential_verdicts

            judged = sequential_verdicts(result, judged)
        if spec.pool:
            from pytest_roo.plugin.pooling import cell_verdicts

            judged, notes = cell_verdicts(judged, stopped=bool(result.info.get("stopped")))
            recording.notes.extend(n for n in notes if n not in recording.notes)
        recording.add_verdicts(result, judged)
        verdicts.extend(judged)
    if raise_on_failure and not all(v.passed for v in verdicts):
        failing = [
            f"  iteration {f['iteration']}: {f['error']}"
            for result in subjects
            for f in result.info.get("failures", [])
        ]
        extra = "failing iterations:\n" + "\n".join(failing) if failing else ""
        from pytest_roo.slo.judge import describe_errors

        errors = "\n".join(filter(None, (describe_errors(r) for r in subjects)))
        raise slo.SloFailure(verdicts, extra="\n".join(filter(None, (errors, extra))))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    spec = get_slo_spec(pyfuncitem)
    if spec is None or not spec.iterations:
        return None
    from pytest_roo.plugin.iterations import run_iterations

    function = pyfuncitem.obj
    if inspect.iscoroutinefunction(function):
        pytest.fail("@pytest.mark.slo(iterations=...) supports plain (not async) test functions")
    run_iterations(pyfuncitem, function, spec.iterations, spec.criteria,
                   get_settings(pyfuncitem.config).confidence,
                   max_iterations=spec.max_iterations, pool=spec.pool,
                   concurrency=spec.concurrency)
    return True


def _payload_or_problem(
    recording: Recording,
) -> tuple[dict[str, Any] | None, str | None, str]:
    """The unsent payload and its JSON text, or (None, None, why) when a recorded object cannot
    be serialised: a mistake in one test fails that test, it never ends the session."""
    try:
        data = recording.unsent_payload()
        return data, None if data is None else json.dumps(data), ""
    except Exception as exc:  # a result that cannot be written (bad info, overflow, ...)
        return None, None, (
            f"pytest-roo could not record this test's results: {type(exc).__name__}: {exc}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _add_recording(item, report)  # first: a result that cannot be recorded fails the report
    from pytest_roo.fixtures import target as target_fixtures

    target_fixtures.add_target_log(item, report)  # on failed reports, so after the line above
    matrix.add_matrix_cell(item, report)  # evidence of failed cells, likewise
    _add_loop_hint(call, report)
    return report


#: what a failure says when Playwright's sync API holds the thread's event loop
LOOP_HINT = (
    "Playwright's sync API keeps its event loop marked as running in this thread while its "
    "browsers are open (a browser test ran earlier in this session), so asyncio.run(), anyio "
    "and pytest-asyncio cannot start one here. Run the coroutine in a thread of its own "
    "(concurrent.futures.ThreadPoolExecutor().submit(asyncio.run, coro).result()), use the "
    "load fixtures (they drive their own loop beside it), or run browser tests in a pytest "
    "session of their own (-m / -k, or pytest-xdist's --dist loadgroup)."
)


def _add_loop_hint(call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Name the cause when a test's own event loop could not start beside Playwright's."""
    import asyncio

    excinfo = call.excinfo
    if excinfo is None or not report.failed or asyncio._get_running_loop() is None:
        return
    if isinstance(excinfo.value, RuntimeError) and "running event loop" in str(excinfo.value):
        report.sections.append(("pytest-roo: a running event loop", LOOP_HINT))


def _add_recording(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the test's unsent results and verdicts on ``report`` (and its JUnit properties)."""
    recording = item.stash.get(RECORDING_KEY, None)
    if recording is None:
        return
    payload, text, problem = _payload_or_problem(recording)
    if payload is not None:
        setattr(report, PROPERTY, text)
        # JUnit XML reads the teardown report's properties, made from the item's
        junit = verdict_properties(payload["verdicts"], item.user_properties)
        item.user_properties.extend(junit)
        if report.when == "teardown":
            report.user_properties.extend(junit)
    elif problem:
        report.outcome = "failed"
        report.longrepr = problem


def _services_header(config: pytest.Config) -> str:
    from pytest_roo.fixtures import services as services_fixtures

    return services_fixtures.report_header(config)


__all__ = [
    "MARKERS",
    "get_recording",
    "get_settings",
    "get_slo_spec",
]
