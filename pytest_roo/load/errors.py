"""Error kinds: which kind of failure an exception raised by a driver stands for.

The kinds are listed in ``pytest_roo.results.metrics.ERROR_KINDS``; results count failed
operations by kind and the reports name them.
"""

from __future__ import annotations

import asyncio

__all__ = ["Mismatch", "classify", "describe", "timeout_words"]


class Mismatch(Exception):
    """An answer arrived but is not the expected one (altered echo, failed ``expect=``)."""


def classify(exc: BaseException) -> str:
    """The error kind of an exception raised by a driver (see ``metrics.ERROR_KINDS``)."""
    known = getattr(exc, "roo_kind", None)  # set where the failure was understood best
    if isinstance(known, str):
        return known
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
        if isinstance(exc, aiohttp.ClientResponseError) and _not_http(exc):
            return "protocol"  # the answer could not be parsed as HTTP at all
        if isinstance(exc, aiohttp.ClientResponseError):
            status = exc.status
            return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "protocol"
        if isinstance(exc, aiohttp.ClientConnectorError):
            os_error = getattr(exc, "os_error", None)
            if isinstance(os_error, ConnectionRefusedError) or "refused" in str(exc).lower():
                return "refused"
            return "other"
        if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            return "closed"  # ClientPayloadError: the connection ended inside the body
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


def _not_http(exc: BaseException) -> bool:
    """aiohttp turns an answer its parser rejects into a ClientResponseError with status 400,
    raised from the parser's HttpProcessingError: no server sent that 400."""
    from aiohttp.http_exceptions import HttpProcessingError

    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, HttpProcessingError)


def timeout_words(exc: BaseException, seconds: float) -> str:
    """What a timed-out aiohttp request was waiting for, in words.

    Under a total timeout aiohttp cancels the request wherever it is and raises TimeoutError
    from that cancellation; where the cancellation landed (the connector creating the
    connection, or reading the answer) tells a connect timeout from a server that accepted the
    connection and then did not answer. Looked at only when a timeout happened.
    """
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"connect timeout: no TCP connection within {seconds:g} s"
    where = _cancelled_in(exc)
    if where == "connecting":
        return f"connect timeout: no TCP connection within {seconds:g} s"
    if where == "pool":
        return f"no free connection in the client's pool within {seconds:g} s"
    return f"the connection was accepted but no response came within {seconds:g} s"


def _cancelled_in(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if not isinstance(cause, asyncio.CancelledError):
        return ""
    in_connector = False
    tb = cause.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.endswith(("connector.py", "impl.py", "selector_events.py",
                                      "base_events.py")):
            if "create_connection" in code.co_name or code.co_name in ("sock_connect",
                                                                       "start_connection"):
                return "connecting"
            if code.co_filename.endswith("connector.py"):
                in_connector = True
        tb = tb.tb_next
    return "pool" if in_connector else ""


def describe(exc: BaseException) -> str:
    """An exception as an error example: its repr, except that aiohttp's response errors are
    shown without the request they carry (its headers may hold a token), and URL passwords
    and secret-looking values are masked."""
    from pytest_roo.redact import mask_secrets

    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        return mask_secrets(repr(exc))
    if isinstance(exc, aiohttp.ClientResponseError):
        kind = "not HTTP: " if _not_http(exc) else ""
        text = f"{type(exc).__name__}({kind}status {exc.status}: {exc.message!r})"
    else:
        text = repr(exc)
    return mask_secrets(text)
