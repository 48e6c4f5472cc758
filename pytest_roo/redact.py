"""Keeping secrets out of what pytest-roo shows: URLs and text with passwords and tokens masked.

Every report, log line, error message and header goes through these before it is written.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "forget_secret",
    "known_secrets",
    "mask_known",
    "mask_secrets",
    "mask_text",
    "mask_url",
    "remember_secret",
    "url_secrets",
]

_SECRET_QUERY_KEYS = ("token", "key", "password", "passwd", "secret", "auth", "signature", "sig",
                      "credential", "session")


def mask_url(url: str) -> str:
    """A URL safe to show: the password of its userinfo and secret-looking query values masked.

    ``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``;
    ``wss://h/ws?token=abc&room=1`` -> ``wss://h/ws?token=***&room=1``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}{':***' if sep else ''}@{hostport}"
    query = parts.query
    if query:
        pairs = []
        for pair in query.split("&"):
            name, sep, value = pair.partition("=")
            if sep and value and any(word in name.lower() for word in _SECRET_QUERY_KEYS):
                value = "***"
            pairs.append(f"{name}{sep}{value}")
        query = "&".join(pairs)
    return parts._replace(netloc=netloc, query=query).geturl()


def mask_text(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret (of 4 characters or more) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


_USERINFO_RE = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'\"]*):[^@\s/'\"]+@")
_PAIR_RE = re.compile(
    r"(?P<key>[\w-]*(?:" + "|".join((*_SECRET_QUERY_KEYS, "pwd")) + r")[\w-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<value>(?:(?:Bearer|Basic|Token)\s+)?[^\s&'\",;]+)",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    """``text`` from elsewhere (an error, a server's answer) with the secrets it may carry
    masked without knowing them: the password of any URL's userinfo, and the value of every
    ``key=value`` / ``key: value`` whose key names a secret (password, token, auth...).

    >>> mask_secrets("redis://:pw@h:6379/0 failed; password=abc token: xyz")
    'redis://:***@h:6379/0 failed; password=*** token: ***'
    """
    text = _USERINFO_RE.sub(lambda m: m.group("head") + ":***@", text)
    return _PAIR_RE.sub(lambda m: m.group("key") + m.group("sep") + "***", text)


# --- secrets this process knows -------------------------------------------------------------------
#
# Passwords that pytest-roo generates (local servers) or is given (URLs in options) are
# remembered here, so that text it does not control -- a test's locals under --showlocals, what
# a test printed -- can be masked before it reaches a report. Process-wide on purpose: a
# generated password is made far from the pytest config that writes the reports.

_KNOWN: dict[str, int] = {}
_KNOWN_LOCK = threading.Lock()


def remember_secret(secret: str | None) -> None:
    """Mask ``secret`` (4 characters or more) in reports from now on (and its URL-quoted form)."""
    if not secret or len(secret) < 4:
        return
    with _KNOWN_LOCK:
        for form in {secret, quote(secret, safe=""), unquote(secret)}:
            if len(form) >= 4:
                _KNOWN[form] = _KNOWN.get(form, 0) + 1


def forget_secret(secret: str | None) -> None:
    """Undo one :func:`remember_secret` of ``secret``: it is no longer masked once every
    remembering of it was forgotten (a secret given twice stays until forgotten twice)."""
    if not secret:
        return
    with _KNOWN_LOCK:
        for form in {secret, quote(secret, safe=""), unquote(secret)}:
            count = _KNOWN.get(form, 0) - 1
            if count > 0:
                _KNOWN[form] = count
            else:
                _KNOWN.pop(form, None)


def known_secrets() -> list[str]:
    """The remembered secrets, longest first (so that no shorter one masks part of another)."""
    with _KNOWN_LOCK:
        return sorted(_KNOWN, key=len, reverse=True)


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries: the password of its userinfo, secret-looking query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.partition(":")[2])
    for pair in parts.query.split("&"):
        name, sep, value = pair.partition("=")
        if sep and value and any(word in name.lower() for word in _SECRET_QUERY_KEYS):
            found.append(value)
    return [secret for secret in found if len(secret) >= 4]


def mask_known(text: str, extra: tuple[str, ...] | list[str] = ()) -> str:
    """``text`` with every remembered secret (and every one of ``extra``) replaced by ``***``;
    also inside reprs, where a backslash or quote in a secret is escaped."""
    secrets = sorted({*known_secrets(), *(s for s in extra if s and len(s) >= 4)},
                     key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
        escaped = repr(secret)[1:-1]
        if escaped != secret and escaped in text:
            text = text.replace(escaped, "***")
    return text
