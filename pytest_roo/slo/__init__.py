"""The criteria language and its verdicts.

    from pytest_roo import slo

    slo.parse("p95 < 50ms")                       # -> Criterion, or CriterionError
    slo.check(result, "p95 < 50ms", "error_rate < 1%")   # AssertionError with a table on failure
    slo.check(benchmark, "p95 < 100ms")           # pytest-benchmark's fixture, after it ran
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_roo.results.metrics import LoadResult
from pytest_roo.results.verdict import Verdict, format_verdicts
from pytest_roo.slo.confidence import DEFAULT_CONFIDENCE
from pytest_roo.slo.judge import SloFailure, abort_check, evaluate, lost_early
from pytest_roo.slo.spec import ACCEPTED_FORMS, Criterion, CriterionError, parse

__all__ = [
    "ACCEPTED_FORMS",
    "Criterion",
    "CriterionError",
    "NothingMeasured",
    "SloFailure",
    "Verdict",
    "abort_check",
    "as_result",
    "check",
    "evaluate",
    "format_verdicts",
    "lost_early",
    "parse",
]

class NothingMeasured(Exception):
    """The subject measured nothing by design (pytest-benchmark disabled): a test that judges
    it is skipped with this reason rather than failed or passed."""


def as_result(subject: Any) -> LoadResult:
    """A LoadResult from a LoadResult, or from pytest-benchmark's ``benchmark`` fixture after it ran.

    A benchmark becomes one latency metric ``round`` kept in nanoseconds, one sample per round:
    pytest-benchmark times a round of ``iterations`` calls (calibrated so that a round is long
    enough for the timer) and keeps the round's time per call, so percentiles are over rounds,
    not single calls. Raises :class:`NothingMeasured` when benchmarking is disabled.
    """
    if isinstance(subject, LoadResult):
        return subject
    if hasattr(subject, "pedantic") and getattr(subject, "disabled", False) is True:
        raise NothingMeasured(_why_benchmark_disabled())
    stats = getattr(subject, "stats", None)
    inner = getattr(stats, "stats", None)
    data = getattr(inner, "data", None)
    if data is not None:
        name = str(getattr(subject, "name", None) or getattr(stats, "name", "benchmark"))
        return LoadResult.from_samples(name, data, metric="round", unit="ns")
    if stats is None and hasattr(subject, "pedantic"):
        raise TypeError("the benchmark fixture has not run yet: call benchmark(fn) before slo.check")
    raise TypeError(
        f"slo.check needs a LoadResult or pytest-benchmark's benchmark fixture, "
        f"got {type(subject).__name__}"
    )


def _why_benchmark_disabled() -> str:
    import os

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        why = (f"pytest-benchmark disables itself under pytest-xdist (this is worker {worker}): "
               "run the benchmarks in one process, with -p no:xdist or -n 0")
    else:
        why = ("pytest-benchmark is disabled (--benchmark-disable, or benchmark_disable in the "
               "configuration): run without it, or add --benchmark-enable")
    return f"{why}; it measured nothing, so nothing is judged"


def check(
    subject: Any,
    *criteria: str | Criterion | Iterable[str | Criterion],
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[Verdict]:
    """Judge every criterion; raise :class:`SloFailure` (an AssertionError) unless all pass.

    Rates and percentiles are judged on one-sided ``confidence`` bounds (PASS, FAIL or
    INCONCLUSIVE; an inconclusive verdict does not pass); ``confidence=0`` judges the bare point
    estimate (see :func:`evaluate`).

    The message is a table of all verdicts. Returns the verdicts when all pass. A pure function:
    inside a test, a failing check that escapes the test lands in the session report (the
    plugin reads the SloFailure); to put passing verdicts there too, use the ``roo_record``
    fixture: ``roo_record(result, "p95 < 50ms")``.
    """
    __tracebackhide__ = True
    flat: list[str | Criterion] = []
    for item in criteria:
        if isinstance(item, (str, Criterion)):
            flat.append(item)
        elif isinstance(item, Iterable) and not isinstance(item, (bytes, bytearray, memoryview)):
            flat.extend(item)  # each one is checked by parse()
        else:
            raise CriterionError(
                item, f"slo.check takes criteria as strings ('p95 < 50ms'), Criterion objects "
                f"or lists of them, not {type(item).__name__}")
    if not flat:
        raise ValueError(f"slo.check needs at least one criterion\n{ACCEPTED_FORMS}")
    parsed = [parse(c) for c in flat]
    result = as_result(subject)
    verdicts = evaluate(result, parsed, confidence)
    if not all(v.passed for v in verdicts):
        raise SloFailure(verdicts, result=result)
    return verdicts
