"""``SioSwarmFixture``: what the ``sio_swarm`` fixture hands to a test (typed, recorded).

The Socket.IO twin of :class:`~pytest_roo.load.recorded_ws.WsSwarmFixture`: every method takes
the shared keywords of :class:`~pytest_roo.load.options.Load` (``load=``, ``clients=``,
``duration=``, ``rate=``, ``warmup=``, ``abort_on_fail=``...), runs one measured load run,
records its LoadResult into the test's report and returns it; each has an awaitable twin for
``async def`` tests (``await sio_swarm.call_async(...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_roo.load.recorded import RecordedLoad, awaitable

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pytest_roo.load.options import LoadKeywords
    from pytest_roo.load.socketio import AckCheck, SioHook, SioScenario, SioSwarm  # noqa: F401
    from pytest_roo.results.metrics import LoadResult

__all__ = ["SioSwarmFixture"]

_CALL = ("clients", "duration", "rate", "message_size", "stages", "think", "model", "timeout")
_BROADCAST = ("clients", "duration", "rate", "message_size", "stages", "timeout")
_CHURN = ("clients", "duration", "rate", "timeout", "model")
_RUN = ("clients", "duration", "rate", "stages", "think", "model", "timeout")


class SioSwarmFixture(RecordedLoad["SioSwarm"]):
    """A swarm of Socket.IO clients (:class:`pytest_roo.load.socketio.SioSwarm`: protocol v5
    over Engine.IO v4, what socket.io 3.x / 4.x servers speak), every result recorded. Every
    method takes ``namespace=`` and ``auth=`` (the CONNECT payload) and ``path=`` (default
    ``/socket.io/``)."""

    def call(self, url: str, event: str = "echo", *, namespace: str = "/",
             auth: dict[str, Any] | None = None, expect: AckCheck = "echo",
             path: str = "/socket.io/", correct: bool = True,
             **load: Unpack[LoadKeywords]) -> LoadResult:
        """Emit ``event`` with an ack and time the ack (``ack``, from the intended send time
        in the open model); the ack's arguments must equal the emitted ones (``expect``), else
        ``mismatch``; other frames count as ``counters["unexpected"]``, never as the answer.
        See :meth:`pytest_roo.load.socketio.SioSwarm.call`."""
        return self._run("call", lambda e, kw: e.call(
            url, event, namespace=namespace, auth=auth, expect=expect, path=path,
            correct=correct, **kw), load, _CALL)

    def broadcast(self, url: str, *, room: str | None = None, event: str = "message",
                  publish_event: str = "publish", join_event: str = "join",
                  namespace: str = "/", auth: dict[str, Any] | None = None,
                  path: str = "/socket.io/", **load: Unpack[LoadKeywords]) -> LoadResult:
        """Subscribers join ``room`` (acknowledged before publishing starts), a publisher emits
        ``publish(room, payload)``, the room receives ``event``: ``delivery`` with ``lost`` /
        ``duplicate`` / ``mismatch``. See :meth:`pytest_roo.load.socketio.SioSwarm.broadcast`."""
        return self._run("broadcast", lambda e, kw: e.broadcast(
            url, room=room, event=event, publish_event=publish_event, join_event=join_event,
            namespace=namespace, auth=auth, path=path, **kw), load, _BROADCAST)

    def churn(self, url: str, *, namespace: str = "/", auth: dict[str, Any] | None = None,
              path: str = "/socket.io/", **load: Unpack[LoadKeywords]) -> LoadResult:
        """Connect (up to the server's CONNECT) and disconnect over and over: ``session``,
        ``connect``; a CONNECT_ERROR is ``connect_error`` with the server's message. See
        :meth:`pytest_roo.load.socketio.SioSwarm.churn`."""
        return self._run("churn", lambda e, kw: e.churn(
            url, namespace=namespace, auth=auth, path=path, **kw), load, _CHURN)

    def run(self, scenario: SioScenario, url: str, *, namespace: str = "/",
            auth: dict[str, Any] | None = None, path: str = "/socket.io/",
            primary: str = "iteration", setup: SioHook | None = None,
            teardown: SioHook | None = None, **load: Unpack[LoadKeywords]) -> LoadResult:
        """``async def scenario(session)`` per user or arrival, with ``session.emit``,
        ``session.call`` (emit with ack), ``session.wait_for(event)``, ``session.on(event,
        handler)``, ``session.measure``, ``session.of(namespace, auth)``, ``session.request``;
        ``setup(session)`` / ``teardown(session)`` once per user, outside the measured window.
        See :meth:`pytest_roo.load.socketio.SioSwarm.run`."""
        return self._run("run", lambda e, kw: e.run(
            scenario, url, namespace=namespace, auth=auth, path=path, primary=primary,
            setup=setup, teardown=teardown, **kw), load, _RUN)

    call_async = awaitable(call)
    broadcast_async = awaitable(broadcast)
    churn_async = awaitable(churn)
    run_async = awaitable(run)
