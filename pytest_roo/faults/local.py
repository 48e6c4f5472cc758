"""The in-process proxy: asyncio (uvloop when installed) in a thread of its own.

Its own thread and event loop make it usable from sync tests and from load runs in other event
loops alike; every public call is marshalled into that loop and waits for it (bounded).

Per connection there are two directions, ``upstream`` (client -> server) and ``downstream``
(server -> client). With no toxic on a direction, bytes are written to the other socket straight
from ``data_received``: no queue, no task switch, which keeps the added latency in the tens of
microseconds (bench/faults.py). With toxics, chunks are queued with the time they were read and
a worker passes each through the direction's toxics in the order they were added, as Toxiproxy's
chain does. A toxic that is changed or removed releases data it is holding at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar, cast

from pytest_roo.faults.proxy import Proxy, ProxyError, Upstream, parse_upstream
from pytest_roo.faults.toxics import STREAMS, Toxic

__all__ = ["LocalProxy", "build_chains", "roll", "slice_offsets"]

T = TypeVar("T")
CALL_TIMEOUT = 10.0
QUEUE_HIGH = 64  # chunks queued in a direction before its source stops being read
QUEUE_LOW = 16
EARLY_ENOUGH = 0.0002  # seconds: a timer this close to its deadline has fired on time
_names = itertools.count(1)
_now = time.monotonic  # data timestamps and deadlines: precise, unlike uvloop's loop.time()

Next = Callable[[bytes], Awaitable[None]]


# --- pure parts (unit-tested) -------------------------------------------------------------------


def roll(toxicity: float, rng: random.Random) -> bool:
    """Whether a toxic applies to one connection: Toxiproxy's ``rand < toxicity``."""
    return rng.random() < toxicity


def build_chains(toxics: Mapping[str, Toxic], rolls: Mapping[str, bool]) -> dict[str, list[Toxic]]:
    """The toxics that apply to one connection, per stream, in the order they were added."""
    chains: dict[str, list[Toxic]] = {stream: [] for stream in STREAMS}
    for toxic in toxics.values():
        if rolls.get(toxic.name):
            chains[toxic.stream].append(toxic)
    return chains


def slice_offsets(size: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Toxiproxy's slicer cut points for ``size`` bytes: ``[0, a, b, ..., size]``.

    A piece within ``variation`` of ``average`` (or smaller) is kept; a larger one is split near
    its middle, moved by up to +/- ``variation``, and both halves are cut again.
    """
    cuts = [0]
    stack = [(0, size)]
    while stack:
        start, end = stack.pop()
        if (end - start) - average <= variation:
            cuts.append(end)
            continue
        shift = rng.randint(-variation, variation - 1) if variation else 0
        mid = min(max(start + (end - start) // 2 + shift, start + 1), end - 1)
        stack.append((mid, end))
        stack.append((start, mid))
    return cuts


# --- the loop thread ----------------------------------------------------------------------------


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class LoopThread:
    """An event loop running in a daemon thread; :meth:`run` calls into it from any thread."""

    def __init__(self, name: str) -> None:
        self.loop = _new_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a LocalProxy method was called from the proxy's own event loop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ProxyError(f"the proxy's event loop did not answer within {timeout:g} s") from None

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(CALL_TIMEOUT)


# --- one proxied connection ---------------------------------------------------------------------


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


# --- the toxics' behaviour ----------------------------------------------------------------------


async def _latency(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    delay = float(toxic.attributes["latency"])
    jitter = toxic.attributes["jitter"]
    if jitter:
        delay += d.conn.core.rng.uniform(-jitter, jitter)
    # from the time the chunk was read, so that delays pipeline as in Toxiproxy
    await d.hold(read_at + max(delay, 0) / 1000, toxic)
    await next_(data)


async def _bandwidth(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    rate = toxic.attributes["rate"] * 1000  # bytes per second (Toxiproxy: 1 KB = 1000 bytes)
    if rate <= 0:
        await next_(data)
        return
    state = d.state.setdefault(toxic.name, {"behind": 0.0})
    piece = max(1, rate // 10)  # at most 100 ms worth of bytes at a time
    for offset in range(0, len(data), piece):
        chunk = data[offset : offset + piece]
        # Each piece waits its own transfer time. A timer that fires late puts the stream
        # behind; the next pieces wait that much less (as Toxiproxy offsets its next sleep),
        # so the average rate holds on a busy machine. Idle time earns no credit: no bursts.
        until = _now() + len(chunk) / rate - state["behind"]
        if not await d.hold(until, toxic):
            await next_(data[offset:])  # toxic changed or removed: the rest goes on now
            return
        state["behind"] = max(0.0, _now() - until)
        await next_(chunk)


async def _slow_close(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    await next_(data)  # only the close is delayed (see _Direction._slow_close)


async def _timeout(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    return  # data dropped; the connection is closed by the timer set when the toxic applied


async def _reset_peer(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    still = await d.hold(_now() + toxic.attributes["timeout"] / 1000, toxic)
    if still:
        d.conn.reset()
    else:
        await next_(data)


async def _slicer(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    attrs = toxic.attributes
    cuts = slice_offsets(len(data), attrs["average_size"], attrs["size_variation"], d.conn.core.rng)
    for start, end in itertools.pairwise(cuts):
        await next_(data[start:end])
        pause = attrs["delay"] / 1e6
        if pause and end < len(data) and not await d.hold(_now() + pause, toxic):
            await next_(data[end:])
            return


async def _limit_data(d: _Direction, toxic: Toxic, read_at: float, data: bytes, next_: Next) -> None:
    state = d.state.setdefault(toxic.name, {"sent": 0})
    remaining = toxic.attributes["bytes"] - state["sent"]
    if remaining > 0:
        part = data[:remaining]
        state["sent"] += len(part)
        await next_(part)
    if toxic.attributes["bytes"] - state["sent"] <= 0:
        d.conn.close()


_HANDLERS: dict[str, Callable[[_Direction, Toxic, float, bytes, Next], Awaitable[None]]] = {
    "latency": _latency,
    "bandwidth": _bandwidth,
    "slow_close": _slow_close,
    "timeout": _timeout,
    "reset_peer": _reset_peer,
    "slicer": _slicer,
    "limit_data": _limit_data,
}


# --- the proxy's state in its loop --------------------------------------------------------------


class _Core:
    """Everything that lives in the proxy's event loop; touched only from that loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, upstream: Upstream, rng: random.Random,
                 connect_timeout: float) -> None:
        self.loop = loop
        self.upstream = upstream
        self.rng = rng
        self.connect_timeout = connect_timeout
        self.toxics: dict[str, Toxic] = {}
        self.conns: set[_Conn] = set()
        self.server: asyncio.AbstractServer | None = None
        self.accepting = False
        self.host = ""
        self.port = 0
        self._change: asyncio.Future[None] | None = None

    def next_change(self) -> asyncio.Future[None]:
        if self._change is None or self._change.done():
            self._change = self.loop.create_future()
        return self._change

    def _changed(self) -> None:
        if self._change is not None and not self._change.done():
            self._change.set_result(None)
        self._change = None

    async def listen(self, host: str, port: int) -> int:
        self.accepting = True
        try:
            self.server = await self.loop.create_server(
                lambda: _Side(_Conn(self), "client"), host, port, reuse_address=True
            )
        except BaseException:
            self.accepting = False
            raise
        self.host = host
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    def _stop_accepting(self) -> None:
        self.accepting = False
        if self.server is not None:
            server, self.server = self.server, None
            server.close()

    async def stop_listening(self) -> None:
        self._stop_accepting()
        for conn in list(self.conns):
            conn.close()
        await asyncio.sleep(0)

    async def set_toxic(self, toxic: Toxic) -> None:
        self.toxics[toxic.name] = toxic
        for conn in list(self.conns):
            conn.toxic_set(toxic)
        self._changed()

    async def delete_toxic(self, name: str) -> None:
        toxic = self.toxics.pop(name)
        for conn in list(self.conns):
            conn.toxic_removed(toxic)
        self._changed()

    async def close(self) -> None:
        self._stop_accepting()
        for conn in list(self.conns):
            conn.close(abort=True)
        for _ in range(3):  # let the transports' connection_lost callbacks run
            await asyncio.sleep(0)

    async def count(self) -> int:
        return len(self.conns)


