"""What every confidence bound shares: the :class:`Bounds` record, the default confidence, and
the checks of its arguments.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

__all__ = ["DEFAULT_CONFIDENCE", "Bounds"]

DEFAULT_CONFIDENCE = 0.95
Status = Literal["pass", "fail", "inconclusive"]
Side = Literal["upper", "lower"]


def _check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, (int, float)) and 0.0 <= confidence < 1.0):
        raise ValueError(
            f"confidence must be a number in [0, 1) (0 means the bare point estimate), "
            f"got {confidence!r}"
        )


def _check_counts(events: int, trials: int) -> None:
    if trials < 0 or events < 0 or events > trials:
        raise ValueError(f"need 0 <= events <= trials, got events={events!r} trials={trials!r}")


@dataclasses.dataclass(frozen=True)
class Bounds:
    """A point estimate and its one-sided bounds, each holding with probability >= confidence.

    ``samples`` is what they rest on (trials for a rate, observations for a percentile).
    """

    estimate: float
    lower: float
    upper: float
    confidence: float
    samples: int
