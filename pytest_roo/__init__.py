"""pytest-roo: prove that a web system meets its service levels, from pytest.

    from pytest_roo import slo
    slo.check(result, "p95 < 50ms", "error_rate < 1%")
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