class LocalProxy(Proxy):
    """A Toxiproxy-like TCP proxy in this process (asyncio in a thread of its own).

    Args:
        upstream: ``"host:port"`` or a URL (``http://127.0.0.1:8080``, ``postgresql://...``).
        name: the proxy's name (default ``roo_proxy_N``).
        listen: ``host:port`` to listen on; port 0 picks a free one.
        seed: seeds the random draws (toxicity per connection, jitter, slicer sizes).
        connect_timeout: seconds to connect upstream before the client's connection is closed.

    Example::

        with LocalProxy("127.0.0.1:5432") as proxy:
            proxy.add("latency", latency=50)
            conn = await asyncpg.connect(host=proxy.host, port=proxy.port, ...)
    """

    def __init__(
        self,
        upstream: str | Upstream,
        *,
        name: str | None = None,
        listen: str = "127.0.0.1:0",
        seed: int | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        target = upstream if isinstance(upstream, Upstream) else parse_upstream(upstream)
        super().__init__(target, name or f"roo_proxy_{next(_names)}")
        host, _, port_text = listen.rpartition(":")
        host = host.strip("[]")
        if not host or not port_text.isdigit() or int(port_text) > 65535:
            raise ValueError(f"invalid listen address {listen!r}: expected host:port, e.g. 127.0.0.1:0")
        self._thread = LoopThread(f"roo-{self.name}")
        self._core = _Core(self._thread.loop, target, random.Random(seed), connect_timeout)
        self._closed = False
        try:
            self._thread.run(self._core.listen(host, int(port_text)))
        except OSError as exc:
            self._thread.stop()
            raise ProxyError(f"proxy {self.name!r} cannot listen on {listen}: {exc}") from None

    @property
    def host(self) -> str:
        """The address the proxy listens on."""
        return self._core.host

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return self._core.port

    @property
    def connections(self) -> int:
        """Connections open through the proxy now."""
        if self._closed:
            return 0
        return self._thread.run(self._core.count())

    def _create_toxic(self, toxic: Toxic) -> None:
        self._check_open()
        self._thread.run(self._core.set_toxic(toxic))

    def _update_toxic(self, toxic: Toxic) -> None:
        self._check_open()
        self._thread.run(self._core.set_toxic(toxic))

    def _delete_toxic(self, name: str) -> None:
        self._check_open()
        self._thread.run(self._core.delete_toxic(name))

    def _set_enabled(self, enabled: bool) -> None:
        self._check_open()
        if enabled:
            try:
                self._thread.run(self._core.listen(self._core.host, self._core.port))
            except OSError as exc:
                raise ProxyError(
                    f"proxy {self.name!r} cannot listen again on {self.address}: {exc}"
                ) from None
        else:
            self._thread.run(self._core.stop_listening())

    def _check_open(self) -> None:
        if self._closed:
            raise ProxyError(f"proxy {self.name!r} is closed")

    def close(self) -> None:
        """Stop listening, close every connection and stop the proxy's thread; closing twice is
        harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            self._thread.run(self._core.close())
        finally:
            self._thread.stop()
