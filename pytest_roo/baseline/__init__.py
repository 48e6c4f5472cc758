"""Baselines and the regression gate: results saved from one run, later runs judged against them.

:mod:`.store` writes and reads a named baseline (every result of a session, losslessly, keyed by
test node id and result name, with the settings and host facts of the run); :mod:`.rules`
parses ``--roo-regression`` ("p95:+10%,throughput:-5%,error_rate:+0.1%"); :mod:`.compare`
judges a result against its baseline into verdicts (PASS, FAIL or INCONCLUSIVE on confidence
bounds, like every other verdict). Plain Python: the pytest wiring is in
:mod:`pytest_roo.plugin.baseline`.
"""

from __future__ import annotations

from pytest_roo.baseline.compare import compare
from pytest_roo.baseline.rules import DEFAULT_RULES, Rule, RuleError, parse_rules
from pytest_roo.baseline.store import Baseline, BaselineError, load, save

__all__ = [
    "DEFAULT_RULES",
    "Baseline",
    "BaselineError",
    "Rule",
    "RuleError",
    "compare",
    "load",
    "parse_rules",
    "save",
]
