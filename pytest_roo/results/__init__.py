"""The results model at the bottom of pytest-roo: what was measured and what was judged.

:mod:`.metrics` holds LoadResult (what one run measured) and :mod:`.latency` its HdrHistogram
latency metrics; :mod:`.verdict` holds :class:`Verdict` and its one text form (the verdict cell,
the table); :mod:`.table` renders aligned text tables. The criteria language (:mod:`pytest_roo.slo`) and
the reports (:mod:`pytest_roo.report`) both build on this package and never on each other.
"""

from __future__ import annotations
