"""Socket.IO load (protocol v5 over Engine.IO v4, what socket.io 3.x / 4.x speak) on the
engine's WebSocket client: emit-with-ack round trips, broadcasts to rooms, connect churn and
user scenarios, in any namespace, with an auth payload.

Usable without pytest::

    from pytest_roo.load.socketio import SioSwarm
    result = SioSwarm().call("http://127.0.0.1:5000", "echo", clients=100, rate="2000/s",
                             duration="10s")
    print(result.percentile("ack", 95))

The frames are those of :mod:`pytest_roo.load.socketio_codec`; the round trips live in
:mod:`pytest_roo.load.socketio_runs`, the room broadcast in :mod:`~pytest_roo.load.socketio_rooms`,
the handshake in :mod:`~pytest_roo.load.socketio_client`, the scenario socket and session in
:mod:`~pytest_roo.load.socketio_socket` and :mod:`~pytest_roo.load.socketio_session`. Error kinds: ``connect_error`` (the server answered
CONNECT with CONNECT_ERROR; the example carries its message), ``mismatch`` (an ack or delivery
that differs from what was sent), ``lost``, ``duplicate``, ``timeout``, ``refused``,
``closed``, ``protocol`` (not Socket.IO v5 / Engine.IO v4).
"""

from __future__ import annotations

import inspect
import secrets
import time
from collections.abc import Sequence
from typing import Any

from pytest_roo.load.engine import run_load
from pytest_roo.load.executor import check_connection_limit, drive, is_counted, mark_counted
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.scenario import check_hook, run_scenario
from pytest_roo.load.session import Session
from pytest_roo.load.socketio_client import ConnectRefused, SioClient, classify_sio
from pytest_roo.load.socketio_codec import check_namespace, encode_connect, engineio_url
from pytest_roo.load.socketio_rooms import RoomFanout
from pytest_roo.load.socketio_runs import AckCheck, AckRun
from pytest_roo.load.socketio_session import SioHook, SioScenario, SioSession, on_sio
from pytest_roo.load.socketio_socket import SioChannel, SioSocket
from pytest_roo.load.workload import make_workload
from pytest_roo.results.metrics import LoadResult

__all__ = ["AckCheck", "ConnectRefused", "SioChannel", "SioHook", "SioScenario", "SioSession",
           "SioSwarm"]




def _check_event(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"invalid {name}={value!r}: expected a non-empty event name")
    return value


def _check_auth(auth: Any) -> Any:
    encode_connect("/", auth)  # raises a clear error for anything but a dict or None
    return auth


def _check_expect(expect: Any) -> AckCheck:
    if expect is None or expect == "echo" or callable(expect):
        return expect  # type: ignore[no-any-return]
    raise ValueError(f"invalid expect={expect!r}: expected 'echo' (the ack returns what was "
                     "emitted), None (any ack), or a function check(sent_args, ack_args) "
                     "-> bool")


