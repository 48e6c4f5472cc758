"""The ready suites of pytest-roo: one folder per concern, one criterion per test."""
