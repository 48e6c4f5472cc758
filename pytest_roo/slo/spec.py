"""The criteria language: ``p95 < 50ms``, ``delivery.p99 <= 0.1s``, ``error_rate < 1%``...

A criterion is ``[phase.][metric.]stat op number[unit]``; the phase (``before``, ``during``,
``after``, ``after(5s)``) judges the part of a run that overlapped a fault window. Parsing is strict: anything else raises
:class:`CriterionError`, whose message quotes the text and lists the accepted forms.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata

__all__ = ["ACCEPTED_FORMS", "RESOURCE_METRICS", "Criterion", "CriterionError", "parse"]

LATENCY_STATS = ("max", "min", "mean", "stdev")
RATIO_STATS = ("error_rate", "success_rate")
RESULT_STATS = (*RATIO_STATS, "throughput", "errors")
#: k6 spellings accepted as aliases.
ALIASES = {"avg": "mean", "med": "p50", "std": "stdev"}
OPERATORS = ("<", "<=", ">", ">=", "==")

ACCEPTED_FORMS = """accepted forms: [metric.]STAT OP NUMBER[UNIT]
  latency   p50 p75 p90 p95 p99 p99.9 (any pN, also k6's p(95)), max, min, mean (avg), stdev
            units ns, us, ms, s (a bare number is ms, as in k6): 'p95 < 50ms', 'delivery.p99 <= 0.1s'
  rates     error_rate, success_rate with % or a fraction: 'error_rate < 1%', 'success_rate >= 0.95'
  speed     throughput with /s: 'throughput > 500/s'
  counts    count (operations, or samples of metric.count), errors: 'count >= 1000', 'errors == 0'
  resources (the resource timeline of a result; upper limits only, < or <=)
            memory.max, memory.pN, memory.mean with KB, MB, GB (1 KB = 1024 bytes): 'memory.max < 1GB'
            memory.growth with % of the starting floor, or KB/MB/GB: 'memory.growth < 5%'
            memory.slope with KB/min, MB/min, GB/min (or /s, /h): 'memory.slope < 1MB/min'
            memory.after_load with %, the level after the load against the one before it:
            'memory.after_load < 10%'; uss.* as memory.* on unique memory
            cpu.max, cpu.pN, cpu.mean with % of one core (250% = 2.5 cores): 'cpu.p95 < 80%'
  operators < <= > >= ==
  phases    a prefix judging part of a run that overlapped a fault window: before., during.,
            after., after(Ns). (from N s after the fault's end, e.g. after(5s) or after(500ms)):
            'during.error_rate < 20%', 'after.p95 < 100ms', 'after(5s).error_rate < 1%'"""

#: the phase prefixes (``after`` also as ``after(5s)``)
PHASE_NAMES = ("before", "during", "after")
_PHASE_HINT = "a phase prefix is one of before, during, after, after(Ns), e.g. after(5s)"
_PREFIX_RE = re.compile(
    r"^\s*(?P<word>[A-Za-z_][A-Za-z0-9_\-]*)\s*(?:\((?P<arg>[^)]*)\))?\s*\.(?P<rest>.*)$",
    re.DOTALL | re.ASCII)
#: a second ``name.`` before the statistic: the first prefix can only be a phase
_SECOND_PREFIX_RE = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_\-]*\.[A-Za-z_(]", re.ASCII)
_DELAY_RE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s)?\s*$", re.ASCII)

_CRITERION_RE = re.compile(
    r"""^\s*
    (?:(?P<metric>[A-Za-z_][A-Za-z0-9_\-]*)\.)?
    (?P<stat>[pP]\(\s*\d+(?:\.\d+)?\s*\)|[pP]\d+(?:\.\d+)?|[A-Za-z_]+)
    \s*(?P<op><=|>=|==|<|>)\s*
    (?P<num>\d+(?:\.\d+)?|\.\d+)
    \s*(?P<unit>[A-Za-zµ%/][A-Za-z0-9µ%/]*)?
    \s*$""",
    re.VERBOSE | re.ASCII,  # \d is 0-9 only: other scripts' digits are named in the error
)
#: A float tells 15 significant decimal digits apart; a percentile written with more would be
#: silently rounded (p99.99999999999999999 would read as p100, the maximum).
MAX_PERCENTILE_DIGITS = 15
_LATENCY_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
_UNITS = (*_LATENCY_UNITS, "%", "/s")
#: resource metrics of the criteria language -> the timeline series they read (total/<series>)
RESOURCE_METRICS = {"memory": "rss", "uss": "uss", "cpu": "cpu"}
MEMORY_STATS = ("max", "mean", "growth", "slope", "after_load")
CPU_STATS = ("max", "mean")
_BYTES = {"KB": 2.0**10, "MB": 2.0**20, "GB": 2.0**30}
_PER = {"s": 1.0, "min": 60.0, "h": 3600.0}
_MEMORY_UNITS = "KB, MB, GB (1 KB = 1024 bytes)"


class CriterionError(ValueError):
    """A criterion string that is not in the language."""

    def __init__(self, text: object, problem: str) -> None:
        self.text = text
        self.problem = problem
        super().__init__(f"invalid criterion {text!r}: {problem}\n{ACCEPTED_FORMS}")


@dataclasses.dataclass(frozen=True)
class Criterion:
    """A parsed criterion. ``limit`` is in base units: seconds, a fraction, per second, a count,
    bytes, bytes per second (``memory.slope``); CPU is a fraction of one core (0.8 = 80 %)."""

    text: str
    stat: str
    op: str
    limit: float
    kind: str  # "latency" | "ratio" | "rate" | "count" | "memory" | "memory_rate"
    metric: str | None = None
    percentile: float | None = None
    #: the resource timeline series judged (``rss``, ``uss``, ``cpu``); None for load results
    resource: str | None = None
    #: ``before``, ``during`` or ``after``: judge that phase of a run split by fault windows
    phase: str | None = None
    #: with phase ``after``: only what was recorded this many seconds after the fault's end
    delay: float = 0.0

    def holds(self, measured: float) -> bool:
        """True when ``measured`` meets the criterion (NaN never does)."""
        if math.isnan(measured):
            return False
        if self.op == "<":
            return measured < self.limit
        if self.op == "<=":
            return measured <= self.limit
        if self.op == ">":
            return measured > self.limit
        if self.op == ">=":
            return measured >= self.limit
        return measured == self.limit

    @property
    def upper_bound(self) -> bool:
        """True for ``<``/``<=`` criteria: measured values must stay below the limit."""
        return self.op in ("<", "<=")

    def __str__(self) -> str:
        return self.text


def parse(text: str | Criterion) -> Criterion:
    """Parse a criterion string.

    >>> parse("p95 < 50ms").limit
    0.05
    >>> parse("delivery.p(99) <= 0.1s").metric, parse("delivery.p(99) <= 0.1s").percentile
    ('delivery', 99.0)
    >>> parse("error_rate < 1%").limit
    0.01
    """
    if isinstance(text, Criterion):
        return text
    if not isinstance(text, str):
        raise CriterionError(text, f"expected a string, got {type(text).__name__}")
    phased = _parse_phase(text)
    if phased is not None:
        return phased
    return _parse_plain(text)


def _parse_phase(text: str) -> Criterion | None:
    """``during.error_rate < 20%``, ``after(5s).p95 < 100ms``: the criterion after the phase
    prefix, with its phase; None when the text has no phase prefix."""
    match = _PREFIX_RE.match(text)
    if match is None:
        return None
    word, arg, rest = match.group("word"), match.group("arg"), match.group("rest")
    if word not in PHASE_NAMES:
        if arg is not None or _SECOND_PREFIX_RE.match(rest):
            raise CriterionError(text, f"unknown phase {word!r}: {_PHASE_HINT}")
        return None  # a metric name: 'delivery.p99 < 100ms'
    delay = 0.0
    if arg is not None:
        if word != "after":
            raise CriterionError(text, f"only after takes a delay ({word}({arg}) given): "
                                 f"{_PHASE_HINT}")
        found = _DELAY_RE.match(arg)
        if found is None or found.group("unit") is None:
            raise CriterionError(text, f"after({arg}): expected a delay with its unit, e.g. "
                                 "after(5s) or after(500ms)")
        delay = float(found.group("num")) * (0.001 if found.group("unit") == "ms" else 1.0)
    try:
        inner = _parse_plain(rest)
    except CriterionError as exc:
        raise CriterionError(text, exc.problem) from None
    if inner.resource is not None:
        raise CriterionError(text, f"{word}. judges part of a load run; {inner.metric}."
                             f"{inner.stat} is read from a resource timeline, which has no "
                             "phases")
    return dataclasses.replace(inner, text=" ".join(text.split()), phase=word, delay=delay)


def _parse_plain(text: str) -> Criterion:
    """A criterion without a phase prefix."""
    foreign = sorted({ch for ch in text if not ch.isascii() and unicodedata.category(ch) == "Nd"})
    if foreign:
        named = ", ".join(f"{ch!r} ({unicodedata.name(ch, 'a digit')})" for ch in foreign)
        raise CriterionError(text, f"only ASCII digits 0-9 are accepted, not {named}")
    match = _CRITERION_RE.match(text)
    if not match:
        raise CriterionError(text, "does not read as [metric.]STAT OP NUMBER[UNIT]")
    metric = match.group("metric")
    stat = "".join(match.group("stat").lower().split())
    stat = ALIASES.get(stat, stat)
    op = match.group("op")
    written = match.group("num")
    number = float(written)
    if not math.isfinite(number):
        shown = written if len(written) <= 24 else f"{written[:12]}... ({len(written)} digits)"
        raise CriterionError(text, f"the number {shown} is too large to be a limit")
    unit = match.group("unit")
    normalized = " ".join(text.split())
    if metric in RESOURCE_METRICS:
        return _parse_resource(text, normalized, metric, stat, op, number, written, unit)
    if unit is not None and unit not in _UNITS:
        raise CriterionError(text, f"does not read as [metric.]STAT OP NUMBER[UNIT]: unknown "
                             f"unit {unit!r} (units: us, ms, s, %, /s; KB, MB, GB and /min "
                             "for memory.*)")
    if op == "<" and number == 0:
        raise CriterionError(text, f"can never pass: {stat} is never below 0")

    percentile: float | None = None
    if re.fullmatch(r"p\(?[0-9.]+\)?", stat):
        label = _percentile_label(text, stat.strip("p()"))
        percentile = float(label)
        if not 0 < percentile <= 100:
            raise CriterionError(text, f"percentile {label} is not between 0 and 100")
        stat = f"p{label}"

    if percentile is not None or stat in LATENCY_STATS:
        if unit in ("%", "/s"):
            raise CriterionError(text, f"{stat} is a latency: use ns, us, ms or s, not {unit!r}")
        limit = number * _LATENCY_UNITS[unit or "ms"]
        return Criterion(normalized, stat, op, limit, "latency", metric, percentile)

    if stat in RATIO_STATS:
        if metric:
            raise CriterionError(text, f"{stat} belongs to the whole result, not to metric {metric!r}; "
                                 f"{_PHASE_HINT}")
        if unit not in (None, "%"):
            raise CriterionError(text, f"{stat} is a share: use % or a fraction, not {unit!r}")
        if unit is None and number >= 1:
            # 'error_rate < 1' reads as "below 100 %": a limit that never fails
            raise CriterionError(
                text, f"a bare number is a fraction of 1 and {written} means {number:.0%}: "
                f"did you mean {written}%? (write 100% for all)")
        fraction = number / 100.0 if unit == "%" else number
        if not 0.0 <= fraction <= 1.0:
            raise CriterionError(text, f"{stat} must lie between 0% and 100%")
        if op == ">" and fraction == 1.0:
            raise CriterionError(text, f"can never pass: {stat} is never above 100%")
        return Criterion(normalized, stat, op, fraction, "ratio")

    if stat == "throughput":
        if metric:
            raise CriterionError(text, f"throughput belongs to the whole result, not to metric {metric!r}; "
                                 f"{_PHASE_HINT}")
        if unit not in (None, "/s"):
            raise CriterionError(text, f"throughput is per second: use /s, not {unit!r}")
        return Criterion(normalized, stat, op, number, "rate")

    if stat in ("count", "errors"):
        if metric and stat == "errors":
            raise CriterionError(text, f"errors belongs to the whole result, not to metric {metric!r}; "
                                 f"{_PHASE_HINT}")
        if unit is not None:
            raise CriterionError(text, f"{stat} is a plain count: no unit, got {unit!r}")
        if not number.is_integer():
            raise CriterionError(text, f"{stat} is a whole number, got {written}")
        return Criterion(normalized, stat, op, number, "count", metric)

    raise CriterionError(text, f"unknown statistic {match.group('stat')!r}")


def _parse_resource(text: str, normalized: str, metric: str, stat: str, op: str, number: float,
                    written: str, unit: str | None) -> Criterion:
    """``memory.max < 1GB``, ``memory.growth < 5%``, ``memory.slope < 1MB/min``,
    ``memory.after_load < 10%``, ``cpu.p95 < 80%``: base units bytes, bytes per second, and
    fractions (growth and return ratios; CPU as a fraction of one core)."""
    series = RESOURCE_METRICS[metric]
    if op not in ("<", "<="):
        raise CriterionError(text, f"{metric}.{stat} is a resource limit: use < or <=, not {op!r}")
    if op == "<" and number == 0:
        raise CriterionError(text, f"can never pass: {metric}.{stat} is never below 0")
    percentile: float | None = None
    if re.fullmatch(r"p\(?[0-9.]+\)?", stat):
        label = _percentile_label(text, stat.strip("p()"))
        percentile = float(label)
        if not 0 < percentile < 100:
            raise CriterionError(text, f"percentile {label} of {metric} is not between 0 and 100 "
                                 f"(use {metric}.max for the maximum)")
        stat = f"p{label}"
    if series == "cpu":
        if percentile is None and stat not in CPU_STATS:
            raise CriterionError(text, f"unknown statistic {stat!r} of cpu: use cpu.max, "
                                 "cpu.mean or cpu.pN (e.g. cpu.p95)")
        if unit != "%":
            raise CriterionError(text, f"{metric}.{stat} is a share of one core: use %, e.g. "
                                 f"'{metric}.{stat} < 80%' (got {_shown(unit)})")
        return Criterion(normalized, stat, op, number / 100.0, "ratio", metric, percentile,
                         resource=series)
    if percentile is None and stat not in MEMORY_STATS:
        raise CriterionError(text, f"unknown statistic {stat!r} of {metric}: use "
                             f"{', '.join(f'{metric}.{s}' for s in MEMORY_STATS)} or "
                             f"{metric}.pN")
    if stat in ("growth", "after_load") and unit == "%":
        return Criterion(normalized, stat, op, number / 100.0, "ratio", metric, resource=series)
    if stat == "after_load":
        raise CriterionError(text, f"{metric}.after_load is relative to the level before the "
                             f"load: use %, e.g. '{metric}.after_load < 10%' (got "
                             f"{_shown(unit)})")
    size, _, per = (unit or "").partition("/")
    if stat == "slope":
        if size not in _BYTES or per not in _PER:
            raise CriterionError(text, f"{metric}.slope is a growth per time: use KB, MB or GB "
                                 f"per min, s or h, e.g. '{metric}.slope < 1MB/min' (got "
                                 f"{_shown(unit)})")
        return Criterion(normalized, stat, op, number * _BYTES[size] / _PER[per], "memory_rate",
                         metric, resource=series)
    if size not in _BYTES or per:
        accepted = _MEMORY_UNITS + (" or %" if stat == "growth" else "")
        raise CriterionError(text, f"{metric}.{stat} is an amount of memory: use {accepted}, "
                             f"e.g. '{metric}.{stat} < {written}{'%' if stat == 'growth' else 'MB'}'"
                             f" (got {_shown(unit)})")
    return Criterion(normalized, stat, op, number * _BYTES[size], "memory", metric, percentile,
                     resource=series)


def _percentile_label(text: str, digits: str) -> str:
    """The percentile as written, without redundant zeros: '99.90' -> '99.9', '095' -> '95'."""
    whole, _, fraction = digits.partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    label = f"{whole}.{fraction}" if fraction else whole
    significant = (whole + fraction).lstrip("0")
    if len(significant) > MAX_PERCENTILE_DIGITS:
        raise CriterionError(
            text, f"percentile {digits} has {len(significant)} significant digits; at most "
            f"{MAX_PERCENTILE_DIGITS} can be told apart")
    return label


def _shown(unit: str | None) -> str:
    return repr(unit) if unit else "no unit"
