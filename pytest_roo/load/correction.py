"""Closed-model latency correction shared by the drivers (WebSocket echo, Redis commands).

A closed loop sends its next operation only when the last one answered, so a stalled server
silences the generator (coordinated omission). HdrHistogram's expected-interval correction
back-fills the samples a stall hid; the expected interval is the think time plus the median
latency of the run's first half second, taken before a stall can skew it.
"""

from __future__ import annotations

import asyncio

from pytest_roo.load.recorder import Recorder

__all__ = ["correct_when_started", "refine_interval"]


async def refine_interval(rec: Recorder, metric: str, think: float, enabled: bool) -> None:
    """Closed-model correction: the expected interval between a user's sends is the think time
    plus the median round trip, taken from the first full second (before a stall can skew it)."""
    if not enabled:
        return
    import numpy as np

    await asyncio.sleep(0.5)
    buf = rec.batches.get(metric)
    if buf is not None and len(buf) > 10:
        median = int(np.median(np.frombuffer(buf, dtype=np.int64)))
        rec.correct(metric, max(1, int(think * 1e6) + median), rec.raw_twins.get(metric))
        rec.result.info["expected_interval_us"] = rec.corrections[metric]


async def correct_when_started(rec: Recorder, metric: str, think: float) -> None:
    """Once the measured window begins (connections up), record ``metric`` with the
    expected-interval correction and keep ``<metric>_raw``; the interval is then refined as
    :func:`refine_interval` says (``info["expected_interval_us"]``)."""
    while "setup_seconds" not in rec.result.info:
        await asyncio.sleep(0.02)
    rec.correct(metric, max(1, int(think * 1e6)) + 1000, metric + "_raw")
    await refine_interval(rec, metric, think, True)
