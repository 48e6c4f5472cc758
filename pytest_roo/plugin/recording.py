"""What one test recorded (results, verdicts, notes), kept in ``item.stash``; its slo marker spec.

No global state: every test has its own :class:`Recording`. Fixtures add results to it, the
marker's criteria are judged into it when the test body ends, verdicts of an explicit
``slo.check`` that fails the test are taken from the escaping :class:`SloFailure`, and the
``pytest_roo_result_recorded`` hook fires once per result, with all of its verdicts.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from pytest_roo.results.metrics import LoadResult
    from pytest_roo.results.verdict import Verdict

__all__ = [
    "DEFAULT_MAX_ITERATIONS",
    "SLO_KWARGS", "Recording", "SloSpec", "get_recording", "get_slo_spec", "parse_slo_markers"]

SLO_KWARGS = ("iterations", "max_iterations", "abort_on_fail", "pool", "concurrency")
#: ``iterations="auto"`` stops at this many iterations when no ``max_iterations`` is given: enough
#: for "success_rate >= 95%" (a clean flow passes after 89) and ">= 99%" (after 342)
DEFAULT_MAX_ITERATIONS = 600
#: ``pool=``: over what the rate criteria of an iterating test are judged
POOLS = ("matrix",)


@dataclasses.dataclass(frozen=True)
class SloSpec:
    """Every ``slo`` marker of a test (function, class, module) merged and validated."""

    criteria: tuple[str, ...]
    #: a fixed count, "auto" (until the rate criteria are decided), or None (run once)
    iterations: int | Literal["auto"] | None = None
    abort_on_fail: bool = False
    #: the most iterations "auto" runs (None for a fixed count)
    max_iterations: int | None = None
    #: ``"matrix"``: rate criteria judged over the iterations of every cell of the browser
    #: matrix together (see :mod:`pytest_roo.plugin.pooling`); None: over this test's own
    pool: str | None = None
    #: iterations run at a time (interleaved on the cell's browser); 1: one after the other
    concurrency: int = 1


SLO_SPEC_KEY = pytest.StashKey[SloSpec]()
RECORDING_KEY = pytest.StashKey["Recording"]()


def parse_slo_markers(item: pytest.Item) -> SloSpec | None:
    """All ``slo`` markers of an item as one spec; ValueError naming what is wrong.

    Criteria of every level add up (closest first, duplicates dropped); ``iterations`` given at
    two levels with different values is an error rather than a silent choice.
    """
    from pytest_roo import slo

    markers = list(item.iter_markers("slo"))
    if not markers:
        return None
    criteria: list[str] = []
    iterations: int | Literal["auto"] | None = None
    max_iterations: int | None = None
    abort_on_fail = False
    pool: str | None = None
    concurrency: Any = 1
    concurrency_given: Any = None
    for marker in markers:
        unknown = sorted(set(marker.kwargs) - set(SLO_KWARGS))
        if unknown:
            raise ValueError(
                f"@pytest.mark.slo got unknown argument {unknown[0]!r}; "
                f"accepted: criteria strings and {', '.join(SLO_KWARGS)}"
            )
        for arg in marker.args:
            if not isinstance(arg, str):
                raise ValueError(
                    f"@pytest.mark.slo got {arg!r} ({type(arg).__name__}): expected a string "
                    "criterion such as 'p95 < 50ms'"
                )
            slo.parse(arg)  # raises CriterionError naming the text and the accepted forms
            if arg not in criteria:
                criteria.append(arg)
        if "iterations" in marker.kwargs:
            value = marker.kwargs["iterations"]
            if value != "auto" and (isinstance(value, bool) or not isinstance(value, int)
                                    or value < 1):
                raise ValueError(
                    f"@pytest.mark.slo(iterations={value!r}): expected a whole number >= 1 "
                    "or \"auto\" (run until the rate criteria are decided)"
                )
            if iterations is not None and value != iterations:
                raise ValueError(
                    f"@pytest.mark.slo(iterations=...) is given twice with different values "
                    f"({iterations!r} and {value!r}); keep one"
                )
            iterations = value
        if "max_iterations" in marker.kwargs:
            value = marker.kwargs["max_iterations"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"@pytest.mark.slo(max_iterations={value!r}): expected a whole number >= 1 "
                    "(the most iterations iterations=\"auto\" runs)"
                )
            if max_iterations is not None and value != max_iterations:
                raise ValueError(
                    f"@pytest.mark.slo(max_iterations=...) is given twice with different values "
                    f"({max_iterations} and {value}); keep one"
                )
            max_iterations = value
        if "abort_on_fail" in marker.kwargs:
            value = marker.kwargs["abort_on_fail"]
            if not isinstance(value, bool):
                raise ValueError(f"@pytest.mark.slo(abort_on_fail={value!r}): expected True or False")
            abort_on_fail = abort_on_fail or value
        if "pool" in marker.kwargs:
            value = marker.kwargs["pool"]
            if value not in POOLS:
                raise ValueError(f"@pytest.mark.slo(pool={value!r}): expected one of "
                                 f"{', '.join(map(repr, POOLS))}")
            pool = pool or value
        if "concurrency" in marker.kwargs and concurrency_given is None:
            concurrency_given = concurrency = marker.kwargs["concurrency"]  # the closest wins
    if pool is not None and iterations is None:
        raise ValueError(
            f"@pytest.mark.slo(pool={pool!r}) pools the iterations of the matrix cells: give "
            "iterations=N as well"
        )
    if pool == "matrix" and "roo_cell" not in getattr(item, "fixturenames", ()):
        raise ValueError(
            "@pytest.mark.slo(pool='matrix') needs a browser matrix test (one that uses "
            "roo_page, roo_context or roo_new_context)"
        )
    if not criteria:
        raise ValueError(
            "@pytest.mark.slo needs at least one criterion, e.g. @pytest.mark.slo('p95 < 50ms')"
        )
    if max_iterations is not None and iterations != "auto":
        raise ValueError(
            f"@pytest.mark.slo(max_iterations={max_iterations}) goes with iterations=\"auto\" "
            f"only (got iterations={iterations!r}); a fixed count is already its own maximum"
        )
    if pool is not None and iterations == "auto":
        raise ValueError(
            f"@pytest.mark.slo(pool={pool!r}) needs a fixed iterations=N (the size of the pool), "
            "not iterations=\"auto\""
        )
    if iterations == "auto":
        max_iterations = max_iterations or DEFAULT_MAX_ITERATIONS
        from pytest_roo.plugin.iterations import sequential_plans
        from pytest_roo.plugin.options import get_settings

        # raises ValueError naming what cannot be decided sequentially
        sequential_plans(criteria, get_settings(item.config).confidence, max_iterations)
    if concurrency_given is not None:
        from pytest_roo.plugin.iterations import validate_concurrency

        concurrency = validate_concurrency(concurrency, iterations,
                                           tuple(getattr(item, "fixturenames", ())))
    return SloSpec(tuple(criteria), iterations, abort_on_fail, max_iterations, pool, concurrency)


def get_slo_spec(item: pytest.Item) -> SloSpec | None:
    """The test's merged marker spec (parsed at setup), or None without a marker."""
    return item.stash.get(SLO_SPEC_KEY, None)


