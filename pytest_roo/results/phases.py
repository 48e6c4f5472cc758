"""A load run split by the fault windows it overlapped: before / during / after.

An operation belongs to the phase in which it started: its latency sample, its failure and
the operation itself (see :mod:`pytest_roo.load.phases` for how a run knows). The ``after`` phase is also kept in slices of :data:`SLICE` seconds counted from
the end of the latest fault, so "the error rate from 5 s after the fault on" (``after(5s)``)
can be judged once the run is over, for any delay.

Pure data: no I/O, no pytest; numpy only where samples are cut or joined.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_roo.results.latency import LatencyMetric, merge_metrics

__all__ = ["PHASES", "SLICE", "AfterSlice", "PhaseStats", "phase_label"]

PHASES = ("before", "during", "after")
#: seconds per slice of the ``after`` phase: the resolution of ``after(Ns)``
SLICE = 0.1
#: raw samples kept in the ``after`` slices per run (8 bytes each); past that, ``after(Ns)``
#: latency criteria are inconclusive (counts are always kept)
MAX_SLICE_SAMPLES = 2_000_000


def phase_label(phase: str, delay: float = 0.0) -> str:
    """``during``, ``after``, ``after(5s)``: how a phase is named in criteria and reports."""
    if phase == "after" and delay > 0:
        return f"after({delay:g}s)"
    return phase


@dataclasses.dataclass
class PhaseStats:
    """One phase of a run: operations, failures by kind, latency metrics, seconds spent."""

    operations: int = 0
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    metrics: dict[str, LatencyMetric] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def metric(self, name: str, unit: str = "us") -> LatencyMetric:
        """The phase's metric ``name``, made on first use."""
        found = self.metrics.get(name)
        if found is None:
            found = self.metrics[name] = LatencyMetric(name, unit)
        return found

    def merge(self, other: PhaseStats) -> PhaseStats:
        """Both phases as one (counts added, histograms merged)."""
        merged = PhaseStats(self.operations + other.operations, self.errors + other.errors,
                            seconds=max(self.seconds, other.seconds))
        merged.metrics.update(merge_metrics(self.metrics, other.metrics))
        return merged

    def to_dict(self) -> dict[str, Any]:
        """JSON form: counts, seconds, each metric's compressed histogram and summary."""
        return {
            "operations": self.operations,
            "errors": dict(self.errors),
            "error_rate": (None if self.operations <= 0
                           else min(1.0, sum(self.errors.values()) / self.operations)),
            "seconds": round(self.seconds, 4),
            "metrics": {
                name: {"hdr": metric.encode(), "unit": metric.unit,
                       "summary": {k: _finite(float(v)) for k, v in metric.summary().items()}}
                for name, metric in self.metrics.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PhaseStats:
        """The phase :meth:`to_dict` wrote."""
        return cls(
            operations=int(data.get("operations", 0)),
            errors=Counter({k: int(v) for k, v in data.get("errors", {}).items()}),
            metrics={name: LatencyMetric.decode(name, body["hdr"], body.get("unit", "us"))
                     for name, body in data.get("metrics", {}).items()},
            seconds=float(data.get("seconds", 0.0)),
        )


@dataclasses.dataclass
class AfterSlice:
    """``SLICE`` seconds of the ``after`` phase, ``index`` slices after the latest fault
    ended: operations, failures and the raw samples (microseconds, per metric)."""

    index: int
    operations: int = 0
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    samples: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    #: samples that were not kept (over MAX_SLICE_SAMPLES)
    dropped: int = 0

    @property
    def offset(self) -> float:
        """Seconds from the fault's end to the start of this slice."""
        return self.index * SLICE

    def to_dict(self) -> dict[str, Any]:
        """JSON form; samples as zlib-compressed little-endian int64, base64."""
        import numpy as np

        packed = {}
        for name, parts in self.samples.items():
            values = np.concatenate(parts).astype("<i8") if parts else np.zeros(0, "<i8")
            packed[name] = base64.b64encode(zlib.compress(values.tobytes())).decode()
        return {"index": self.index, "operations": self.operations,
                "errors": dict(self.errors), "samples": packed, "dropped": self.dropped}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AfterSlice:
        """The slice :meth:`to_dict` wrote."""
        import numpy as np

        samples = {name: [np.frombuffer(zlib.decompress(base64.b64decode(text)), "<i8")]
                   for name, text in data.get("samples", {}).items()}
        return cls(int(data["index"]), int(data.get("operations", 0)),
                   Counter({k: int(v) for k, v in data.get("errors", {}).items()}),
                   samples, int(data.get("dropped", 0)))


def after_delay(slices: Iterable[AfterSlice], delay: float,
                units: Mapping[str, str]) -> tuple[PhaseStats, int]:
    """The ``after`` phase from ``delay`` seconds after the fault's end on: the slices that
    start at or after it (so a delay is rounded up to the next :data:`SLICE`), and how many
    of their samples were not kept."""
    import numpy as np

    first = math.ceil(round(delay / SLICE, 6))
    stats = PhaseStats()
    dropped = 0
    chosen = [s for s in slices if s.index >= first]
    for piece in chosen:
        stats.operations += piece.operations
        stats.errors.update(piece.errors)
        dropped += piece.dropped
        stats.seconds += SLICE
    names = dict.fromkeys(name for piece in chosen for name in piece.samples)
    for name in names:
        parts = [part for piece in chosen for part in piece.samples.get(name, [])]
        metric = stats.metric(name, units.get(name, "us"))
        if parts:
            metric.record_many_us(np.concatenate(parts))
    return stats, dropped


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value
