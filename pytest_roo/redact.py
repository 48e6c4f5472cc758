"""Keeping secrets out of what pytest-roo shows: URLs and text with passwords and tokens masked.

Every report, log line, error message and header goes through these before it is written.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["mask_text", "mask_url"]

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
