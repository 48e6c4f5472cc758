"""The parsers behind every pytest-roo setting: each takes the raw string (from the command line,
an ini key or an env var) and returns a typed value, or raises ValueError saying what is
accepted; :mod:`pytest_roo.settings` adds where the value came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_roo import units

__all__ = [
    "DEVICE_ALIASES",
    "ENGINES",
    "ISOLATION_MODES",
    "PROGRESS_MODES",
    "SERVICE_BACKENDS",
    "TRACE_MODES",
    "parse_baseline_name",
    "parse_bool",
    "parse_choice",
    "parse_confidence",
    "parse_cpu_share",
    "parse_devices",
    "parse_engines",
    "parse_executables",
    "parse_file_path",
    "parse_path",
    "parse_percent",
    "parse_profile",
    "parse_regression",
    "parse_target",
    "parse_text",
    "parse_url",
]

SERVICE_BACKENDS = ("auto", "docker", "local", "external")
ISOLATION_MODES = ("database", "transaction", "truncate")
ENGINES = ("chromium", "firefox", "webkit")
PROGRESS_MODES = ("auto", "on", "off")
#: what a browser context's Playwright trace records
TRACE_MODES = ("dom", "full", "off")
DEVICE_ALIASES = ("desktop", "tablet", "mobile")


def parse_choice(choices: Sequence[str]) -> Callable[[str], str]:
    """A parser accepting one of ``choices`` (case-insensitive), returned lower-cased."""
    def parse(value: str) -> str:
        normalized = value.strip().lower()
        if normalized not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return normalized

    parse.__name__ = "parse_choice"
    return parse


def parse_path(value: str) -> Path:
    """A file or directory path, ``~`` expanded; empty or NUL-containing values are refused."""
    if not value.strip():
        raise ValueError("expected a file or directory path, got an empty string")
    if "\x00" in value:
        raise ValueError("expected a file or directory path, got a NUL character")
    try:
        return Path(value.strip()).expanduser()
    except RuntimeError as exc:  # "~user" of a user that does not exist
        raise ValueError(f"expected a file or directory path ({exc})") from None


def parse_file_path(value: str) -> Path:
    """A file to write at the end of the session: refused now if it cannot be one."""
    path = parse_path(value)
    if path.is_dir():
        raise ValueError("it is a directory; expected the path of a file to write")
    return path


def parse_text(value: str) -> str:
    """A non-empty string, stripped."""
    if not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def parse_url(schemes: Sequence[str]) -> Callable[[str], str]:
    """A parser accepting a URL with one of ``schemes``, a host (unless ``unix://``) and a
    valid port."""
    def parse(value: str) -> str:
        text = value.strip()
        parts = urlsplit(text)
        if parts.scheme.lower() not in schemes:
            raise ValueError(f"expected a URL with scheme {' or '.join(s + '://' for s in schemes)}")
        if parts.scheme.lower() != "unix" and not parts.hostname:
            raise ValueError(f"expected a URL with a host, like {schemes[0]}://127.0.0.1:PORT")
        try:
            parts.port  # noqa: B018  -- raises ValueError on a bad port
        except ValueError:
            raise ValueError("the port must be a number between 0 and 65535") from None
        return text

    parse.__name__ = "parse_url"
    return parse


def parse_percent(value: str) -> float:
    """A fraction written as ``5%`` or ``0.05``."""
    try:
        return units.parse_percent(value)
    except ValueError:
        raise ValueError(f"expected {units.PERCENT_FORMS}") from None


def parse_target(value: str) -> str:
    """The system under test's base URL, normalized once (the same rule the fixtures use)."""
    from pytest_roo.target import normalize_base_url

    return normalize_base_url(value)


def parse_confidence(value: str) -> float:
    """A one-sided confidence level in [0, 1): ``95%`` or ``0.95``; 0 judges the point estimate."""
    level = parse_percent(value)
    if not 0 <= level < 1:
        raise ValueError("expected a one-sided confidence level from 0% (judge the point "
                         "estimate) up to below 100%, e.g. 95% or 0.99")
    return level


def parse_cpu_share(value: str) -> float:
    """A share of one CPU core in (0, 1]: ``90%`` or ``0.9``."""
    share = parse_percent(value)
    if not 0 < share <= 1:
        raise ValueError("expected a share of one core above 0% and at most 100%, e.g. 90%")
    return share


def parse_profile(value: str) -> str:
    """A profile name; the suites that use it say which names they know (pytest_roo.profiles)."""
    text = value.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", text):
        raise ValueError(
            "expected a profile name (letters, digits, - and _), e.g. smoke, standard or full"
        )
    return text


def parse_engines(value: str) -> tuple[str, ...]:
    """A comma-separated list of browser engines (chromium, firefox, webkit), duplicates dropped."""
    names = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    if not names:
        raise ValueError(f"expected a comma-separated list of {', '.join(ENGINES)}")
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        raise ValueError(
            f"unknown engine {unknown[0]!r}; expected a comma-separated list of {', '.join(ENGINES)}"
        )
    return tuple(dict.fromkeys(names))


def parse_devices(value: str) -> tuple[str, ...]:
    """Device names as Playwright spells them, or the aliases desktop, tablet, mobile.

    Names are checked against Playwright's device list when the matrix is built (importing
    Playwright here would make every pytest start slow); here only the shape is checked.
    """
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise ValueError(
            "expected a comma-separated list of Playwright device names "
            "(e.g. 'Desktop Chrome,iPhone 13') or the aliases desktop, tablet, mobile"
        )
    return tuple(dict.fromkeys(names))


def parse_executables(value: str) -> dict[str, str]:
    """``engine=/path/to/binary`` pairs, comma-separated."""
    result: dict[str, str] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        engine, sep, path = part.partition("=")
        engine = engine.strip().lower()
        if not sep or engine not in ENGINES or not path.strip():
            raise ValueError(
                f"bad entry {part.strip()!r}; expected engine=/path/to/binary pairs separated by "
                f"commas, engine one of {', '.join(ENGINES)}"
            )
        result[engine] = path.strip()
    if not result:
        raise ValueError("expected engine=/path/to/binary pairs separated by commas")
    return result


def parse_baseline_name(value: str) -> str:
    """A baseline's name, checked by the baseline store's own rule."""
    from pytest_roo.baseline.store import validate_name

    return validate_name(value)


def parse_regression(value: str) -> tuple[Any, ...]:
    """Regression rules against a baseline, parsed by
    :func:`pytest_roo.baseline.rules.parse_rules`."""
    from pytest_roo.baseline.rules import parse_rules

    return parse_rules(value)  # RuleError (a ValueError) names the rule and the accepted forms


def parse_bool(value: str) -> bool:
    """true/false, yes/no, on/off or 1/0 (case-insensitive)."""
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected one of true, false, yes, no, on, off, 1, 0")
