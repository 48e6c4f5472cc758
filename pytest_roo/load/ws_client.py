"""What the WebSocket scenarios share: the client session, handshakes and close handshakes by a
pool of 256 workers, the payloads and how replies are recognised, and the accounting of clients
that could not connect or were dropped.

Connections are picows ones (:mod:`pytest_roo.load.ws_picows`) where picows imports, else
aiohttp's; ``WsSwarm(driver="aiohttp")`` or ``ROO_WS_DRIVER=aiohttp`` picks aiohttp's. Both
hand the scenarios the same interface (``send_str``, ``receive`` returning aiohttp's
``WSMessage``, ``close``).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from pytest_roo.load.engine import LoadDriver
from pytest_roo.load.errors import classify
from pytest_roo.load.executor import mark_counted
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.workload import Workload
from pytest_roo.redact import mask_secrets, mask_url

__all__ = [
    "CLOSING",
    "TOKEN_RE",
    "WsClient",
    "echo_message",
    "handshake_failure",
    "make_payload",
    "reply_id",
    "ws_driver",
]

#: the WebSocket drivers ``driver=`` names
WS_DRIVERS = ("picows", "aiohttp")


def ws_driver(driver: str | None) -> tuple[str, str | None]:
    """``(driver, why it is not the one asked for)``: ``driver`` or ``$ROO_WS_DRIVER`` or
    picows; aiohttp where picows does not import."""
    asked = driver or os.environ.get("ROO_WS_DRIVER") or "picows"
    if asked not in WS_DRIVERS:
        source = "driver=" if driver else "ROO_WS_DRIVER="
        raise ValueError(f"invalid {source}{asked!r}: expected one of {', '.join(WS_DRIVERS)}")
    if asked == "picows":
        from pytest_roo.load.ws_picows import available

        if not available():
            return "aiohttp", "picows is not installed (pip install 'picows>=2.3.1')"
    return asked, None

TOKEN_RE = re.compile(r"roo:([0-9a-f]{6}):([0-9]+)")

#: How much of a non-HTTP answer to the upgrade is shown (escaped).
_SHOWN_BYTES = 48
_BYTES_RE = re.compile(r"""b(['"]).*?(?<!\\)\1""", re.S)

#: Per handshake: set to True by the client session's trace once the TCP connection is up, so
#: that a timeout can say whether the server accepted the connection and then stayed silent.
_CONNECTED: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "roo_ws_connected", default=None)


async def _on_connected(session: Any, context: Any, params: Any) -> None:
    box = _CONNECTED.get()
    if box is not None:
        box[0] = True


def _trace_config() -> Any:
    import aiohttp

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_on_connected)
    trace.on_connection_reuseconn.append(_on_connected)
    return trace


def _first_bytes(message: str) -> str:
    """The bytes the parser quotes in its message (escaped, at most ``_SHOWN_BYTES``)."""
    match = _BYTES_RE.search(message)
    shown = match.group(0) if match else repr(message.split("\n", 1)[0])
    if len(shown) > _SHOWN_BYTES:
        shown = shown[:_SHOWN_BYTES] + "..."
    return mask_secrets(shown)


def _parse_error(exc: BaseException) -> BaseException | None:
    """The HTTP parser's error behind ``exc`` (an answer that is not HTTP), if there is one."""
    from aiohttp.http_exceptions import HttpProcessingError

    seen = 0
    cause = exc.__cause__ or exc.__context__
    while cause is not None and seen < 5:
        if isinstance(cause, HttpProcessingError):
            return cause
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return None


