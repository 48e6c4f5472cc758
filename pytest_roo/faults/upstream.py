"""Where a proxy forwards to: ``host:port`` or a URL parsed into an :class:`Upstream`, with a
clear error naming the accepted forms.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from pytest_roo.redact import mask_url

__all__ = ["DEFAULT_PORTS", "UPSTREAM_FORMS", "Upstream", "parse_upstream"]

DEFAULT_PORTS = {
    "http": 80, "https": 443, "ws": 80, "wss": 443,
    "postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379,
}
UPSTREAM_FORMS = (
    "'host:port' (127.0.0.1:5432, [::1]:6379) or a URL with a host "
    "(http://127.0.0.1:8080/api, postgresql://u:pw@127.0.0.1:5432/db)"
)


@dataclasses.dataclass(frozen=True)
class Upstream:
    """Where a proxy forwards to, and the URL it was given (to rebuild one for the proxy)."""

    host: str
    port: int
    url: str | None = None

    @property
    def address(self) -> str:
        """``host:port`` (``[host]:port`` for IPv6)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_upstream(value: str) -> Upstream:
    """``"127.0.0.1:5432"`` or a URL -> :class:`Upstream`; ValueError names the accepted forms.

    >>> parse_upstream("http://127.0.0.1:8080/x").address
    '127.0.0.1:8080'
    >>> parse_upstream("redis://127.0.0.1/0").port
    6379
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"invalid upstream {value!r}: expected {UPSTREAM_FORMS}")
    text = value.strip()
    if "://" in text:
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            raise ValueError(
                f"invalid upstream {mask_url(text)!r}: the port must be a number between 1 and 65535"
            ) from None
        if not parts.hostname:
            raise ValueError(f"invalid upstream {mask_url(text)!r}: expected {UPSTREAM_FORMS}")
        if port is None:
            port = DEFAULT_PORTS.get(parts.scheme.lower())
            if port is None:
                raise ValueError(
                    f"invalid upstream {mask_url(text)!r}: no port given and none is known for "
                    f"scheme {parts.scheme!r}; expected {UPSTREAM_FORMS}"
                )
        return Upstream(parts.hostname, port, text)
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid upstream {text!r}: expected {UPSTREAM_FORMS}")
    return Upstream(host, int(port_text))
