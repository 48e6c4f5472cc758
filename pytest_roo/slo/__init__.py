"""The criteria language and its verdicts.

    from pytest_roo import slo

    slo.parse("p95 < 50ms")                       # -> Criterion, or CriterionError
    slo.check(result, "p95 < 50ms", "error_rate < 1%")   # AssertionError with a table on failure
    slo.check(benchmark, "p95 < 100ms")           # pytest-benchmark's fixture, after it ran
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pytest_roo.load.metrics import LoadResult
from pytest_roo.slo.spec import ACCEPTED_FORMS, Criterion, CriterionError, parse
from pytest_roo.slo.verdict import SloFailure, Verdict, evaluate, format_verdicts, lost_early

__all__ = [
    "ACCEPTED_FORMS",
    "Criterion",
    "CriterionError",
    "SloFailure",
    "Verdict",
    "as_result",
    "check",
    "evaluate",
    "format_verdicts",
    "lost_early",
    "parse",
]

#: Called with (result, verdicts) by every check; the pytest plugin installs one per test so
#: explicit checks land in the session report too.
Sink = Callable[[LoadResult, list[Verdict]], None]
_sinks: list[Sink] = []


def add_sink(sink: Sink) -> None:
    _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


def as_result(subject: Any) -> LoadResult:
    """A LoadResult from a LoadResult, or from pytest-benchmark's ``benchmark`` fixture after it ran.

    A benchmark becomes one latency metric ``round`` holding the timing of every round.
    """
    if isinstance(subject, LoadResult):
        return subject
    stats = getattr(subject, "stats", None)
    inner = getattr(stats, "stats", None)
    data = getattr(inner, "data", None)
    if data is not None:
        name = str(getattr(subject, "name", None) or getattr(stats, "name", "benchmark"))
        return LoadResult.from_samples(name, data, metric="round")
    if stats is None and hasattr(subject, "pedantic"):
        raise TypeError("the benchmark fixture has not run yet: call benchmark(fn) before slo.check")
    raise TypeError(
        f"slo.check needs a LoadResult or pytest-benchmark's benchmark fixture, "
        f"got {type(subject).__name__}"
    )


def check(subject: Any, *criteria: str | Criterion | Iterable[str | Criterion]) -> list[Verdict]:
    """Judge every criterion; raise :class:`SloFailure` (an AssertionError) if any fails.

    The message is a table of all verdicts. Returns the verdicts when all pass.
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
    verdicts = evaluate(result, parsed)
    if _sinks:  # the innermost test being run (pytester may nest sessions)
        _sinks[-1](result, verdicts)
    if not all(v.passed for v in verdicts):
        raise SloFailure(verdicts)
    return verdicts
