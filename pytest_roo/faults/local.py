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
import itertools
import random

from pytest_roo.faults.chains import build_chains, roll, slice_offsets
from pytest_roo.faults.connection import _Conn, _Side
from pytest_roo.faults.loop_thread import LoopThread
from pytest_roo.faults.proxy import Proxy, ProxyError, Upstream, parse_upstream
from pytest_roo.faults.toxics import Toxic

__all__ = ["LocalProxy", "build_chains", "roll", "slice_offsets"]

_names = itertools.count(1)


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
