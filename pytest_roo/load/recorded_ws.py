"""``WsSwarmFixture``: what the ``ws_swarm`` fixture hands to a test (typed, recorded).

Every method takes the shared keywords of :class:`~pytest_roo.load.options.Load` (``load=``,
``clients=``, ``duration=``, ``rate=``, ``stages=``, ``think=``, ``model=``, ``timeout=``,
``message_size=``, ``warmup=``, ``abort_on_fail=``), runs one measured load run (after an
unrecorded warm-up when ``warmup=`` is given), records its LoadResult into the test's report and
returns it. Each has an awaitable twin for ``async def`` tests: ``await ws_swarm.echo_async(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pytest_roo.load.recorded import ENGINE_KEYWORDS, RecordedLoad, awaitable

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pytest_roo.load.options import LoadKeywords
    from pytest_roo.load.scenario import Scenario, UserHook
    from pytest_roo.load.ws import WsSwarm  # noqa: F401 - the base class names it
    from pytest_roo.load.ws_fanout import Trigger
    from pytest_roo.results.metrics import LoadResult

__all__ = ["WsSwarmFixture"]

_BROADCAST = ("clients", "duration", "rate", "stages", "timeout", "message_size")
_SUBSCRIBE = ("clients", "duration", "rate", "timeout", "message_size")
_CHURN = ("clients", "duration", "rate", "model", "timeout", "message_size")


class WsSwarmFixture(RecordedLoad["WsSwarm"]):
    """A swarm of WebSocket clients (:class:`pytest_roo.load.ws.WsSwarm`), every result
    recorded. The shared keywords are those of :class:`~pytest_roo.load.options.Load`."""

    def echo(self, url: str, *, correct: bool = True,
             **load: Unpack[LoadKeywords]) -> LoadResult:
        """Each client sends ``message_size``-byte text frames and times the echo: ``rtt``
        (primary), ``connect``. Replies are matched to their messages (an altered one is a
        ``mismatch``, a greeting counts in ``counters["unexpected"]``); a refused or dropped
        client counts as its share of the operations. Closed model: one message in flight per
        client, ``rtt`` corrected for coordinated omission (``rtt_raw`` plain; ``correct=False``
        turns it off); open model (``rate=``): latency from the intended send time."""
        return self._run("echo", lambda e, kw: e.echo(url, correct=correct, **kw), load,
                         ENGINE_KEYWORDS)

    def broadcast(self, url: str, *, publish_url: str | None = None,
                  **load: Unpack[LoadKeywords]) -> LoadResult:
        """``clients`` subscribers on ``url``; a publisher (one more WebSocket on ``url``, or an
        HTTP POST to ``publish_url``) sends at ``rate`` (default 10/s): ``delivery`` from the
        intended publish time, per subscriber; ``lost``/``duplicate``/``mismatch`` errors;
        operations = messages x clients. Takes no ``think=``/``model=``."""
        return self._run("broadcast",
                         lambda e, kw: e.broadcast(url, publish_url=publish_url, **kw), load,
                         _BROADCAST)

    def subscribe(self, url: str, trigger: Trigger, *,
                  trigger_headers: Mapping[str, str] | None = None,
                  trigger_setup: Callable[[], Any] | None = None,
                  trigger_teardown: Callable[[Any], Any] | None = None,
                  **load: Unpack[LoadKeywords]) -> LoadResult:
        """``clients`` subscribers on ``url``; at ``rate`` (default 10/s) ``trigger(payload)``
        (a function, or a URL to POST the payload to with ``trigger_headers``) must make the
        server push a frame with the payload's ``roo`` token: ``delivery`` from the trigger's
        intended start; ``publish`` times the trigger call. ``trigger_setup()`` runs once on
        the run's loop before the subscribers connect (a log-in, a client bound to that loop);
        what it returns is passed as ``trigger(payload, state)`` and to
        ``trigger_teardown(state)`` at the end."""
        return self._run(
            "subscribe",
            lambda e, kw: e.subscribe(url, trigger, trigger_headers=trigger_headers,
                                      trigger_setup=trigger_setup,
                                      trigger_teardown=trigger_teardown, **kw),
            load, _SUBSCRIBE)

    def churn(self, url: str, **load: Unpack[LoadKeywords]) -> LoadResult:
        """Connect -> one echo -> disconnect, again and again: ``session`` (primary, from the
        intended start to the close), ``connect``. With ``rate`` sessions arrive on schedule
        over a pool of ``clients`` (default 100); without, ``clients`` users loop."""
        return self._run("churn", lambda e, kw: e.churn(url, **kw), load, _CHURN)

    def run(self, scenario: Scenario, *, setup: UserHook | None = None,
            teardown: UserHook | None = None, primary: str = "iteration", name: str = "ws.run",
            **load: Unpack[LoadKeywords]) -> LoadResult:
        """``async def scenario(session)`` per virtual user (closed) or per arrival (open):
        ``session.ws(url)`` (kept per user), ``session.http`` (aiohttp),
        ``session.measure("name")``, ``session.check(name, ok)``; ``iteration`` times each
        call. ``setup(session)``/``teardown(session)`` (``async def`` or plain) run once per
        virtual user, outside the measured window; ``session.data`` keeps what they make.
        ``primary`` names the metric the criteria judge by default, ``name`` the result."""
        return self._run("run", lambda e, kw: e.run(scenario, setup=setup, teardown=teardown,
                                                    primary=primary, name=name, **kw),
                         load, ENGINE_KEYWORDS)

    echo_async = awaitable(echo)
    broadcast_async = awaitable(broadcast)
    subscribe_async = awaitable(subscribe)
    churn_async = awaitable(churn)
    run_async = awaitable(run)
