"""The browser matrix: cells (engine x device), marker narrowing, and the outcome grid.

A :class:`Cell` is one (engine, device) pair; its id ``firefox-iPhone 13`` is the test id suffix
(``test_login[firefox-iPhone 13]``). :class:`MatrixOutcomes` collects the outcome of every cell of
every test (pass, fail, skip and why, plus evidence paths) and renders the summary grid.

Success rate = passed cells / (passed + failed cells). Skipped cells (an engine not installed
here) are listed with their reason but do not count either way, so a run where WebKit cannot be
installed is judged on the engines that ran, and the skip stays visible in the grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_roo.browser.devices import Device, resolve_devices
from pytest_roo.browser.engines import ENGINES, Engine

__all__ = [
    "MARKER_KWARGS",
    "Cell",
    "CellOutcome",
    "MatrixOutcomes",
    "build_cells",
    "parse_marker_kwargs",
]

MARKER_KWARGS = ("browsers", "devices")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One engine x device combination of the matrix."""

    engine: Engine
    device: Device

    @property
    def id(self) -> str:
        """``<engine>-<device>``: the cell's test id suffix and its column in the grid."""
        return f"{self.engine.name}-{self.device.name}"

    @property
    def notes(self) -> tuple[str, ...]:
        """What this cell cannot emulate, said rather than hidden."""
        notes: list[str] = []
        if self.engine.name == "firefox" and (self.device.is_mobile or self.device.has_touch):
            notes.append(
                "Firefox ignores is_mobile and has_touch: no mobile layout viewport, no touch "
                "events, pointer is not coarse (viewport size, DPR and user agent apply)"
            )
        return tuple(notes)

    def context_args(self) -> dict[str, Any]:
        """The device's context arguments. A desktop device keeps the engine's own user agent
        unless it is the device's own engine: Firefox stays Firefox as "Desktop Chrome" (only
        its window size is the device's), while a phone's user agent is part of emulating it."""
        args = self.device.context_args()
        if not self.device.is_mobile and self.device.default_browser_type != self.engine.name:
            del args["user_agent"]
        return args


def _names(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, Iterable):
        items = [str(part).strip() for part in value]
    else:
        raise ValueError(f"{what} must be a comma-separated string or a list of names, "
                         f"got {value!r}")
    names = tuple(dict.fromkeys(item for item in items if item))
    if not names:
        raise ValueError(f"{what} is empty")
    return names


