"""The regression rules of ``--roo-regression``: how far a result may move from its baseline.

``p95:+10%`` the p95 may rise by 10 % of the baseline's p95; ``p99:+2ms`` by 2 ms;
``throughput:-5%`` successful operations per second may fall by 5 %; ``error_rate:+0.1%`` the
error rate may rise by 0.1 percentage points (an absolute change: a relative one means nothing
on a baseline without errors); ``success_rate:-0.1%`` likewise. A latency rule may name its
metric: ``delivery.p99:+10%``; without one it is the result's primary metric.
"""

from __future__ import annotations

import dataclasses
import math
import re

__all__ = ["ACCEPTED_FORMS", "DEFAULT_RULES", "Rule", "RuleError", "parse_rules"]

ACCEPTED_FORMS = """accepted forms: comma-separated [metric.]STAT:CHANGE
  p50 p95 p99 p99.9 (any pN): '+10%' (of the baseline's value) or '+2ms' (us, ms, s)
  throughput: '-5%' (of the baseline's successful operations per second)
  error_rate: '+0.1%' (percentage points), success_rate: '-0.1%' (percentage points)
  e.g. 'p95:+10%,throughput:-5%,error_rate:+0.1%'"""

DEFAULT_TEXT = "p95:+10%,throughput:-5%,error_rate:+0.1%"

_RULE_RE = re.compile(
    r"""^\s*
    (?:(?P<metric>[A-Za-z_][A-Za-z0-9_\-]*)\.)?
    (?P<stat>[pP]\d+(?:\.\d+)?|[A-Za-z_]+)
    \s*:\s*
    (?P<sign>[+-])?\s*
    (?P<num>\d+(?:\.\d+)?|\.\d+)
    \s*(?P<unit>%|us|ms|s)?
    \s*$""",
    re.VERBOSE | re.ASCII,
)
_DURATION = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
#: the direction in which each stat gets worse: "+" rises, "-" falls
_WORSE = {"throughput": "-", "error_rate": "+", "success_rate": "-"}


class RuleError(ValueError):
    """A ``--roo-regression`` value that is not in the accepted forms."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"invalid regression rule {text!r}: {problem}\n{ACCEPTED_FORMS}")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule. ``change`` is a fraction (relative for latency and throughput, absolute points
    for rates) unless ``absolute`` is set: then it is seconds added to the baseline's value."""

    text: str
    stat: str
    change: float
    kind: str  # "latency" | "rate" | "ratio"
    metric: str | None = None
    percentile: float | None = None
    absolute: bool = False

    def __str__(self) -> str:
        return self.text


def _parse_one(text: str) -> Rule:
    match = _RULE_RE.fullmatch(text)
    if not match:
        raise RuleError(text, "not STAT:CHANGE")
    metric, stat, sign, unit = match["metric"], match["stat"].lower(), match["sign"], match["unit"]
    number = float(match["num"])
    if not math.isfinite(number):
        raise RuleError(text, "the change must be a finite number")
    clean = text.strip().replace(" ", "")
    if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
        percentile = float(stat[1:])
        if not 0 < percentile <= 100:
            raise RuleError(text, f"percentile {percentile:g} is not between 0 (excluded) and 100")
        if sign == "-":
            raise RuleError(text, "a latency regresses upwards: write the allowed rise, e.g. '+10%'")
        if unit is None:
            raise RuleError(text, "give the allowed rise with a unit: '%' of the baseline, or us, ms, s")
        if unit == "%":
            return Rule(clean, stat, number / 100.0, "latency", metric, percentile)
        return Rule(clean, stat, number * _DURATION[unit], "latency", metric, percentile, absolute=True)
    if stat not in _WORSE:
        raise RuleError(text, f"unknown stat {stat!r}")
    if metric is not None:
        raise RuleError(text, f"{stat} is a figure of the whole result: drop the {metric!r}. prefix")
    worse = _WORSE[stat]
    if sign is not None and sign != worse:
        word = "rise" if worse == "+" else "fall"
        raise RuleError(text, f"{stat} regresses when it {'rises' if worse == '+' else 'falls'}: "
                              f"write the allowed {word} as '{worse}{match['num']}%'")
    if unit != "%":
        raise RuleError(text, f"give {stat}'s allowed change in percent, e.g. '{worse}5%'")
    change = number / 100.0
    if stat != "throughput" and change >= 1.0:
        raise RuleError(text, "a rate cannot change by 100 percentage points or more")
    if stat == "throughput" and change >= 1.0:
        raise RuleError(text, "throughput cannot fall by 100 % or more and still be judged")
    return Rule(clean, stat, change, "rate" if stat == "throughput" else "ratio")


def parse_rules(text: str) -> tuple[Rule, ...]:
    """All rules of a ``--roo-regression`` value; :class:`RuleError` names the bad one.

    >>> [r.text for r in parse_rules("p95:+10%, throughput:-5%")]
    ['p95:+10%', 'throughput:-5%']
    """
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise RuleError(text, "no rule given")
    rules: list[Rule] = []
    seen: set[tuple[str | None, str]] = set()
    for part in parts:
        rule = _parse_one(part)
        key = (rule.metric, rule.stat)
        if key in seen:
            raise RuleError(part.strip(), "this stat has a rule already; keep one")
        seen.add(key)
        rules.append(rule)
    return tuple(rules)


DEFAULT_RULES = parse_rules(DEFAULT_TEXT)
