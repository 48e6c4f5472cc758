"""What ``async def scenario(session)`` of ``sio_swarm.run`` receives: :class:`SioSession`,
this user's Socket.IO connection (kept across its iterations) with the session tools."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pytest_roo.load.scenario import call_hook
from pytest_roo.load.session import Measure, Session
from pytest_roo.load.socketio_socket import SioChannel, SioSocket

__all__ = ["SioHook", "SioScenario", "SioSession", "on_sio"]


class SioSession:
    """What ``async def scenario(session)`` of :meth:`SioSwarm.run` receives: this user's
    Socket.IO connection (kept across its iterations) and the session tools.

    ``await session.emit(event, *args)``; ``await session.call(event, *args)`` (emit with an
    ack, returns the ack's arguments); ``await session.wait_for(event)`` (the next event's
    arguments); ``session.on(event, handler)`` (every such event to ``handler(args)`` as it
    arrives); ``await session.of("/other", auth=...)`` another namespace on the same
    connection; ``await session.request(method, url, ...)`` an HTTP request; ``session.measure(name)``, ``record``, ``check``, ``error``, ``count``;
    ``vu``, ``iteration``, ``data``, ``sid``, ``stopping``.
    """

    def __init__(self, base: Session, socket: SioSocket) -> None:
        self._base = base
        self.socket = socket

    @property
    def vu(self) -> int:
        """This virtual user's number, 0-based."""
        return self._base.vu

    @property
    def iteration(self) -> int:
        """The number of the current iteration of this user's scenario, from 1."""
        return self._base.iteration

    @property
    def data(self) -> dict[str, Any]:
        """This user's own dict for the scenario's state, kept across its iterations."""
        return self._base.data

    @property
    def sid(self) -> str:
        """The Socket.IO session id the server gave this user on the run's namespace."""
        return self.socket.channel.sid

    @property
    def stopping(self) -> bool:
        """True once the run is ending: long scenarios may check it to leave early."""
        return self._base.stopping

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event(*args)`` on the run's namespace, without an ack."""
        await self.socket.channel.emit(event, *args)

    async def call(self, event: str, *args: Any, timeout: float | None = None) -> list[Any]:
        """Send ``event(*args)`` asking for an ack; return the ack's arguments."""
        return await self.socket.channel.call(event, *args, timeout=timeout)

    async def wait_for(self, event: str, timeout: float | None = None) -> list[Any]:
        """The arguments of the next ``event`` from the server on the run's namespace."""
        return await self.socket.channel.wait_for(event, timeout=timeout)

    def on(self, event: str, handler: Callable[[list[Any]], Any] | None) -> None:
        """Call ``handler(args)`` for every ``event`` on the run's namespace the moment it is
        read (to time arrivals), instead of keeping it for ``wait_for``; None removes it."""
        self.socket.channel.on(event, handler)

    async def request(self, method: str, url: str, *, name: str = "request",
                      expect: Any = None, **kwargs: Any) -> bytes:
        """An HTTP request beside the Socket.IO traffic (a trigger, a login), timed as
        ``name``; see :meth:`pytest_roo.load.session.Session.request`."""
        return await self._base.request(method, url, name=name, expect=expect, **kwargs)

    async def of(self, namespace: str, auth: dict[str, Any] | None = None) -> SioChannel:
        """Another namespace multiplexed on this user's connection (CONNECTed with ``auth``
        on first use, timed as ``connect_namespace``), with its own ``emit``, ``call`` and
        ``wait_for``."""
        return await self.socket.of(namespace, auth)

    def measure(self, name: str) -> Measure:
        """A context manager that records the time its block takes as metric ``name``."""
        return self._base.measure(name)

    def record(self, name: str, seconds: float) -> None:
        """Record a latency (seconds) the scenario timed itself as metric ``name``; in the open
        model the first one of an iteration also gets the time it waited past its start."""
        self._base.record(name, seconds)

    def check(self, name: str, condition: Any) -> bool:
        """k6's ``check()``: a false ``condition`` counts under ``counters["check_failed:<name>"]``
        and makes the iteration one ``mismatch`` error; the scenario goes on. Returns the condition
        as a bool."""
        return self._base.check(name, condition)

    def error(self, kind: str, count: int = 1) -> None:
        """Count ``count`` errors of kind ``kind`` for this run."""
        self._base.error(kind, count)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` of this run."""
        self._base.count(name, n)


SioScenario = Callable[[SioSession], Awaitable[None]]
#: ``setup=`` / ``teardown=`` of :meth:`SioSwarm.run`: once per user, ``async def`` or plain
SioHook = Callable[[SioSession], "Awaitable[None] | None"]


def on_sio(hook: SioHook | None) -> Callable[[Session], Awaitable[None]] | None:
    """A per-user hook of ``SioSwarm.run``, called with the user's :class:`SioSession`."""
    if hook is None:
        return None

    async def call(sess: Session) -> None:
        await call_hook(hook, sess.data["_sio"])

    return call
