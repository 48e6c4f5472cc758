"""Latency distributions for the charts, from an HdrHistogram: its buckets, values at given
percentiles, the percentile spectrum (ten points per decade of ``1 / (1 - percentile)``) and a
log-spaced histogram of :data:`HISTOGRAM_BINS` bins. numpy is imported where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram


from pytest_roo.report.series import _sig

__all__ = ["HISTOGRAM_BINS", "histogram_buckets", "latency_histogram", "spectrum", "values_at_percentiles"]

#: Bins of the latency histogram (log-spaced between the smallest and the largest value).
HISTOGRAM_BINS = 60
#: Points of the percentile spectrum per decade of 1 / (1 - percentile).
SPECTRUM_STEPS_PER_DECADE = 10


def histogram_buckets(hist: HdrHistogram) -> tuple[Any, Any, Any]:
    """The non-empty buckets of an HdrHistogram as numpy arrays (lowest, highest, count).

    Vectorised from HdrHistogram's index arithmetic (``get_value_from_index``), so a spectrum
    costs a few array operations instead of a Python loop over every bucket per percentile.
    """
    import numpy as np

    counts = np.frombuffer(hist.counts, dtype=np.int64)[: hist.counts_len]
    index = np.nonzero(counts)[0].astype(np.int64)
    bucket = (index >> hist.sub_bucket_half_count_magnitude) - 1
    sub = (index & (hist.sub_bucket_half_count - 1)) + hist.sub_bucket_half_count
    first = bucket < 0
    sub = np.where(first, sub - hist.sub_bucket_half_count, sub)
    bucket = np.where(first, 0, bucket)
    shift = bucket + hist.unit_magnitude
    lowest = sub << shift
    highest = lowest + (np.int64(1) << shift) - 1
    return lowest, highest, counts[index]


def values_at_percentiles(hist: HdrHistogram, percentiles: Iterable[float]) -> list[float]:
    """``hist.get_value_at_percentile(p)`` for many ``p`` at once (same rounding rules)."""
    import numpy as np

    wanted = [float(p) for p in percentiles]
    total = int(hist.total_count)
    if total == 0:
        return [math.nan for _ in wanted]
    lowest, highest, counts = histogram_buckets(hist)
    cumulative = np.cumsum(counts)
    out: list[float] = []
    for p in wanted:
        target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
        i = min(int(np.searchsorted(cumulative, target, side="left")), len(counts) - 1)
        out.append(float(highest[i] if p else lowest[i]))
    return out


def spectrum(
    histograms: Mapping[str, HdrHistogram], steps_per_decade: int = SPECTRUM_STEPS_PER_DECADE
) -> dict[str, Any]:
    """The percentile spectrum of each metric on one shared x axis, as HdrHistogram plots it.

    ``x`` is ``1 / (1 - percentile)``: 1 is the median's neighbour 0 %, 10 is 90 %, 100 is 99 %,
    and so on, drawn on a log scale so that every "nine" gets the same width. Points are spaced
    ``steps_per_decade`` to a decade up to the largest sample count (beyond it a percentile is
    not resolved by the data), and each metric ends with its maximum at ``x = count``. Values
    are milliseconds; a metric has ``None`` where its own samples do not reach.
    """
    counts = {name: int(h.total_count) for name, h in histograms.items() if h.total_count}
    if not counts:
        return {"x": [], "percentile": [], "series": {}, "counts": {}}
    top = max(counts.values())
    grid = [10 ** (k / steps_per_decade) for k in range(0, 10 * steps_per_decade + 1)]
    grid = [x for x in grid if x < top] + [float(top)]
    grid = sorted(set(grid + [float(c) for c in counts.values()]))
    percentiles = [100.0 * (1.0 - 1.0 / x) for x in grid]
    series: dict[str, list[float | None]] = {}
    for name, hist in histograms.items():
        n = counts.get(name)
        if not n:
            continue
        values = values_at_percentiles(hist, [p if x < n else 100.0 for p, x in zip(
            percentiles, grid, strict=True)])
        series[name] = [
            _sig(v / 1000) if x <= n else None for v, x in zip(values, grid, strict=True)
        ]
    return {
        "x": [_sig(x, 6) for x in grid],
        "percentile": [_sig(p, 8) for p in percentiles],
        "series": series,
        "counts": counts,
    }


def latency_histogram(
    histograms: Mapping[str, HdrHistogram], bins: int = HISTOGRAM_BINS
) -> dict[str, Any]:
    """Sample counts per log-spaced latency bin, one series per metric on shared bins.

    Bins span the smallest to the largest recorded value over all metrics; ``x`` holds each
    bin's lower edge in milliseconds (the chart draws steps from there).
    """
    import numpy as np

    parts = {name: histogram_buckets(h) for name, h in histograms.items() if h.total_count}
    if not parts:
        return {"x": [], "series": {}}
    low = float(min(int(lowest.min()) for lowest, _, _ in parts.values()))
    high = float(max(int(highest.max()) for _, highest, _ in parts.values()))
    low = max(low, 1.0)
    high = max(high, low * 1.001)
    edges = np.geomspace(low, high + 1, bins + 1)
    series: dict[str, list[int]] = {}
    for name, (lowest, highest, counts) in parts.items():
        mid = (lowest + highest) / 2.0
        weights, _ = np.histogram(np.clip(mid, edges[0], edges[-1]), bins=edges, weights=counts)
        series[name] = [int(w) for w in weights]
    return {"x": [_sig(e / 1000) for e in edges[:-1]], "series": series}
