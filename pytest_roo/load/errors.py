"""Error kinds: which kind of failure an exception raised by a driver stands for.

The kinds are listed in ``pytest_roo.results.metrics.ERROR_KINDS``; results count failed
operations by kind and the reports name them.
"""

from __future__ import annotations

import asyncio

__all__ = ["Mismatch", "classify"]


class Mismatch(Exception):
    """An answer arrived but is not the expected one (altered echo, failed ``expect=``)."""


def classify(exc: BaseException) -> str:
    """The error kind of an exception raised by a driver (see ``metrics.ERROR_KINDS``)."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, Mismatch):
        return "mismatch"
    if isinstance(exc, AssertionError):
        return "assertion"
    name = type(exc).__name__
    if type(exc).__module__.startswith("asyncpg"):
        if name == "QueryCanceledError":
            return "timeout"
        if name in ("ConnectionDoesNotExistError", "InterfaceError"):
            return "closed"
        return "sql" if "PostgresError" in [c.__name__ for c in type(exc).__mro__] else "other"
    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        aiohttp = None  # type: ignore[assignment]
    if aiohttp is not None:
        if isinstance(exc, aiohttp.ClientResponseError):
            status = exc.status
            return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "protocol"
        if isinstance(exc, aiohttp.ClientConnectorError):
            os_error = getattr(exc, "os_error", None)
            if isinstance(os_error, ConnectionRefusedError) or "refused" in str(exc).lower():
                return "refused"
            return "other"
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return "closed"
        if isinstance(exc, aiohttp.ClientOSError):
            return "reset" if exc.errno in (104, 32) else "other"
        if isinstance(exc, aiohttp.WSServerHandshakeError):
            status = exc.status
            return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "protocol"
    if isinstance(exc, ConnectionError) or name in ("ConnectionDoesNotExistError",):
        return "closed"
    if isinstance(exc, OSError) and exc.errno == 111:
        return "refused"
    if name in ("WebSocketError", "WSMessageTypeError") or "protocol" in name.lower():
        return "protocol"
    return "other"
