"""The typed verdict of a statistical judgement: PASS / FAIL / INCONCLUSIVE with its figures.

A judge function in :mod:`pytest_roo.monitor.trend` or :mod:`pytest_roo.monitor.overhead`
returns one of these. It carries what a report needs (estimate, the confidence bound that decided,
the limit, the sample count) and one line saying why, so that the criteria language can wrap it
without recomputing anything.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

__all__ = ["FAIL", "INCONCLUSIVE", "PASS", "StatVerdict", "Status"]

Status = Literal["pass", "fail", "inconclusive"]
PASS: Status = "pass"
FAIL: Status = "fail"
INCONCLUSIVE: Status = "inconclusive"


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclasses.dataclass(frozen=True)
class StatVerdict:
    """One judged quantity.

    ``estimate`` is the point estimate; ``lower`` and ``upper`` the confidence interval around it
    (both NaN when there is none); ``bound`` the end of it that was held against ``limit`` (the
    upper one for "must stay under"); ``samples`` how many observations the figures rest on;
    ``unit`` names the unit of estimate, bounds and limit (``bytes``, ``ratio``, ``percent``...).
    """

    name: str
    status: Status
    estimate: float
    lower: float
    upper: float
    bound: float
    limit: float
    samples: int
    unit: str
    reason: str
    confidence: float = 0.95
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when the verdict is PASS."""
        return self.status == PASS

    @property
    def failed(self) -> bool:
        """True when the verdict is FAIL."""
        return self.status == FAIL

    @property
    def inconclusive(self) -> bool:
        """True when the verdict is INCONCLUSIVE."""
        return self.status == INCONCLUSIVE

    @property
    def status_text(self) -> str:
        """The status in capitals, as tables show it."""
        return self.status.upper()

    def __str__(self) -> str:
        return f"{self.name}: {self.status_text} ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        """The verdict as plain data (non-finite numbers become None)."""
        data = dataclasses.asdict(self)
        for key in ("estimate", "lower", "upper", "bound", "limit"):
            data[key] = _json_number(float(data[key]))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatVerdict:
        """A verdict from :meth:`to_dict`'s data."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        for key in ("estimate", "lower", "upper", "bound", "limit"):
            if values.get(key) is None:
                values[key] = math.nan
        return cls(**values)
