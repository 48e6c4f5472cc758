"""Confidence bounds behind honest verdicts: PASS, FAIL or INCONCLUSIVE, never a coin flip.

A criterion is judged on a one-sided confidence bound, not on the bare point estimate: 20 clean
runs out of 20 do not show "success_rate >= 95%" (the one-sided 95 % Clopper-Pearson lower bound
of 20/20 is 0.861, Wilson's 0.881); 59 clean runs do. The pieces, all plain Python (``math``,
``statistics.NormalDist`` and numpy; no scipy):

- rates: :func:`rate_bounds` -- Clopper-Pearson (exact, the default) or Wilson score bounds of
  ``events / trials``. The beta quantile behind Clopper-Pearson is solved here from the
  regularized incomplete beta function (:func:`betainc`, a continued fraction) by safeguarded
  Newton steps (:func:`beta_ppf`).
- percentiles: :func:`order_statistic_rank` -- the distribution-free bound: the rank ``k`` whose
  order statistic lies above (or below) the true ``p``-th quantile with probability >= the
  confidence, from the binomial CDF; :func:`value_at_rank` reads that rank from an HdrHistogram
  and :func:`percentile_bounds` puts both together.
- the decision: :func:`decide` -- ``pass`` when the pessimistic bound clears the limit, ``fail``
  when the optimistic bound violates it, ``inconclusive`` otherwise; :func:`judge_rate` and
  :func:`judge_percentile` also say how many more samples would likely decide an inconclusive
  verdict (assuming the point estimate holds). Confidence 0 judges the bare point estimate, as
  k6 does: pass or fail, never inconclusive.
- iterations run until conclusive: :class:`SequentialRate` (repeated Clopper-Pearson bounds at a
  level corrected for the repeated looks; its error rates are in its docstring).

Calling it from a verdict computation (``criterion`` from :func:`pytest_roo.slo.spec.parse`,
``result`` a LoadResult)::

    from pytest_roo.slo import confidence

    if criterion.stat == "success_rate":
        judged = confidence.judge_rate(criterion.op, criterion.limit,
                                       events=result.operations - result.error_count,
                                       trials=result.operations, confidence=0.95)
    elif criterion.stat == "error_rate":
        judged = confidence.judge_rate(criterion.op, criterion.limit,
                                       events=result.error_count,
                                       trials=result.operations, confidence=0.95)
    elif criterion.percentile is not None:
        metric = result.get_metric(criterion.metric)
        judged = confidence.judge_percentile(criterion.op, criterion.limit, metric.histogram,
                                             criterion.percentile, confidence=0.95)
    judged.status        # "pass" | "fail" | "inconclusive"
    judged.bound         # the bound compared with the limit for a pass (base units)
    judged.explanation   # for the verdict's reason: "... about N more samples would decide"

Latency values come back in seconds (the histogram holds microseconds: ``scale=1e-6``). A
percentile bound that n samples cannot give is ``math.inf`` (upper) or ``0.0`` (lower): fewer than
59 samples never bound a p95 from above at 95 %.
"""

from __future__ import annotations

from pytest_roo.slo.beta import beta_ppf, betainc
from pytest_roo.slo.bounds import DEFAULT_CONFIDENCE, Bounds
from pytest_roo.slo.decision import (
    Judgement,
    decide,
    judge_percentile,
    judge_rate,
    samples_to_decide,
)
from pytest_roo.slo.percentile_bounds import (
    binom_cdf,
    order_statistic_rank,
    percentile_bounds,
    value_at_rank,
)
from pytest_roo.slo.rate_bounds import clopper_pearson_bounds, rate_bounds, wilson_bounds
from pytest_roo.slo.sequential import SequentialRate

__all__ = [
    "DEFAULT_CONFIDENCE",
    "Bounds",
    "Judgement",
    "SequentialRate",
    "beta_ppf",
    "betainc",
    "binom_cdf",
    "clopper_pearson_bounds",
    "decide",
    "judge_percentile",
    "judge_rate",
    "order_statistic_rank",
    "percentile_bounds",
    "rate_bounds",
    "samples_to_decide",
    "value_at_rank",
    "wilson_bounds",
]