def handshake_failure(exc: BaseException, url: str, timeout: float,
                      connected: bool | None = None) -> tuple[str, str]:
    """``(kind, detail)`` of a failed WebSocket handshake, in words.

    The detail names what came back (never the request's headers, which may carry a token):
    a refused connection, a connect timeout, a connection accepted and then left without an
    answer, an answer that is not HTTP (its first bytes, escaped), an HTTP status other than
    101, a 101 whose ``Sec-WebSocket-Accept`` or upgrade headers are wrong. ``connected``: the
    TCP connection was established (None when unknown).
    """
    import aiohttp

    where = f"connect {mask_url(url)}"
    kind = classify(exc)
    if isinstance(exc, aiohttp.ClientConnectorError) and kind == "refused":
        return kind, f"{where}: connection refused (nothing listens there)"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        status, message = exc.status, str(exc.message)
        if status == 101:
            what = {"Invalid challenge response": "a wrong Sec-WebSocket-Accept",
                    "Invalid upgrade header": "a wrong or missing Upgrade header",
                    "Invalid connection header": "a wrong or missing Connection header",
                    }.get(message, mask_secrets(message[:80]))
            return "protocol", f"{where}: the server answered 101 Switching Protocols with {what}"
        return kind, (f"{where}: the server answered HTTP {status} to the WebSocket upgrade "
                      f"(expected 101 Switching Protocols)")
    if isinstance(exc, aiohttp.ClientResponseError) and _parse_error(exc) is not None:
        message = str(exc.message)
        if message.startswith("Bad status line"):
            return "protocol", (f"{where}: the answer to the WebSocket upgrade is not HTTP; "
                                f"it began with {_first_bytes(message)}")
        return "protocol", (f"{where}: the answer to the WebSocket upgrade is not valid HTTP: "
                            f"{mask_secrets(message.splitlines()[0][:80])}")
    if kind == "timeout":
        if isinstance(exc, aiohttp.ConnectionTimeoutError) or connected is False:
            return kind, (f"{where}: connect timeout: no TCP connection within {timeout:g} s")
        if connected:
            return kind, (f"{where}: the connection was accepted but no answer to the "
                          f"WebSocket upgrade came within {timeout:g} s")
        return kind, f"{where}: no answer within {timeout:g} s"
    shown = mask_secrets(mask_url(str(exc)))[:120] if not isinstance(
        exc, aiohttp.ClientResponseError) else f"status {exc.status}: {exc.message}"
    return kind, f"{where}: {type(exc).__name__}: {shown}"


def make_payload(run_id: str, seq: int, size: int, intended_epoch_ns: int) -> str:
    """The JSON broadcast payload of docs/load.md, padded to ``size`` bytes when possible."""
    head = f'{{"roo": "roo:{run_id}:{seq}", "seq": {seq}, "t": {intended_epoch_ns}, "pad": "'
    pad = max(0, size - len(head) - 2)
    return head + "x" * pad + '"}'


def echo_message(prefix: str, k: int, pad: str) -> str:
    """Echo message ``k``: ``roo:<run id>:<k>:`` padded with ``x`` to the message size (the
    id first, so that a truncated echo still names the message it belongs to)."""
    head = f"{prefix}{k}:"
    return head + pad[len(head):]


def reply_id(prefix: str, data: str) -> int | None:
    """The message id an echo frame names, or None when it is not an echo of this run."""
    if not data.startswith(prefix):
        return None
    start = len(prefix)
    end = start
    while end < len(data) and data[end].isdigit():
        end += 1
    return int(data[start:end]) if end > start else None


def _closing_types() -> frozenset[Any]:
    import aiohttp

    t = aiohttp.WSMsgType
    return frozenset({t.CLOSE, t.CLOSING, t.CLOSED, t.ERROR})


class _Closing:
    """Lazy set of aiohttp's closing message types (aiohttp is imported on first use)."""

    _types: frozenset[Any] | None = None

    def __contains__(self, item: object) -> bool:
        if self._types is None:
            self._types = _closing_types()
        return item in self._types


CLOSING = _Closing()


