"""A small synchronous PostgreSQL client: startup, authentication and the simple query protocol.

The service layer needs a handful of statements (readiness, CREATE/DROP DATABASE, ALTER ROLE,
loading SQL files) and must stay cheap to import and to connect: a full driver costs tens of
milliseconds of import time and an event loop. Authentication: trust, cleartext, md5 and
SCRAM-SHA-256. No TLS (servers here are on loopback or a unix socket). Values come back as text.

Passwords travel as :class:`Secret` inside this module, so no frame of a traceback holds one in
an argument or a local variable: pytest's long tracebacks print every argument of every frame
(and ``--showlocals`` every local), and would print the password with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass, field

__all__ = ["Connection", "PgError", "Secret", "quote_ident", "quote_literal", "scram_verifier"]

Row = tuple[str | None, ...]


class Secret:
    """A password that does not show itself: ``repr()`` and ``str()`` are masked, so a traceback
    or log line that prints it shows ``Secret('***')``. :meth:`reveal` hands the value to the one
    expression that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret's value (only for the wire, never for a message)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("a Secret is not pickled (it would carry the password)")


def scram_verifier(password: str | Secret, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (``rolpassword``).

    ``ALTER ROLE ... PASSWORD '<verifier>'`` sets the password without the password itself
    travelling in the statement, so it appears in no server log, statement text or traceback.
    """
    __tracebackhide__ = True
    if not isinstance(password, Secret):
        password = Secret(password)
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.reveal().encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return (f"SCRAM-SHA-256${iterations}:{base64.b64encode(salt).decode()}"
            f"${base64.b64encode(stored_key).decode()}:{base64.b64encode(server_key).decode()}")


class PgError(Exception):
    """An ErrorResponse from the server (``sqlstate`` holds the five-character code)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.sqlstate = fields.get("C", "")
        super().__init__(f"{fields.get('S', 'ERROR')}: {fields.get('M', '?')} ({self.sqlstate})")


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    status: str = ""


class Connection:
    """One connection. ``host`` starting with ``/`` is a unix socket directory.

    Example::

        with Connection.open(host="/run/pg", port=5432, user="postgres") as conn:
            conn.query("SELECT 1").rows  # [("1",)]
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self.parameters: dict[str, str] = {}

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        host: str,
        port: int,
        user: str,
        password: str | Secret | None = None,
        dbname: str = "postgres",
        timeout: float = 5.0,
    ) -> Connection:
        """Connect (TCP or unix socket) and log in (trust, cleartext, md5 or SCRAM-SHA-256); the
        password is held as a Secret from the first line on."""
        # first statement: from here on this frame holds a Secret, not the password
        if password is not None and not isinstance(password, Secret):
            password = Secret(password)
        if host.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = os.path.join(host, f".s.PGSQL.{port}")
        else:
            sock = socket.socket(
                socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            address = (host, port)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            conn = cls(sock)
            conn._startup(user, password, dbname)
        except BaseException:
            sock.close()
            raise
        return conn

    def _startup(self, user: str, password: Secret | None, dbname: str) -> None:
        body = struct.pack("!I", 196608)
        for key, value in (("user", user), ("database", dbname), ("client_encoding", "UTF8")):
            body += key.encode() + b"\0" + value.encode() + b"\0"
        body += b"\0"
        self._sock.sendall(struct.pack("!I", len(body) + 4) + body)
        scram: _Scram | None = None
        while True:
            kind, payload = self._read_message()
            if kind == b"R":
                code = struct.unpack("!I", payload[:4])[0]
                if code == 0:
                    continue
                if password is None:
                    raise PgError({"M": "the server asks for a password and none was given",
                                   "C": "28P01"})
                # the password and what it hashes to are never bound to a name in this frame
                # (a later error here would print them under --showlocals)
                if code == 3:
                    self._sock.sendall(_frame(b"p", password.reveal().encode() + b"\0"))
                elif code == 5:
                    self._sock.sendall(_frame(b"p", _md5_response(password, user, payload[4:8])))
                elif code == 10:
                    mechanisms = payload[4:].split(b"\0")
                    if b"SCRAM-SHA-256" not in mechanisms:
                        raise PgError({"M": f"unsupported SASL mechanisms {mechanisms!r}",
                                       "C": "28000"})
                    scram = _Scram(password)
                    first = scram.client_first().encode()
                    self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
                elif code == 11 and scram is not None:
                    self._send(b"p", scram.client_final(payload[4:].decode()).encode())
                elif code == 12 and scram is not None:
                    scram.verify(payload[4:].decode())
                else:
                    raise PgError({"M": f"unsupported authentication request {code}",
                                   "C": "28000"})
            elif kind == b"S":
                raw_key, raw_value, _ = payload.split(b"\0", 2)
                self.parameters[raw_key.decode()] = raw_value.decode()
            elif kind == b"E":
                raise PgError(_fields(payload))
            elif kind == b"Z":
                return
            # K (backend key), N (notice): ignored

    # --- queries -----------------------------------------------------------------------------

    def query(self, sql: str) -> Result:
        """Run ``sql`` (one or more statements); the result of the last one that returned rows."""
        self._send(b"Q", sql.encode() + b"\0")
        result = Result()
        current = Result()
        error: PgError | None = None
        while True:
            kind, payload = self._read_message()
            if kind == b"T":
                current = Result(columns=_columns(payload))
            elif kind == b"D":
                current.rows.append(_row(payload))
            elif kind == b"C":
                current.status = payload.rstrip(b"\0").decode()
                if current.columns or not result.columns:
                    result = current
                current = Result()
            elif kind == b"E":
                error = PgError(_fields(payload))
            elif kind == b"Z":
                if error is not None:
                    raise error
                return result
            elif kind in (b"G", b"H"):
                self._send(b"f", b"COPY is not supported by this client\0")

    def scalar(self, sql: str) -> str | None:
        """The first column of the first row of ``sql``, or None without rows."""
        rows = self.query(sql).rows
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Say goodbye to the server and close the socket."""
        try:
            self._send(b"X", b"")
        except OSError:
            pass
        self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- framing -----------------------------------------------------------------------------

    def _send(self, kind: bytes, payload: bytes) -> None:
        self._sock.sendall(_frame(kind, payload))

    def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self._sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise ConnectionError("the PostgreSQL server closed the connection")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _read_message(self) -> tuple[bytes, bytes]:
        header = self._read_exact(5)
        length = struct.unpack("!I", header[1:])[0]
        return header[:1], self._read_exact(length - 4)


def _frame(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _md5_response(password: Secret, user: str, salt: bytes) -> bytes:
    inner = hashlib.md5((password.reveal() + user).encode()).hexdigest()
    return b"md5" + hashlib.md5(inner.encode() + salt).hexdigest().encode() + b"\0"


def _fields(payload: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in payload.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode(errors="replace")
    return out


def _columns(payload: bytes) -> list[str]:
    count = struct.unpack("!H", payload[:2])[0]
    names: list[str] = []
    pos = 2
    for _ in range(count):
        end = payload.index(b"\0", pos)
        names.append(payload[pos:end].decode())
        pos = end + 1 + 18
    return names


def _row(payload: bytes) -> Row:
    count = struct.unpack("!H", payload[:2])[0]
    values: list[str | None] = []
    pos = 2
    for _ in range(count):
        length = struct.unpack("!i", payload[pos : pos + 4])[0]
        pos += 4
        if length < 0:
            values.append(None)
        else:
            values.append(payload[pos : pos + length].decode())
            pos += length
    return tuple(values)


class _Scram:
    """SCRAM-SHA-256 without channel binding (RFC 5802 / 7677)."""

    def __init__(self, password: Secret | str) -> None:
        self.password = password if isinstance(password, Secret) else Secret(password)
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.server_signature = b""

    def client_first(self) -> str:
        return "n,," + self.first_bare

    def client_final(self, server_first: str) -> str:
        attrs = dict(item.split("=", 1) for item in server_first.split(","))
        nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        if not nonce.startswith(self.nonce):
            raise PgError({"M": "SCRAM: the server nonce does not extend ours", "C": "28000"})
        salted = hashlib.pbkdf2_hmac("sha256", self.password.reveal().encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    def verify(self, server_final: str) -> None:
        attrs = dict(item.split("=", 1) for item in server_final.split(","))
        if base64.b64decode(attrs.get("v", "")) != self.server_signature:
            raise PgError({"M": "SCRAM: the server signature does not match", "C": "28000"})

