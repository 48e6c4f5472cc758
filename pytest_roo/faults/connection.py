"""One proxied connection of the in-process proxy: its two sockets and, per direction, the queue
and worker that pass the data through the direction's toxics.

With no toxic on a direction, bytes are written to the other socket straight from
``data_received``: no queue, no task switch. With toxics, chunks are queued with the time they
were read and a worker passes each through the toxics; a toxic that is changed or removed
releases data it is holding at once.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from pytest_roo.faults.chains import build_chains, roll
from pytest_roo.faults.toxic_behaviour import _HANDLERS, _now
from pytest_roo.faults.toxics import STREAMS, Toxic

if TYPE_CHECKING:
    from pytest_roo.faults.local import _Core

QUEUE_HIGH = 64  # chunks queued in a direction before its source stops being read
QUEUE_LOW = 16
EARLY_ENOUGH = 0.0002  # seconds: a timer this close to its deadline has fired on time


class _Side(asyncio.Protocol):
    """One socket of a proxied connection, client-facing or upstream-facing."""

    def __init__(self, conn: _Conn, role: str) -> None:
        self.conn = conn
        self.role = role

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods
        self.conn.made(self.role, cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        self.conn.direction_from(self.role).feed(data)

    def eof_received(self) -> bool:
        self.conn.direction_from(self.role).feed_eof()
        return True  # keep the other half open: TCP half-close passes through

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.lost(self.role)

    def pause_writing(self) -> None:
        self.conn.direction_to(self.role).set_blocked(True)

    def resume_writing(self) -> None:
        self.conn.direction_to(self.role).set_blocked(False)


class _Direction:
    """Bytes from one socket to the other, through the toxics of one stream."""

    def __init__(self, conn: _Conn, stream: str, source: str, dest: str) -> None:
        self.conn = conn
        self.stream = stream
        self.source_role = source
        self.dest_role = dest
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.pauses: set[str] = set()
        self.blocked = False
        self.unblocked: asyncio.Future[None] | None = None
        self.eof = False
        self.finished = False
        self.state: dict[str, dict[str, Any]] = {}

    # -- feeding (called from the protocols) --

    def feed(self, data: bytes) -> None:
        if self.finished:
            return
        if self.worker is None and not self.conn.chains[self.stream]:
            dest = self.conn.transports.get(self.dest_role)
            if dest is not None:
                dest.write(data)  # the fast path: no toxic, nothing queued
                return
        # toxics to pass, data queued before it, or the upstream not connected yet
        self.queue.append((_now(), data))
        if len(self.queue) >= QUEUE_HIGH:
            self.pause("queue")
        self._ensure_worker()

    def feed_eof(self) -> None:
        if self.eof or self.finished:
            return
        self.eof = True
        if self.worker is None and not self.conn.chains[self.stream] and self.conn.ready.done():
            self.finish()
            return
        self.queue.append((_now(), None))
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self.worker is None:
            self.worker = self.conn.loop.create_task(self._work())

    # -- flow control --

    def pause(self, reason: str) -> None:
        if not self.pauses:
            source = self.conn.transports.get(self.source_role)
            if source is not None and not source.is_closing():
                source.pause_reading()
        self.pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self.pauses:
            return
        self.pauses.discard(reason)
        if not self.pauses:
            source = self.conn.transports.get(self.source_role)
            if source is not None and not source.is_closing():
                source.resume_reading()

    def set_blocked(self, blocked: bool) -> None:
        self.blocked = blocked
        if blocked:
            self.pause("dest")
        else:
            self.resume("dest")
            if self.unblocked is not None and not self.unblocked.done():
                self.unblocked.set_result(None)
            self.unblocked = None

    # -- the worker --

    async def _work(self) -> None:
        try:
            if not self.conn.ready.done():
                await self.conn.ready
            while self.queue and not self.finished:
                read_at, data = self.queue.popleft()
                if len(self.queue) <= QUEUE_LOW:
                    self.resume("queue")
                if data is None:
                    await self._slow_close()
                    self.finish()
                    break
                await self._through(self.conn.chains[self.stream], 0, read_at, data)
        except Exception:
            # a broken connection, not a hung one: both peers see it end
            self.conn.close(abort=True)
        finally:
            self.worker = None

    async def _through(self, chain: list[Toxic], index: int, read_at: float, data: bytes) -> None:
        if index == len(chain):
            await self._write(data)
            return
        toxic = chain[index]

        async def next_(piece: bytes) -> None:
            await self._through(chain, index + 1, read_at, piece)

        await _HANDLERS[toxic.type](self, toxic, read_at, data, next_)

    async def _write(self, data: bytes) -> None:
        dest = self.conn.transports.get(self.dest_role)
        if self.finished or dest is None or dest.is_closing():
            return
        dest.write(data)
        if self.blocked:
            self.unblocked = self.conn.loop.create_future()
            await self.unblocked

    async def _slow_close(self) -> None:
        for toxic in self.conn.chains[self.stream]:
            if toxic.type == "slow_close" and toxic.attributes["delay"]:
                await self.hold(_now() + toxic.attributes["delay"] / 1000, toxic)

    async def hold(self, until: float, toxic: Toxic) -> bool:
        """Wait until ``until`` (:func:`_now`) while ``toxic`` is still the one on the proxy.

        Returns False when the toxic was changed or removed meanwhile (the data goes on now).
        Timers may fire a little early (uvloop's clock has millisecond steps), so the deadline
        is checked again on a precise clock and the rest waited for.
        """
        core = self.conn.core
        while True:
            if core.toxics.get(toxic.name) is not toxic:
                return False
            delay = until - _now()
            if delay <= EARLY_ENOUGH:
                return True
            await asyncio.wait([core.next_change()], timeout=delay)

    def finish(self) -> None:
        """No more data this way: half-close the destination, and the connection when both are."""
        if self.finished:
            return
        self.finished = True
        self.queue.clear()
        dest = self.conn.transports.get(self.dest_role)
        if dest is not None and not dest.is_closing():
            if dest.can_write_eof():
                dest.write_eof()
            else:  # pragma: no cover - TCP transports can
                dest.close()
        self.conn.maybe_close()

    def stop(self) -> None:
        self.finished = True
        self.queue.clear()
        if self.worker is not None and self.worker is not asyncio.current_task():
            self.worker.cancel()
        if self.unblocked is not None and not self.unblocked.done():
            self.unblocked.cancel()


class _Conn:
    """A client connection and its upstream connection."""

    def __init__(self, core: _Core) -> None:
        self.core = core
        self.loop = core.loop
        self.transports: dict[str, asyncio.Transport] = {}
        self.upstream = _Direction(self, "upstream", "client", "server")
        self.downstream = _Direction(self, "downstream", "server", "client")
        self.rolls: dict[str, bool] = {}
        self.chains: dict[str, list[Toxic]] = {stream: [] for stream in STREAMS}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.connecting: asyncio.Task[None] | None = None
        self.ready: asyncio.Future[None] = self.loop.create_future()  # both sockets connected
        self.closed = False

    def direction_from(self, role: str) -> _Direction:
        return self.upstream if role == "client" else self.downstream

    def direction_to(self, role: str) -> _Direction:
        return self.downstream if role == "client" else self.upstream

    def made(self, role: str, transport: asyncio.Transport) -> None:
        _set_nodelay(transport)
        self.transports[role] = transport
        if role != "client":
            return
        if self.closed or not self.core.accepting:
            transport.abort()
            return
        self.core.conns.add(self)
        transport.pause_reading()  # until the upstream answers
        for toxic in self.core.toxics.values():
            self.toxic_set(toxic)
        self.connecting = self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        upstream = self.core.upstream
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: _Side(self, "server"), upstream.host,
                                            upstream.port),
                self.core.connect_timeout,
            )
        except (OSError, asyncio.TimeoutError):
            self.close()  # as Toxiproxy: the client's connection is closed
            return
        finally:
            self.connecting = None
        if self.closed:
            server = self.transports.get("server")
            if server is not None:
                server.abort()
            return
        self.ready.set_result(None)
        client = self.transports.get("client")
        if client is not None and not client.is_closing() and not self.upstream.pauses:
            client.resume_reading()

    # -- toxics --

    def toxic_set(self, toxic: Toxic) -> None:
        self.rolls[toxic.name] = roll(toxic.toxicity, self.core.rng)
        if toxic.type != "limit_data":  # Toxiproxy keeps the bytes counted across updates
            self.upstream.state.pop(toxic.name, None)
            self.downstream.state.pop(toxic.name, None)
        timer = self.timers.pop(toxic.name, None)
        if timer is not None:
            timer.cancel()
        if self.rolls[toxic.name] and toxic.type == "timeout" and toxic.attributes["timeout"]:
            self.timers[toxic.name] = self.loop.call_later(
                toxic.attributes["timeout"] / 1000, self.close
            )
        self.chains = build_chains(self.core.toxics, self.rolls)

    def toxic_removed(self, toxic: Toxic) -> None:
        applied = self.rolls.pop(toxic.name, False)
        timer = self.timers.pop(toxic.name, None)
        if timer is not None:
            timer.cancel()
        if applied and toxic.type == "timeout":
            # Toxiproxy closes a connection whose data the timeout toxic dropped
            self.close()
            return
        self.chains = build_chains(self.core.toxics, self.rolls)

    # -- ending --

    def maybe_close(self) -> None:
        if self.upstream.finished and self.downstream.finished:
            self.close()

    def lost(self, role: str) -> None:
        self.transports.pop(role, None)
        if self.closed:
            return
        self.direction_to(role).stop()
        self.direction_from(role).feed_eof()
        self.maybe_close()

    def close(self, *, abort: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.core.conns.discard(self)
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        if self.connecting is not None and self.connecting is not asyncio.current_task():
            self.connecting.cancel()
        self.upstream.stop()
        self.downstream.stop()
        if not self.ready.done():
            self.ready.cancel()
        for transport in list(self.transports.values()):
            if abort:
                transport.abort()
            else:
                transport.close()

    def reset(self) -> None:
        """TCP RST to both peers: SO_LINGER 0, then close (discarding unsent data)."""
        for transport in self.transports.values():
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
        self.close(abort=True)


def _set_nodelay(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover
            pass
