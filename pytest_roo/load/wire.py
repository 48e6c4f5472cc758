"""How a coordinating process and its load workers talk: small messages (dicts of plain
values) over a pipe pair or an execnet channel.

Local workers speak over their stdin/stdout as length-prefixed pickle frames (both ends are
this package, so pickle is safe and fast); remote workers over an execnet channel, which
carries plain values only. Results always travel as JSON text holding HdrHistogram's base64
payloads (:func:`pytest_roo.load.merge.to_wire`), so both transports carry the same thing.

Messages, coordinator -> worker: ``ping`` (t0), ``run`` (spec: the pickled CallSpec, index,
count, live), ``go`` (start_at: the window's start on the worker's wall clock), ``stop``
(reason), ``exit``. Worker -> coordinator: ``hello`` (pid, host, cores, python, time),
``pong`` (t0, time), ``ready``, ``tick`` (result: JSON, expected), ``result`` (result: JSON,
window_start), ``error`` (error, message, traceback).
"""

from __future__ import annotations

import pickle
import struct
import threading
from typing import IO, Any, Protocol

__all__ = ["ChannelTransport", "PipeTransport", "Transport"]

_HEADER = struct.Struct(">I")
#: a frame larger than this is not ours (a stray write on the protocol's stream)
MAX_FRAME = 256 * 1024 * 1024


class Transport(Protocol):
    """One end of a worker's message stream."""

    def send(self, message: dict[str, Any]) -> None:
        """Send one message (thread-safe)."""

    def receive(self) -> dict[str, Any] | None:
        """The next message, blocking; None once the other end is gone."""

    def close(self) -> None:
        """Close this end (the other end's receive then gives None)."""


class PipeTransport:
    """Length-prefixed pickle frames over a pair of binary streams."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Write one frame; OSError (BrokenPipeError) when the other end is gone."""
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._writer.write(_HEADER.pack(len(body)) + body)
            self._writer.flush()

    def receive(self) -> dict[str, Any] | None:
        """Read one frame; None at the end of the stream (or a broken one)."""
        try:
            header = self._read(_HEADER.size)
            if header is None:
                return None
            (size,) = _HEADER.unpack(header)
            if size > MAX_FRAME:
                raise ValueError(f"load worker stream out of step: a frame of {size} bytes")
            body = self._read(size)
            if body is None:
                return None
            message = pickle.loads(body)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            return None
        return message if isinstance(message, dict) else None

    def _read(self, size: int) -> bytes | None:
        chunks = []
        left = size
        while left:
            chunk = self._reader.read(left)
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Close the writing side (the reader ends with the process)."""
        with self._lock:
            try:
                self._writer.close()
            except OSError:
                pass


class ChannelTransport:
    """An execnet channel: plain values only (``bytes``, ``str``, numbers, dicts, lists)."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Send one message; OSError when the channel is closed."""
        with self._lock:
            try:
                self._channel.send(message)
            except Exception as exc:  # execnet raises its own errors for a closed channel
                raise OSError(f"load worker channel closed: {exc}") from exc

    def receive(self) -> dict[str, Any] | None:
        """The next message; None when the channel is closed."""
        try:
            message = self._channel.receive()
        except Exception:  # EOFError, execnet's RemoteError / channel closed
            return None
        return message if isinstance(message, dict) else None

    def close(self) -> None:
        """Close the channel."""
        try:
            self._channel.close()
        except Exception:
            pass