class WsClient(LoadDriver):
    """Connections for the WebSocket scenarios (the base of :class:`~pytest_roo.load.WsSwarm`).

    ``driver=``: ``"picows"`` (the default where it imports) or ``"aiohttp"``; the other
    keywords are :class:`~pytest_roo.load.engine.LoadDriver`'s."""

    def __init__(self, *, driver: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        ws_driver(driver)  # a wrong name fails here, not in the middle of a run
        self.driver = driver

    def _driver(self, rec: Recorder, url: str) -> str:
        """The driver of this run's connections, noted in ``info["driver"]`` (and why it is
        not the one asked for in ``info["driver_fallback"]``)."""
        chosen, why = ws_driver(getattr(self, "driver", None))
        if chosen == "picows" and url.startswith("wss://"):
            chosen, why = "aiohttp", "wss:// (TLS) is spoken by aiohttp"
        info = rec.result.info
        info.setdefault("driver", chosen)
        if why:
            info.setdefault("driver_fallback", why)
        return chosen

    @staticmethod
    def _check_url(url: str) -> None:
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ValueError(f"invalid WebSocket url {url!r}: expected ws://host:port/path or "
                             "wss://...")

    def _client_session(self, clients: int) -> Any:
        """The run's aiohttp client session (aiohttp connections, HTTP publishing); also notes
        how many connections the run makes, which picks the picows transport."""
        import aiohttp

        self._connections = clients

        connector = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=False)
        return aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=None),
                                     trace_configs=[_trace_config()])

    @staticmethod
    def _expected(wl: Workload) -> Callable[[Recorder, float], int] | None:
        if wl.open:
            total = wl.schedule().total
            return lambda rec, elapsed: total
        return None

    async def _connect(self, rec: Recorder, http: Any, url: str, timeout: float,
                       metric: str = "connect", count_error: bool = True) -> Any:
        """One handshake, timed as ``metric``. A failure is counted as an error of its kind
        when ``count_error`` (else the caller accounts for it) and raised."""
        t0 = time.perf_counter_ns()
        connected = [False]
        _CONNECTED.set(connected)  # this task's handshake: the trace marks the TCP connection
        picows = self._driver(rec, url) == "picows"
        try:
            if picows:
                from pytest_roo.load.ws_picows import FASTNET_MAX, connect

                ws = await connect(url, timeout, connected,
                                   many=getattr(self, "_connections", 0) > FASTNET_MAX)
            else:
                ws = await asyncio.wait_for(
                    http.ws_connect(url, autoping=True, compress=0, max_msg_size=0),
                    timeout,
                )
        except Exception as exc:
            if picows:
                from pytest_roo.load.ws_picows import picows_failure

                kind, detail = picows_failure(exc, url, timeout, connected[0])
            else:
                kind, detail = handshake_failure(exc, url, timeout, connected[0])
            # the kind and words travel with the exception to whoever accounts for it
            exc.roo_kind = kind  # type: ignore[attr-defined]
            exc.roo_detail = detail  # type: ignore[attr-defined]
            if count_error:
                rec.error(kind, detail=detail)
            raise mark_counted(exc) from None
        finally:
            _CONNECTED.set(None)
        rec.batch(metric).append((time.perf_counter_ns() - t0) // 1000)
        return ws

    async def _connect_all(self, rec: Recorder, http: Any, url: str, n: int,
                           timeout: float) -> tuple[list[Any], list[str]]:
        """``n`` connections (None where the handshake failed) and, per connection, the kind
        of its failure ("" when connected). Failures are not counted as errors here: each
        scenario counts a failed client as its share of the planned operations."""
        conns: list[Any] = [None] * n
        kinds = [""] * n
        todo = iter(range(n))
        examples: list[str] = []

        async def worker() -> None:
            # 256 handshakes at a time by 256 workers (not a task per connection waiting on
            # a semaphore: 10,000 of those would cost ~2 KB each at the peak)
            for i in todo:
                if rec.stopping:
                    kinds[i] = "other"
                    continue
                try:
                    conns[i] = await self._connect(rec, http, url, timeout, count_error=False)
                except Exception as exc:
                    conns[i] = None
                    kinds[i] = classify(exc)
                    detail = getattr(exc, "roo_detail", None) or f"connect {mask_url(url)}: {exc!r}"
                    if not examples:
                        examples.append(detail)
                    # the failed clients are counted by the scenario; the words of the first
                    # failure of each kind are kept here, where they are known
                    rec.result.info.setdefault("error_examples", {}).setdefault(
                        kinds[i], detail)

        await asyncio.gather(*(worker() for _ in range(min(n, 256))))
        failed = sum(1 for c in conns if c is None)
        rec.count("connections", n - failed)
        rec.count("clients_connected", n - failed)
        if failed:
            rec.count("connect_failed", failed)
            rec.result.info.setdefault("connect_error", examples[0] if examples else "")
        return conns, kinds

    async def _close_all(self, rec: Recorder, conns: Sequence[Any], budget: float = 3.0) -> None:
        """Close handshakes, 256 at a time, for at most ``budget`` seconds in all (a failing
        run gives them a fraction of a second); what is left then is closed without the
        handshake when the client session closes."""
        if rec.failure is not None:
            budget = min(budget, 0.3)
        todo = iter([ws for ws in conns if ws is not None and not ws.closed])
        end = time.perf_counter() + budget

        async def worker() -> None:
            for ws in todo:
                left = end - time.perf_counter()
                if left <= 0:
                    return
                try:
                    await asyncio.wait_for(ws.close(), min(1.0, left))
                except Exception:
                    pass

        await asyncio.gather(*(worker() for _ in range(min(256, len(conns)))))
        for ws in conns:
            # picows connections have no client session to close them: drop what is left
            abort = getattr(ws, "abort", None)
            if abort is not None:
                abort()
