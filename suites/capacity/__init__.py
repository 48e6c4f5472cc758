"""Ready suite (see docs/suites.md)."""
