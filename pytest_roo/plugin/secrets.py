"""Known secrets never reach a test report: the last line of defence behind masked reprs.

A test's own locals (``--showlocals``), the arguments of its helpers (``--tb=long``), what it
printed and pytest's frames under ``--fulltrace`` are not pytest-roo's to format, yet they may
hold a URL with a password. Every test report is masked before the terminal, JUnit XML and the
JSON report see it: the passwords and tokens of the URL options (``--roo-target``,
``--roo-postgres-url``, ``--roo-redis-url``) and every password a service object was made
with (generated or given; see :func:`pytest_roo.redact.remember_secret`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_roo.plugin.options import get_settings
from pytest_roo.redact import mask_known, url_secrets
from pytest_roo.report.store import PROPERTY
from pytest_roo.settings import OPTIONS

__all__ = ["MaskedLongrepr", "mask_report", "option_secrets"]

OPTION_SECRETS_KEY = pytest.StashKey[tuple[str, ...]]()


def option_secrets(config: pytest.Config) -> tuple[str, ...]:
    """The secrets in the URL options of this run (computed once)."""
    found = config.stash.get(OPTION_SECRETS_KEY, None)
    if found is None:
        settings = get_settings(config)
        found = tuple(secret for spec in OPTIONS if spec.secret
                      for secret in url_secrets(str(getattr(settings, spec.name, None) or "")))
        config.stash[OPTION_SECRETS_KEY] = found
    return found


@dataclass(frozen=True)
class _Crash:
    """Where and why the test failed (what ``-rA`` summaries and JUnit's message show)."""

    path: str
    lineno: int
    message: str


class MaskedLongrepr:
    """A failure's text with the secrets masked, in the shape pytest reads: ``toterminal`` for
    the terminal and ``longreprtext``, ``reprcrash`` for one-line summaries."""

    def __init__(self, text: str, reprcrash: _Crash | None) -> None:
        self.text = text
        self.reprcrash = reprcrash

    def toterminal(self, tw: Any) -> None:
        """Write the masked text to pytest's terminal writer ``tw``."""
        tw.line(self.text)

    def __str__(self) -> str:
        return self.text


def _masked(value: Any, extra: tuple[str, ...]) -> Any:
    return mask_known(value, extra) if isinstance(value, str) else value


def mask_report(report: pytest.TestReport, extra: tuple[str, ...] = ()) -> None:
    """Mask known secrets in the report's traceback, captured output and properties."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], mask_known(str(longrepr[2]), extra))
    elif longrepr is not None:
        text = str(longrepr)
        masked = mask_known(text, extra)
        if masked != text:  # only then: the structured form keeps pytest's colours
            crash = getattr(longrepr, "reprcrash", None)
            report.longrepr = MaskedLongrepr(  # type: ignore[assignment]
                masked,
                None if crash is None else _Crash(str(crash.path), int(crash.lineno),
                                                  mask_known(str(crash.message), extra)))
    report.sections = [(title, mask_known(content, extra)) for title, content in report.sections]
    report.user_properties = [(name, _masked(value, extra))
                              for name, value in report.user_properties]
    payload = getattr(report, PROPERTY, None)
    if isinstance(payload, str):
        setattr(report, PROPERTY, mask_known(payload, extra))


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: masks what the other wrappers added
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    mask_report(report, option_secrets(item.config))
    return report