class SioSwarm(SioClient):
    """A swarm of Socket.IO clients. Each method runs one bounded load run in a fresh event
    loop and returns a :class:`~pytest_roo.results.metrics.LoadResult` (times in seconds).

    ``url`` is the server's base (``http://host:port``, ``ws://...``; ``path=`` the Engine.IO
    path, default ``/socket.io/``). Keywords every scenario shares: ``namespace=`` (default
    ``/``), ``auth=`` (the CONNECT payload, a dict; never printed), ``clients=``,
    ``duration=``, ``rate=`` (open model), ``message_size=``, ``stages=``, ``think=``,
    ``model=``, ``timeout=`` (seconds per await), ``abort=``.
    """

    # -- emit with ack --

    def call(
        self,
        url: str,
        event: str = "echo",
        *,
        namespace: str = "/",
        auth: dict[str, Any] | None = None,
        expect: AckCheck = "echo",
        path: str = "/socket.io/",
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        correct: bool = True,
        abort: Any = None,
    ) -> LoadResult:
        """Each client emits ``event`` with a ``message_size`` text argument asking for an ack
        and times the ack (``ack``, from the intended send time in the open model; the closed
        model records it with the expected-interval correction, ``ack_raw`` plain). The ack's
        arguments must equal the emitted ones (``expect="echo"``; None accepts any ack; a
        function ``check(sent_args, ack_args)`` decides otherwise): a wrong one is a
        ``mismatch``. Frames that are not the ack (greetings, other events) are counted in
        ``counters["unexpected"]``, never taken for the answer; a missing ack is a
        ``timeout``. ``connect`` times WebSocket handshake + open packet + CONNECT."""
        ws_url = engineio_url(url, path)
        check_namespace(namespace)
        _check_event("event", event)
        _check_auth(auth)
        expect = _check_expect(expect)
        wl = make_workload(clients=clients, duration=duration, rate=rate, stages=stages,
                           think=think, message_size=message_size, model=model)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)

        async def main(rec: Recorder) -> None:
            run = AckRun(self, rec, ws_url, wl, opts.timeout, correct, event=event,
                         namespace=namespace, auth=auth, expect=expect)
            await (run.open() if wl.open else run.closed())

        return run_load(
            "sio.call", "ack", main, duration=wl.duration, options=opts,
            expected_ops=self._expected(wl),
            info={"url": url, "scenario": "call", "event": event, "namespace": namespace,
                  **wl.describe()},
            setup_budget=opts.timeout * (2 + wl.clients / 256),
        )

    # -- broadcast to a room --

    def broadcast(
        self,
        url: str,
        *,
        room: str | None = None,
        event: str = "message",
        publish_event: str = "publish",
        join_event: str = "join",
        namespace: str = "/",
        auth: dict[str, Any] | None = None,
        path: str = "/socket.io/",
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        message_size: int | None = None,
        stages: Sequence[Any] | None = None,
        timeout: float | None = None,
        abort: Any = None,
    ) -> LoadResult:
        """``clients`` subscribers connect and emit ``join_event(room)`` (each acknowledged
        before the first publish); one more client emits ``publish(room, payload)`` with an
        ack at ``rate`` (default 10/s) and the server emits ``event(payload)`` to the room.
        ``delivery`` runs from the intended publish time to the arrival at each subscriber;
        ``lost`` (not delivered within the timeout), ``duplicate`` and ``mismatch`` (altered
        payload or another event) are errors; ``publish`` times the publish ack. Operations =
        messages published x clients."""
        ws_url = engineio_url(url, path)
        check_namespace(namespace)
        _check_auth(auth)
        for name, value in (("event", event), ("publish_event", publish_event),
                            ("join_event", join_event)):
            _check_event(name, value)
        run_id = secrets.token_hex(3)
        if room is None:
            room = f"roo-{run_id}"
        elif not isinstance(room, str) or not room:
            raise ValueError(f"invalid room={room!r}: expected a non-empty string")
        wl = make_workload(clients=clients, duration=duration,
                           rate=None if stages is not None else (rate or 10.0),
                           message_size=message_size or 64, stages=stages)
        check_connection_limit(wl.clients + 1)
        opts = self._options(timeout, abort)
        schedule = wl.schedule()
        runs: list[RoomFanout] = []
        chosen_room = room

        async def main(rec: Recorder) -> None:
            run = RoomFanout(self, rec, ws_url, wl, opts.timeout, run_id, room=chosen_room,
                             namespace=namespace, auth=auth, event=event,
                             publish_event=publish_event, join_event=join_event)
            runs.append(run)
            await run.run()

        def finish(rec: Recorder) -> None:
            if runs:
                runs[0].finish(rec)

        return run_load(
            "sio.broadcast", "delivery", main, duration=wl.duration, options=opts,
            expected_ops=lambda rec, elapsed: schedule.total * wl.clients,
            info={"url": url, "scenario": "broadcast", "room": room, "namespace": namespace,
                  **wl.describe()},
            finish=finish, setup_budget=opts.timeout * (2 + wl.clients / 256),
        )

    # -- connect churn --

    def churn(
        self,
        url: str,
        *,
        namespace: str = "/",
        auth: dict[str, Any] | None = None,
        path: str = "/socket.io/",
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        timeout: float | None = None,
        model: str | None = None,
        abort: Any = None,
    ) -> LoadResult:
        """Connect (WebSocket handshake, open packet, CONNECT answered) -> DISCONNECT -> close,
        over and over. With ``rate`` sessions arrive on schedule over a pool of ``clients``
        concurrent sessions (default 100); without it ``clients`` users loop. ``session``
        (primary) runs from the intended start to the close; ``connect`` times the handshake
        up to the server's CONNECT; a CONNECT_ERROR is an error ``connect_error``."""
        ws_url = engineio_url(url, path)
        check_namespace(namespace)
        _check_auth(auth)
        wl = make_workload(clients=clients, duration=duration, rate=rate, model=model,
                           default_clients=100)
        check_connection_limit(wl.clients)
        opts = self._options(timeout, abort)

        async def main(rec: Recorder) -> None:
            timeout = opts.timeout
            async with self._client_session(wl.clients) as http:
                pc = time.perf_counter_ns
                session_buf = rec.batch("session")

                async def one(_: Any, intended: int) -> None:
                    ws = await self._sio_connect(rec, http, ws_url, timeout, namespace, auth)
                    await self._sio_close_all(rec, [ws], namespace)
                    session_buf.append((pc() - intended) // 1000)

                await drive(rec, wl, one, timeout=timeout, grace=timeout)

        return run_load(
            "sio.churn", "session", main, duration=wl.duration, options=opts,
            expected_ops=self._expected(wl),
            info={"url": url, "scenario": "churn", "namespace": namespace, **wl.describe()},
        )

    # -- user scenarios --

    def run(
        self,
        scenario: SioScenario,
        url: str,
        *,
        namespace: str = "/",
        auth: dict[str, Any] | None = None,
        path: str = "/socket.io/",
        clients: int | None = None,
        duration: float | str | None = None,
        rate: float | str | None = None,
        stages: Sequence[Any] | None = None,
        think: float | str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        primary: str = "iteration",
        abort: Any = None,
        setup: SioHook | None = None,
        teardown: SioHook | None = None,
    ) -> LoadResult:
        """Run ``async def scenario(session)`` per user (closed) or per arrival (open) with a
        :class:`SioSession`: each user connects once (``connect``) and keeps its connection.
        ``iteration`` times each whole call from its intended start; exceptions are counted by
        kind (``timeout`` for a missing ack or event, ``closed``, ``connect_error``...).
        ``setup(session)`` / ``teardown(session)`` run once per user after it connected and
        before it closes, outside the measured window (another namespace, a subscription)."""
        if not inspect.iscoroutinefunction(scenario):
            raise ValueError(f"invalid scenario {scenario!r}: expected an `async def "
                             "scenario(session)` function")
        check_hook("setup", setup)
        check_hook("teardown", teardown)
        ws_url = engineio_url(url, path)
        check_namespace(namespace)
        _check_auth(auth)
        opts = self._options(timeout, abort)

        async def connect_user(sess: Session) -> None:
            socket = await SioSocket.connect(self, sess._rec, sess.http, ws_url, namespace,
                                             auth, opts.timeout)
            sess.data["_sio"] = SioSession(sess, socket)

        async def close_user(sess: Session) -> None:
            sio = sess.data.get("_sio")
            if isinstance(sio, SioSession):
                await sio.socket.close()

        async def wrapped(sess: Session) -> None:
            try:
                await scenario(sess.data["_sio"])
            except Exception as exc:
                if not is_counted(exc):
                    # with the exception's text: a CONNECT_ERROR's is the server's message
                    sess._rec.error(classify_sio(exc), detail=f"{type(exc).__name__}: {exc}")
                    mark_counted(exc)
                raise

        return run_scenario(
            wrapped, name="sio.run", primary=primary, options=opts, clients=clients,
            duration=duration, rate=rate, stages=stages, think=think, model=model, http=True,
            setup=connect_user, teardown=close_user, user_setup=on_sio(setup),
            user_teardown=on_sio(teardown), info={"url": url, "namespace": namespace},
        )