def parse_marker_kwargs(args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``@pytest.mark.matrix(browsers=..., devices=...)``; raise ValueError when bad."""
    if args:
        raise ValueError(
            f"@pytest.mark.matrix takes keyword arguments only ({', '.join(MARKER_KWARGS)}), "
            f"got positional {list(args)!r}"
        )
    unknown = sorted(set(kwargs) - set(MARKER_KWARGS))
    if unknown:
        raise ValueError(
            f"@pytest.mark.matrix got unknown argument(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(MARKER_KWARGS)}"
        )
    out: dict[str, Any] = {}
    if "browsers" in kwargs:
        browsers = tuple(name.lower() for name in _names(kwargs["browsers"], "matrix browsers"))
        bad = [name for name in browsers if name not in ENGINES]
        if bad:
            raise ValueError(
                f"@pytest.mark.matrix: unknown browser {bad[0]!r}; expected {', '.join(ENGINES)}"
            )
        out["browsers"] = browsers
    if "devices" in kwargs:
        out["devices"] = resolve_devices(_names(kwargs["devices"], "matrix devices"))
    return out


def build_cells(
    engines: Mapping[str, Engine],
    devices: Sequence[Device],
    *,
    only_browsers: Sequence[str] | None = None,
) -> list[Cell]:
    """Every (engine, device) cell, engines first. ``only_browsers`` narrows the engines."""
    names = [name for name in engines if only_browsers is None or name in only_browsers]
    return [Cell(engines[name], device) for name in names for device in devices]


@dataclasses.dataclass
class CellOutcome:
    """What happened to one test in one cell."""

    test: str
    cell: str
    engine: str
    device: str
    outcome: str = "pass"  # pass | fail | skip
    reason: str = ""
    evidence: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    nodeid: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The outcome as plain data for the JSON report."""
        return dataclasses.asdict(self)


_RANK = {"pass": 0, "skip": 1, "fail": 2}


class MatrixOutcomes:
    """Cell outcomes gathered from test reports (also on the xdist controller)."""

    def __init__(self) -> None:
        self.cells: dict[str, CellOutcome] = {}

    def record(
        self,
        *,
        nodeid: str,
        test: str,
        cell: str,
        engine: str,
        device: str,
        when: str,
        outcome: str,
        reason: str = "",
        evidence: Sequence[str] = (),
        notes: Sequence[str] = (),
    ) -> None:
        """Fold one phase report in. The worst phase wins: a failing teardown fails the cell."""
        entry = self.cells.get(nodeid)
        if entry is None:
            entry = CellOutcome(test=test, cell=cell, engine=engine, device=device, nodeid=nodeid)
            self.cells[nodeid] = entry
        state = {"passed": "pass", "failed": "fail", "skipped": "skip"}.get(outcome, outcome)
        if when != "call" and state == "pass":
            state = entry.outcome
        if _RANK[state] > _RANK[entry.outcome] or (state == entry.outcome and not entry.reason):
            entry.outcome = state
            if reason:
                entry.reason = reason
        for path in evidence:
            if path not in entry.evidence:
                entry.evidence.append(path)
        for note in notes:
            if note not in entry.notes:
                entry.notes.append(note)

    @property
    def passed(self) -> int:
        """How many cells passed."""
        return sum(1 for entry in self.cells.values() if entry.outcome == "pass")

    @property
    def failed(self) -> int:
        """How many cells failed."""
        return sum(1 for entry in self.cells.values() if entry.outcome == "fail")

    @property
    def skipped(self) -> int:
        """How many cells were skipped (they do not count in the success rate)."""
        return sum(1 for entry in self.cells.values() if entry.outcome == "skip")

    @property
    def success_rate(self) -> float | None:
        """Passed / (passed + failed); None when no cell ran."""
        ran = self.passed + self.failed
        return self.passed / ran if ran else None

    def meets(self, minimum: float | None) -> bool:
        """True when no minimum is set, or the success rate reaches it (no cell ran: False)."""
        if minimum is None:
            return True
        rate = self.success_rate
        return rate is not None and rate + 1e-12 >= minimum

    def as_result(self) -> Any:
        """The matrix as a LoadResult ``browser matrix``: one operation per cell that ran, a
        failed cell an error of kind ``cell_failed``; a census of every cell (not a sample),
        so rate criteria on it are judged on the counts as they are."""
        from pytest_roo.results.metrics import LoadResult

        result = LoadResult(name="browser matrix", info={
            "kind": "matrix", "census": True, "skipped": self.skipped,
            "failed_cells": [f"{e.test} [{e.cell}]: {e.reason}"[:300]
                             for e in self.cells.values() if e.outcome == "fail"][:50],
        })
        result.operations = self.passed + self.failed
        if self.failed:
            result.add_error("cell_failed", self.failed)
        return result

    def columns(self) -> list[str]:
        """The cell ids in the order they were first seen: the grid's columns."""
        return list(dict.fromkeys(entry.cell for entry in self.cells.values()))

    def rows(self) -> dict[str, dict[str, CellOutcome]]:
        """``{test: {cell: outcome}}``: the grid's rows."""
        grid: dict[str, dict[str, CellOutcome]] = {}
        for entry in self.cells.values():
            grid.setdefault(entry.test, {})[entry.cell] = entry
        return grid

    def to_dict(self, minimum: float | None = None) -> dict[str, Any]:
        """Counts, success rate and every cell as plain data; ``minimum`` is the required success
        rate, if any."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "success_rate": self.success_rate,
            "min_success": minimum,
            "meets_min_success": self.meets(minimum),
            "columns": self.columns(),
            "cells": [entry.to_dict() for entry in self.cells.values()],
        }

    def render(self, minimum: float | None = None, *, width: int = 100) -> list[str]:
        """The summary grid as lines of text: one row per test, one column per cell."""
        if not self.cells:
            return []
        columns = self.columns()
        rows = self.rows()
        rate = self.success_rate
        head = (
            f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped of "
            f"{len(self.cells)} cells; success rate "
            + ("n/a (no cell ran)" if rate is None else f"{rate:.1%}")
        )
        if minimum is not None:
            head += f" (minimum {minimum:.1%}: {'met' if self.meets(minimum) else 'NOT MET'})"
        lines = [head]
        label = max(len("test"), *(len(test) for test in rows))
        label = min(label, max(30, width // 2))
        headers = list(columns)
        if label + sum(max(len(c), 4) + 2 for c in columns) > width:
            headers = [f"#{number}" for number in range(1, len(columns) + 1)]
            lines.extend(f"  {h} = {c}" for h, c in zip(headers, columns, strict=True))
        widths = [max(len(header), 4) for header in headers]
        lines.append("  ".join(
            ["test".ljust(label)] + [h.ljust(w) for h, w in zip(headers, widths, strict=True)]
        ).rstrip())
        for test, cells in rows.items():
            name = test if len(test) <= label else "..." + test[-(label - 3):]
            marks = []
            for column, w in zip(columns, widths, strict=True):
                entry = cells.get(column)
                text = "-" if entry is None else entry.outcome.upper() if (
                    entry.outcome == "fail") else entry.outcome
                marks.append(text.ljust(w))
            lines.append("  ".join([name.ljust(label), *marks]).rstrip())
        reasons = [entry for entry in self.cells.values() if entry.outcome != "pass"]
        skip_reasons: dict[str, list[str]] = {}
        for entry in reasons:
            if entry.outcome == "skip":
                cells_skipped = skip_reasons.setdefault(entry.reason or "skipped", [])
                if entry.cell not in cells_skipped:
                    cells_skipped.append(entry.cell)
                continue
            lines.append(f"FAIL {entry.nodeid}: {entry.reason}")
            lines.extend(f"     evidence: {path}" for path in entry.evidence)
        for reason, skipped_cells in skip_reasons.items():
            lines.append(f"skip {', '.join(skipped_cells)}: {reason}")
        notes: dict[str, list[str]] = {}
        for entry in self.cells.values():
            for note in entry.notes:
                notes.setdefault(note, [])
                if entry.cell not in notes[note]:
                    notes[note].append(entry.cell)
        for note, cells_with in notes.items():
            lines.append(f"note {', '.join(cells_with)}: {note}")
        return lines
