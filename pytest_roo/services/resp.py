"""A small synchronous Redis client (RESP2): enough for readiness, AUTH, SELECT and FLUSHDB.

Importing redis-py costs tens of milliseconds; the service layer needs four commands.
"""

from __future__ import annotations

import socket

__all__ = ["RedisError", "RespConnection"]



def _encode(args: tuple[str | bytes | int, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Request:
    """An encoded command whose repr does not show it (it may carry a password)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<Redis request, {len(self.data)} bytes>"


class RedisError(Exception):
    """An error reply (``-ERR ...``) from the server."""


class RespConnection:
    """One connection to ``host:port`` (or a unix socket path when ``host`` starts with ``/``)."""

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        if host.startswith("/"):
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = host
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._sock = socket.socket(family, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            address = (host, port)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(address)
        except BaseException:
            self._sock.close()
            raise
        self._file = self._sock.makefile("rb")

    def command(self, *args: str | bytes | int) -> object:
        """Send one command and return its reply; an error reply is raised as RedisError."""
        # AUTH's arguments hold a password: they leave this frame before anything can raise,
        # so a traceback (which prints arguments and, with -l, locals) shows none of them
        request = _Request(_encode(args))
        del args
        self._sock.sendall(request.data)
        reply = self._read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _read(self) -> object:
        line = self._file.readline()
        if not line:
            raise ConnectionError("the Redis server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self._file.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read() for _ in range(count)]
        raise ConnectionError(f"unexpected reply from the Redis server: {line[:40]!r}")

    def close(self) -> None:
        """Close the connection."""
        try:
            self._file.close()
        finally:
            self._sock.close()

    def __enter__(self) -> RespConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
