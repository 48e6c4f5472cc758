"""What every chart series of the HTML report shares: the bound on a timeline's rows and the
rounding of its values to a few significant digits.
"""

from __future__ import annotations

import math

__all__ = ["MAX_POINTS"]

#: Rows of a timeline chart at most; a longer run is folded into buckets of several seconds.
MAX_POINTS = 600


def _sig(value: float | None, digits: int = 4) -> float | None:
    """Round to a few significant digits: the page shows three, and JSON stays short."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")
