"""The browser matrix's machinery: its per-process state, the cells a test runs in, the cell
and evidence put on each test report, and the collector that draws the summary grid, writes it
into the JSON report and judges ``--roo-matrix-min-success``.

The fixtures built on it are in :mod:`pytest_roo.fixtures.browser`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_roo.plugin.options import get_settings
from pytest_roo.report.store import short_message

if TYPE_CHECKING:
    from pytest_roo.browser.contexts import ContextFactory
    from pytest_roo.browser.devices import Device
    from pytest_roo.browser.engines import Engine
    from pytest_roo.browser.matrix import Cell, MatrixOutcomes
    from pytest_roo.settings import Settings

MARKER = (
    "matrix(browsers=None, devices=None): run this browser test only on these engines "
    "(narrows --roo-browsers) and on these devices (replaces --roo-devices); names or "
    "comma-separated strings."
)
PROPERTY = "roo_matrix"  # the test report attribute carrying the cell


class MatrixState:
    """Per-process state: the discovered engines, the devices, the outcomes of every cell."""

    def __init__(self, config: pytest.Config) -> None:
        from pytest_roo.browser.matrix import MatrixOutcomes

        self.config = config
        self.outcomes: MatrixOutcomes = MatrixOutcomes()
        self._engines: dict[str, Engine] | None = None
        self._devices: tuple[Device, ...] | None = None

    @property
    def settings(self) -> Settings:
        """The session's resolved pytest-roo settings."""
        return get_settings(self.config)

    @property
    def engines(self) -> dict[str, Engine]:
        """The engines of ``--roo-browsers`` as found on this machine (installed or not),
        discovered on first use."""
        if self._engines is None:
            from pytest_roo.browser.engines import discover_all

            self._engines = discover_all(self.settings.browsers, self.settings.browser_executables)
        return self._engines

    @property
    def devices(self) -> tuple[Device, ...]:
        """The devices of ``--roo-devices``, resolved on first use; an unknown name is a usage
        error."""
        if self._devices is None:
            from pytest_roo.browser.devices import DeviceError, resolve_devices

            try:
                self._devices = resolve_devices(self.settings.devices)
            except DeviceError as exc:
                raise pytest.UsageError(f"pytest-roo: --roo-devices: {exc}") from None
        return self._devices

    def output_dir(self) -> Path:
        """Where screenshots and traces go: ``browser/`` under ``--roo-output`` (relative to the
        directory pytest was started in)."""
        output = self.settings.output
        if not output.is_absolute():
            output = self.config.invocation_params.dir / output
        return output / "browser"


STATE_KEY = pytest.StashKey[MatrixState]()
FACTORY_KEY: pytest.StashKey[ContextFactory] = pytest.StashKey()
EVIDENCE_KEY = pytest.StashKey[list[str]]()


def matrix_state(config: pytest.Config) -> MatrixState:
    """This process's matrix state, made on first use."""
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        state = config.stash[STATE_KEY] = MatrixState(config)
    return state


# --- configuration, the cells of a test --------------------------------------------------------


def configure(config: pytest.Config) -> None:
    """Register the ``matrix`` marker and the matrix collector; check ``--roo-devices`` now."""
    config.addinivalue_line("markers", MARKER)
    state = matrix_state(config)
    config.pluginmanager.register(MatrixCollector(config), "roo-browser-matrix")
    if get_settings(config).sources.get("devices", "default") != "default":
        state.devices  # noqa: B018  -- a bad --roo-devices name is a usage error right away


def cell_params(metafunc: pytest.Metafunc) -> list[Any]:
    """One ``pytest.param`` per cell of this test (a skipped one for an engine not installed)."""
    from pytest_roo.browser.devices import DeviceError
    from pytest_roo.browser.matrix import build_cells, parse_marker_kwargs

    state = matrix_state(metafunc.config)
    marker = metafunc.definition.get_closest_marker("matrix")
    narrowed: dict[str, Any] = {}
    if marker is not None:
        try:
            narrowed = parse_marker_kwargs(marker.args, marker.kwargs)
        except (ValueError, DeviceError) as exc:
            raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {exc}") from None
    devices = narrowed.get("devices") or state.devices
    only = narrowed.get("browsers")
    cells = build_cells(state.engines, devices, only_browsers=only)
    if not cells:
        reason = (
            f"@pytest.mark.matrix(browsers={list(only or [])}) names no engine of this run "
            f"(--roo-browsers {','.join(state.settings.browsers)})"
        )
        return [pytest.param(None, id="no-cell", marks=pytest.mark.skip(reason=reason))]
    params = []
    for cell in cells:
        marks = [] if cell.engine.available else [pytest.mark.skip(reason=cell.engine.skip_reason)]
        params.append(pytest.param(cell, id=cell.id, marks=marks))
    return params


# --- evidence and outcomes ----------------------------------------------------------------------


