"""What the Redis drivers share: error kinds, reply checks, one connection and closing it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.executor import mark_counted
from pytest_roo.load.recorder import Recorder

__all__ = ["NOTHING", "Command", "Vu", "check_command", "classify_redis", "close",
           "close_pubsub", "confirm", "connect", "error_text", "matches", "resolve"]

#: One command: its arguments, or a function of the iteration number returning them.
Command = Sequence[Any] | Callable[[int], Sequence[Any]]

#: "no expectation given" (``None`` is a reply one can expect)
NOTHING: Any = object()


def classify_redis(exc: BaseException) -> str:
    """The error kind of an exception raised by redis-py (or anything else, via the engine's)."""
    try:
        import redis.exceptions as rex
    except ImportError:  # pragma: no cover - redis is a dependency
        return classify(exc)
    text = str(exc)
    if isinstance(exc, rex.AuthenticationError) or (
        isinstance(exc, rex.ResponseError)
        and text.startswith(("NOAUTH", "WRONGPASS", "invalid username-password"))
    ):
        return "auth"
    if isinstance(exc, rex.AuthenticationWrongNumberOfArgsError) or (
        isinstance(exc, rex.ResponseError) and "AUTH" in text and "without any password" in text
    ):
        return "auth"
    if isinstance(exc, rex.TimeoutError):
        return "timeout"
    if isinstance(exc, rex.ConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text or (
            "Error 111 " in text
        ):
            return "refused"
        if isinstance(cause, ConnectionResetError) or "reset by peer" in text:
            return "reset"
        return "closed"
    if isinstance(exc, rex.ResponseError):
        return "redis"
    return classify(exc)


def error_text(exc: BaseException) -> str:
    """One line for ``info["first_error"]``: the kind and redis-py's message (never the URL's
    password: redis-py's messages name host and port only)."""
    return f"{classify_redis(exc)}: {type(exc).__name__}: {str(exc)[:200]}"


def matches(reply: Any, expected: Any) -> bool:
    """Does a raw reply (bytes, int, list, None) equal ``expected``? A str is compared as its
    UTF-8 bytes, an int also matches its decimal digits (GET of a counter)."""
    if callable(expected):
        return bool(expected(reply))
    if isinstance(expected, str) and isinstance(reply, bytes):
        return reply == expected.encode()
    if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(reply, bytes):
        return reply == str(expected).encode()
    return bool(reply == expected)


def resolve(spec: Command, i: int) -> Sequence[Any]:
    """The arguments of command ``spec`` at iteration ``i`` (a function is called with ``i``)."""
    return spec(i) if callable(spec) else spec


def check_command(name: str, spec: Any) -> Command:
    """``spec`` checked as the command ``name=``: a function of the iteration number, or a
    non-empty tuple or list of arguments starting with the command (kept as a tuple); ValueError
    naming the value and the accepted forms otherwise."""
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], (str, bytes)):
        return tuple(spec)
    raise ValueError(
        f"invalid command {name}={spec!r}: expected a tuple of arguments such as "
        "('SET', 'key', 'value'), or a function of the iteration number returning one "
        "(lambda i: ('GET', f'key:{i % 1000}'))"
    )



async def connect(url: str, rec: Recorder, timeout: float, *,
                  socket_timeout: float | None = None) -> Any:
    """One connection to ``url``, set up and checked with PING (timed as ``connect``).
    ``socket_timeout`` (default: ``timeout``) bounds every read and write; the command loops
    pass 0 and watch their waits themselves (a timer per read costs more CPU than the rest of
    the command)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(
        url, single_connection_client=True,
        socket_timeout=timeout if socket_timeout is None else (socket_timeout or None),
        socket_connect_timeout=timeout, retry_on_timeout=False, retry=None,
    )
    t0 = time.perf_counter_ns()
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except Exception as exc:
        rec.error(classify_redis(exc))
        rec.result.info.setdefault("first_error", error_text(exc))
        await close(client)
        raise mark_counted(exc) from None
    rec.batch("connect").append((time.perf_counter_ns() - t0) // 1000)
    return client


class Vu:
    """One connection of a command loop: its client and connection, the wait in flight (for
    the watchdog) and the commands packed once when they do not change."""

    __slots__ = ("client", "conn", "packed", "since", "task", "timed_out")

    def __init__(self, client: Any) -> None:
        self.client = client
        self.conn = client.connection
        self.packed: Any = None
        self.since = 0
        self.task: asyncio.Task[Any] | None = None
        self.timed_out = False


async def confirm(pubsub: Any) -> bool:
    """Wait until ``pubsub`` has the server's confirmation of its SUBSCRIBE, then True; the caller
    bounds the wait."""
    while True:
        msg = await pubsub.get_message(timeout=None)
        if msg is not None and msg.get("type") == "subscribe":
            return True


async def close(client: Any) -> None:
    """Close ``client`` within 2 s; an error closing a connection being dropped is ignored."""
    try:
        await asyncio.wait_for(client.aclose(), 2.0)
    except Exception:
        pass


async def close_pubsub(pubsub: Any, client: Any) -> None:
    """Close ``pubsub`` and then its ``client``, each within 2 s, ignoring errors."""
    try:
        await asyncio.wait_for(pubsub.aclose(), 2.0)
    except Exception:
        pass
    await close(client)
