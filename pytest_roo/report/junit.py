"""Verdicts as JUnit XML properties, so that CI systems reading ``--junitxml`` show them.

Each verdict becomes a group of ``<property>`` elements numbered in the order the test judged
them: ``roo.verdict.1.criterion``, ``.result``, ``.measured``, ``.limit``, ``.status``,
``.samples`` (and ``.reason``, ``.bound`` where there is one). Values are the texts the
terminal table prints. No pytest import: the plugin hands the pairs to ``user_properties``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_roo.report.figures import status_of

__all__ = ["PREFIX", "verdict_properties"]

PREFIX = "roo.verdict"


def verdict_properties(
    verdicts: Iterable[Mapping[str, Any]], existing: Iterable[tuple[str, object]] = ()
) -> list[tuple[str, str]]:
    """(name, value) pairs for the verdict dicts (``Verdict.to_dict()``).

    Numbering goes on after the verdicts already among ``existing`` properties (a test's
    verdicts can arrive in several reports: setup, call, teardown).

    >>> verdict_properties([{"criterion": "p95 < 50ms", "result": "http", "metric": "request",
    ...     "measured_text": "2.08 ms", "limit_text": "< 50.0 ms", "samples": 2500,
    ...     "passed": True}])  # doctest: +NORMALIZE_WHITESPACE
    [('roo.verdict.1.criterion', 'p95 < 50ms'), ('roo.verdict.1.result', 'http / request'),
     ('roo.verdict.1.measured', '2.08 ms'), ('roo.verdict.1.limit', '< 50.0 ms'),
     ('roo.verdict.1.status', 'PASS'), ('roo.verdict.1.samples', '2500')]
    """
    start = 1 + sum(
        1 for name, _ in existing if str(name).startswith(PREFIX + ".")
        and str(name).endswith(".criterion")
    )
    pairs: list[tuple[str, str]] = []
    for number, verdict in enumerate(verdicts, start=start):
        key = f"{PREFIX}.{number}"
        result = str(verdict.get("result", ""))
        if verdict.get("metric"):
            result += f" / {verdict['metric']}"
        pairs += [
            (f"{key}.criterion", str(verdict.get("criterion", ""))),
            (f"{key}.result", result),
            (f"{key}.measured", str(verdict.get("measured_text") or _plain(verdict.get("measured")))),
            (f"{key}.limit", str(verdict.get("limit_text") or _plain(verdict.get("limit")))),
            (f"{key}.status", status_of(verdict).upper()),
            (f"{key}.samples", str(verdict.get("samples", 0))),
        ]
        if verdict.get("bound_text"):
            pairs.append((f"{key}.bound", str(verdict["bound_text"])))
        elif verdict.get("bound") is not None:
            pairs.append((f"{key}.bound", _plain(verdict["bound"])))
        if verdict.get("reason"):
            pairs.append((f"{key}.reason", str(verdict["reason"])))
    return pairs


def _plain(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)