def item_cell(item: pytest.Item) -> Cell | None:
    """The matrix cell ``item`` runs in, or None for a test outside the matrix."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    cell: Cell | None = callspec.params.get("roo_cell")
    return cell


def row_name(item: pytest.Item, cell_id: str) -> str:
    """The test's row in the matrix grid: its node id without the cell's part of the parameter
    id (``test_x[chromium-Desktop Chrome-admin]`` is ``test_x[admin]``)."""
    nodeid = item.nodeid
    head, bracket, params = nodeid.partition("[")
    if not bracket:
        return nodeid
    params = params[:-1]
    for candidate in (f"-{cell_id}", f"{cell_id}-", cell_id):
        if candidate in params:
            params = params.replace(candidate, "", 1)
            break
    return f"{head}[{params}]" if params else head


def capture_iteration_evidence(item: pytest.Item, iteration: int) -> None:
    """Screenshots and traces of a failing iteration of a matrix test, under ``--roo-output``."""
    factory = item.stash.get(FACTORY_KEY, None)
    if factory is None or item_cell(item) is None:
        return
    from pytest_roo.browser.evidence import slug

    directory = matrix_state(item.config).output_dir() / slug(item.nodeid) / f"iteration-{iteration}"
    paths = factory.capture(directory, iteration=True)
    item.stash.setdefault(EVIDENCE_KEY, []).extend(paths)


def add_matrix_cell(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the test's matrix cell (and, on a failure, its screenshots and traces) on ``report``."""
    cell = item_cell(item)
    if cell is None:
        return
    evidence = item.stash.setdefault(EVIDENCE_KEY, [])
    factory = item.stash.get(FACTORY_KEY, None)
    if report.when == "call" and report.failed and factory is not None and not evidence:
        from pytest_roo.browser.evidence import slug

        directory = matrix_state(item.config).output_dir() / slug(item.nodeid)
        evidence.extend(factory.capture(directory))
    payload = {
        "test": row_name(item, cell.id),
        "cell": cell.id,
        "engine": cell.engine.name,
        "device": cell.device.name,
        "evidence": list(evidence) if report.when == "call" else [],
        "notes": list(cell.notes),
    }
    setattr(report, PROPERTY, json.dumps(payload))  # an attribute: serialised for xdist


#: the session report's entry for the matrix criterion (--roo-matrix-min-success)
MATRIX_ENTRY = "browser matrix"


class MatrixCollector:
    """Gathers cell outcomes from test reports (on the xdist controller: the workers' reports),
    prints the grid, puts it into the JSON report and applies ``--roo-matrix-min-success``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record the cell outcome carried by ``report`` (an expected failure counts as failed)."""
        value = getattr(report, PROPERTY, None)
        if not value:
            return
        data = json.loads(str(value))
        outcome, reason = report.outcome, short_message(report)
        if report.skipped and hasattr(report, "wasxfail"):
            # an expected failure is still a cell that does not work
            outcome, reason = "failed", f"xfail: {report.wasxfail or 'expected to fail'}"
        matrix_state(self.config).outcomes.record(
            nodeid=report.nodeid,
            test=data["test"],
            cell=data["cell"],
            engine=data["engine"],
            device=data["device"],
            when=report.when,
            outcome=outcome,
            reason=reason,
            evidence=data.get("evidence", []),
            notes=data.get("notes", []),
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the ``pytest-roo: browser matrix`` grid (not on xdist workers), and say when
        ``--roo-matrix-min-success`` is not met."""
        config = self.config
        outcomes = matrix_state(config).outcomes
        if not outcomes.cells or hasattr(config, "workerinput"):
            return
        state = matrix_state(config)
        minimum = state.settings.matrix_min_success
        terminalreporter.write_sep("=", "pytest-roo: browser matrix")
        for engine in state.engines.values():
            terminalreporter.write_line(f"engine {engine.describe()}")
        writer = getattr(terminalreporter, "_tw", None)
        columns = int(getattr(writer, "fullwidth", 100)) if writer is not None else 100
        for line in outcomes.render(minimum, width=columns):
            terminalreporter.write_line(line)
        if not outcomes.meets(minimum):
            terminalreporter.write_line(
                f"--roo-matrix-min-success {minimum:.1%} not met: the session fails"
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Put the grid into the session report and judge ``--roo-matrix-min-success`` as a verdict
        of its own; a rate below it makes the session fail."""
        config = self.config
        if hasattr(config, "workerinput"):
            return
        state = matrix_state(config)
        outcomes = state.outcomes
        if not outcomes.cells:
            return
        from pytest_roo import slo
        from pytest_roo.report.store import get_store

        store = get_store(config)
        minimum = state.settings.matrix_min_success
        data = outcomes.to_dict(minimum)
        data["engines"] = {name: engine.to_dict() for name, engine in state.engines.items()}
        store.add_section("matrix", data)
        if minimum is None:
            return
        # the matrix criterion is a verdict like any other: in the table, the JSON, the summary
        result = outcomes.as_result()
        verdicts = slo.evaluate(result, [f"success_rate >= {minimum * 100:.6g}%"])
        store.add_payload(MATRIX_ENTRY, {"results": [result.to_dict()],
                                         "verdicts": [v.to_dict() for v in verdicts]})
        passed = all(v.passed for v in verdicts)
        for when in ("setup", "call", "teardown"):
            store.set_outcome(MATRIX_ENTRY, when, "passed" if passed or when != "call" else
                              "failed", 0.0, "" if passed else verdicts[0].reason or
                              f"browser matrix success rate below {minimum:.1%}")
        if not passed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