class Recording:
    """Results, verdicts and notes of one test; what is not yet in a test report is "unsent"."""

    def __init__(self) -> None:
        self.results: list[LoadResult] = []
        #: (index of the result in ``results``, verdict)
        self.verdicts: list[tuple[int, Verdict]] = []
        self.notes: list[str] = []
        self._announced = 0
        self._sent_results = 0
        self._sent_verdicts = 0
        self._sent_notes = 0

    def add_result(self, result: LoadResult) -> int:
        """Add ``result`` (once) and return its index; anything but a LoadResult is a TypeError
        naming it."""
        from pytest_roo.results.metrics import LoadResult

        if not isinstance(result, LoadResult):
            raise TypeError(
                f"pytest-roo can record a LoadResult (from a load fixture, LoadResult.from_samples "
                f"or slo.as_result), not {type(result).__name__}: {result!r:.80}"
            )
        for index, known in enumerate(self.results):
            if known is result:
                return index
        self.results.append(result)
        return len(self.results) - 1

    def add_verdicts(self, result: LoadResult, verdicts: list[Verdict]) -> None:
        """Add ``verdicts`` judged on ``result``, recording the result too if needed."""
        index = self.add_result(result)
        known = {id(v) for _, v in self.verdicts}
        self.verdicts.extend((index, v) for v in verdicts if id(v) not in known)

    def announce(self, item: pytest.Item) -> None:
        """Fire ``pytest_roo_result_recorded`` once for each result not announced yet."""
        while self._announced < len(self.results):
            index = self._announced
            self._announced += 1
            verdicts = [v for i, v in self.verdicts if i == index]
            item.config.hook.pytest_roo_result_recorded(
                item=item, result=self.results[index], verdicts=verdicts
            )

    def unsent_payload(self) -> dict[str, Any] | None:
        """What was recorded since the last call, JSON-ready, as a test report carries it."""
        results = self.results[self._sent_results :]
        verdicts = self.verdicts[self._sent_verdicts :]
        notes = self.notes[self._sent_notes :]
        if not (results or verdicts or notes):
            return None
        # counted as sent even when serialising fails: a bad object fails one report, not all
        self._sent_results = len(self.results)
        self._sent_verdicts = len(self.verdicts)
        self._sent_notes = len(self.notes)
        return {
            "results": [r.to_dict() for r in results],
            "verdicts": [v.to_dict() for _, v in verdicts],
            "notes": notes,
        }


def get_recording(item: pytest.Item) -> Recording:
    """The test's recording (created on first use)."""
    recording = item.stash.get(RECORDING_KEY, None)
    if recording is None:
        recording = item.stash[RECORDING_KEY] = Recording()
    return recording
