"""The data the HTML report carries besides its tables: the chart series of each load result
(drawn in the browser by uPlot) and the facts of the host that wrote the report.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from typing import Any

from pytest_roo.report import figures
from pytest_roo.report.capacity_curve import capacity_curve

__all__ = ["host_facts", "result_figures"]

def result_figures(result: Mapping[str, Any], max_points: int = figures.MAX_POINTS) -> dict[str, Any]:
    """Every chart series of one LoadResult document (the part of the page's data it needs)."""
    from pytest_roo.results.metrics import LatencyMetric

    histograms = {}
    for name, body in (result.get("metrics") or {}).items():
        encoded = body.get("hdr") if isinstance(body, Mapping) else None
        if encoded:
            unit = str(body.get("unit") or "us")
            histograms[name] = LatencyMetric.decode(name, encoded, unit).microsecond_histogram()
    info = result.get("info") or {}
    resources = info.get("resources") if isinstance(info, Mapping) else None
    timeline = figures.downsample_timeline(result.get("timeline") or [], max_points)
    # a result compared against a baseline: the baseline drawn beside it (see roo-baseline)
    overlay = info.get("baseline") if isinstance(info, Mapping) else None
    if isinstance(overlay, Mapping):
        label = f"baseline {overlay.get('name', '')}"
        body = overlay.get("metric")
        if isinstance(body, Mapping) and body.get("hdr"):
            name = f"{overlay.get('primary')} ({label})"
            histograms[name] = _microsecond_histogram(name, body)
        figures.overlay_baseline(timeline, overlay.get("timeline") or [], label, max_points)
    return {
        "timeline": timeline,
        "spectrum": figures.spectrum(histograms),
        "histogram": figures.latency_histogram(histograms),
        "capacity": capacity_curve(info.get("capacity")) if isinstance(info, Mapping) else None,
        "resources": (
            None if resources is None
            else figures.resource_timeline(resources, float(result.get("started_at") or 0),
                                           max_points)
        ),
    }


def _microsecond_histogram(name: str, body: Mapping[str, Any]) -> Any:
    """A metric document's histogram in microseconds, as the charts draw every metric."""
    from pytest_roo.results.metrics import LatencyMetric

    unit = str(body.get("unit") or "us")
    metric = LatencyMetric.decode(name, body["hdr"], *([unit] if unit != "us" else []))
    to_microseconds = getattr(metric, "microsecond_histogram", None)
    return metric.histogram if to_microseconds is None else to_microseconds()


def host_facts() -> dict[str, Any]:
    """Facts of the machine that writes the report (the one that ran the session)."""
    facts: dict[str, Any] = {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        facts["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not on every platform
        pass
    return facts
