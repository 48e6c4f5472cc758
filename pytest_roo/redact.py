"""Keeping secrets out of what pytest-roo shows: URLs and text with passwords and tokens masked.

Every report, log line, error message and header goes through these before it is written.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["mask_secrets", "mask_text", "mask_url"]

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
