"""The system under test: where it answers, what was started for it, how to stop it.

A :class:`Target` is either *external* (``--roo-target URL``: a deployment somebody else runs;
nothing is started or stopped) or *embedded* (returned by a ``pytest_roo_start_target`` hook
implementation that started it, with the process ids it started, its log file and how to stop
it). Suites only use :meth:`Target.url` and :meth:`Target.ws_url`, so the same suite runs
against both.

Example::

    target = Target.external_url("https://staging.example.com/app")
    target.url("/health")        # 'https://staging.example.com/app/health'
    target.ws_url("/ws/echo")    # 'wss://staging.example.com/app/ws/echo'
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pytest_roo.redact import mask_url

if TYPE_CHECKING:
    from pytest_roo.faults.windows import FaultWindow

__all__ = [
    "Target",
    "TargetError",
    "fetch",
    "kill_groups",
    "normalize_base_url",
    "tail",
    "wait_healthy",
    "ws_base",
]

#: ``info`` keys holding one of these words never reach a report.
SECRET_WORDS = ("secret", "password", "token")
URL_FORMS = "http://host:port[/prefix] or https://host[:port][/prefix]"


class TargetError(ValueError):
    """A target URL or path that cannot be used (the message names it and the accepted forms)."""


def _shown(url: object) -> str:
    return repr(mask_url(url)) if isinstance(url, str) else repr(url)


def normalize_base_url(url: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash, query or fragment.

    >>> normalize_base_url("HTTP://127.0.0.1:8080/")
    'http://127.0.0.1:8080'
    >>> normalize_base_url("https://example.com/app/")
    'https://example.com/app'
    """
    if not isinstance(url, str) or not url.strip():
        raise TargetError(f"invalid target URL {_shown(url)}: expected {URL_FORMS}")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetError(f"invalid target URL {_shown(url)}: expected {URL_FORMS}")
    if not parts.hostname:
        raise TargetError(f"invalid target URL {_shown(url)}: no host; expected {URL_FORMS}")
    try:
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise TargetError(f"invalid target URL {_shown(url)}: bad port; expected {URL_FORMS}") from None
    if parts.query or parts.fragment:
        raise TargetError(
            f"invalid target URL {_shown(url)}: no query or fragment allowed; expected {URL_FORMS}"
        )
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def ws_base(base_url: str) -> str:
    """The WebSocket twin of an HTTP base URL: ``http`` -> ``ws``, ``https`` -> ``wss``.

    >>> ws_base("https://example.com/app")
    'wss://example.com/app'
    """
    base = normalize_base_url(base_url)
    return ("wss" + base[len("https"):]) if base.startswith("https:") else ("ws" + base[4:])


def _join(base: str, path: str) -> str:
    if not isinstance(path, str):
        raise TargetError(f"invalid path {path!r}: expected a string such as '/api/me'")
    if "://" in path:
        raise TargetError(
            f"invalid path {path!r}: expected a path such as '/ws/echo', not a full URL"
        )
    if not path:
        return base + "/"
    return base + (path if path.startswith("/") else "/" + path)


@dataclasses.dataclass
class Target:
    """The system under test.

    Attributes:
        base_url: ``http(s)://host:port[/prefix]`` (normalized, no trailing slash).
        pids: process ids started for it (process group leaders), empty when external.
        external: True for ``--roo-target``: nothing was started, nothing is stopped.
        log_path: file holding the target's output (embedded targets), else None.
        startup_seconds: process start to the first healthy answer, when it was started here.
        info: free-form facts a suite may need (the reference system puts ``postgres_url``
            and ``redis_url`` here); suites skip with a reason when a fact is missing.
        stop_callback: how to stop it; called once by :meth:`stop`.
        spawn: starts one more, fresh instance of the same system and returns it (a Target
            to stop after use); None when that is not possible (external targets). The
            reference system's takes ``postgres_url=`` / ``redis_url=`` to point the new
            instance elsewhere (at a fault proxy in front of its database).
        restart_callback: ``restart_callback(kill, timeout) -> pids``: stops what was started
            (``kill``: SIGKILL) and starts it again on the same port; used by
            :meth:`restart` and :meth:`kill`. None when that is not possible.
        services: the servers started for it, by name (``postgres``, ``redis``: objects with
            ``restart()`` / ``kill()``, see :mod:`pytest_roo.services.models`); empty for
            external targets.
    """

    base_url: str
    pids: tuple[int, ...] = ()
    external: bool = False
    log_path: Path | None = None
    startup_seconds: float | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    stop_callback: Callable[[], Any] | None = dataclasses.field(default=None, repr=False)
    spawn: Callable[..., Target] | None = dataclasses.field(default=None, repr=False)
    restart_callback: Callable[[bool, float], Any] | None = dataclasses.field(default=None,
                                                                               repr=False)
    services: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    _stopped: bool = dataclasses.field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = normalize_base_url(self.base_url)
        self.pids = tuple(int(p) for p in self.pids)
        if self.log_path is not None:
            self.log_path = Path(self.log_path)

    @classmethod
    def external_url(cls, url: str, info: Mapping[str, Any] | None = None) -> Target:
        """A deployment run elsewhere (``--roo-target``)."""
        return cls(base_url=url, external=True, info=dict(info or {}))

    @property
    def ws_base_url(self) -> str:
        """The base URL with ``ws://`` or ``wss://`` for WebSocket endpoints."""
        return ws_base(self.base_url)

    def url(self, path: str = "/") -> str:
        """The HTTP(S) URL of ``path`` on the target: ``target.url("/api/me")``."""
        return _join(self.base_url, path)

    def ws_url(self, path: str) -> str:
        """The WS(S) URL of ``path``: ``ws://`` for ``http://`` targets, ``wss://`` for https."""
        return _join(self.ws_base_url, path)

    def output(self) -> str:
        """Everything the target wrote to its log so far ("" when there is none)."""
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the target's output."""
        return tail(self.output(), lines)

    def alive(self) -> bool:
        """True while every process started for the target runs (external: always True)."""
        if self.external:
            return True
        return all(pid_alive(pid) for pid in self.pids)

    def health(self, path: str = "/health", timeout: float = 2.0) -> tuple[int, Any]:
        """GET ``path``: (status, parsed JSON body or the text); status 0 when unreachable."""
        return _get(self.url(path), timeout)

    def probe(self, path: str = "/health", timeout: float = 2.0) -> tuple[int, Any, str]:
        """GET ``path``: (status, body, problem). ``problem`` is "" when any HTTP answer came,
        else says what happened, starting with its kind: ``refused`` (nothing listens),
        ``timeout`` (no TCP connection in time, or a connection accepted and then no answer
        in time), ``closed`` / ``reset`` (the connection ended without an answer),
        ``protocol`` (the answer is not HTTP), ``dns``, ``other``."""
        return fetch(self.url(path), timeout)

    @property
    def shown_url(self) -> str:
        """``base_url`` as reports show it (the password of its userinfo masked)."""
        return mask_url(self.base_url)

    def __repr__(self) -> str:
        kind = "external" if self.external else f"pids={list(self.pids)}"
        return f"Target({self.shown_url!r}, {kind})"

    def stop(self) -> None:
        """Stop what was started for the target (once; a no-op for external targets)."""
        if self._stopped:
            return
        self._stopped = True
        if self.stop_callback is not None:
            self.stop_callback()
        elif self.pids:
            kill_groups(self.pids)

    def restart(self, timeout: float = 30.0) -> FaultWindow:
        """Stop the embedded system (SIGTERM: a clean shutdown) and start it again on the same
        port; return once ``/health`` answers 2xx. Returns the FaultWindow from the stop to
        that answer (``recovery_meter(probe, since=window)``). ``pids`` names the new
        processes. TargetError for an external target (``--roo-target``)."""
        return self._restart(kill=False, timeout=timeout)

    def kill(self, timeout: float = 30.0) -> FaultWindow:
        """SIGKILL the embedded system (a crash: nothing is finished or written out), then
        start it again as :meth:`restart` does."""
        return self._restart(kill=True, timeout=timeout)

    def _restart(self, kill: bool, timeout: float) -> FaultWindow:
        from pytest_roo.faults.windows import FaultWindow

        what = "kill" if kill else "restart"
        if self.external:
            raise TargetError(f"cannot {what} a target given by URL ({self.shown_url}, "
                              "--roo-target): pytest-roo did not start it, so it cannot stop "
                              "and start it")
        if self._stopped:
            raise TargetError(f"cannot {what} the target: it was stopped")
        if self.restart_callback is None:
            raise TargetError(
                f"cannot {what} this target ({self.shown_url}): it was started without a way "
                "to start it again; the pytest_roo_start_target hook gives one with "
                "Target(restart_callback=...) (the reference system's does)")
        window = FaultWindow(what, target="target").start()
        pids = self.restart_callback(kill, timeout)
        if pids:
            self.pids = tuple(int(p) for p in pids)
        wait_healthy(self.url("/health"), timeout=timeout, alive=self.alive)
        return window.end()

    @property
    def stopped(self) -> bool:
        """True once the target was stopped."""
        return self._stopped

    def through(self, proxy: Any) -> Target:
        """This system reached through ``proxy`` (a :func:`fault_proxy` whose upstream is this
        target): the same target with the proxy's host and port in every URL (``url``,
        ``ws_url``, ``base_url`` for browser contexts), its path prefix, log and facts kept.
        The view owns nothing: stopping it stops nothing, and it is alive while this one is.

        >>> class P:  # what a proxy of pytest_roo.faults provides
        ...     class upstream: host, port = "127.0.0.1", 8080
        ...     address, name = "127.0.0.1:9001", "app"
        >>> Target("http://127.0.0.1:8080/app").through(P()).url("/health")
        'http://127.0.0.1:9001/app/health'
        """
        parts = urlsplit(self.base_url)
        upstream = getattr(proxy, "upstream", None)
        host = (parts.hostname or "").strip("[]")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if upstream is None or (str(upstream.host).strip("[]"), int(upstream.port)) != (host, port):
            shown = getattr(upstream, "address", None) or repr(proxy)
            raise TargetError(
                f"target.through(proxy): the proxy forwards to {shown}, not to this target "
                f"({_shown(self.base_url)}); make it with fault_proxy(target.url())"
            )
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + str(proxy.address)
        original = self

        view = dataclasses.replace(
            self, base_url=urlunsplit(parts._replace(netloc=netloc)), pids=(),
            info={**self.info, "through_proxy": str(getattr(proxy, "name", proxy.address))},
            stop_callback=lambda: None, spawn=None, restart_callback=None, services={},
            _stopped=False,
        )
        view.alive = original.alive  # type: ignore[method-assign]
        return view

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts for reports (no secrets: URLs in ``info`` are masked)."""
        info = {k: mask_url(v) if isinstance(v, str) and "://" in v else v
                for k, v in self.info.items()
                if _json_ready(v) and not any(w in k.lower() for w in SECRET_WORDS)}
        return {
            "base_url": self.shown_url,
            "external": self.external,
            "pids": list(self.pids),
            "log_path": str(self.log_path) if self.log_path else None,
            "startup_seconds": self.startup_seconds,
            "info": info,
        }


def _json_ready(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def pid_alive(pid: int) -> bool:
    """True while the process runs; a zombie child of ours (exited, not yet reaped) is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: it answered the signal, so it runs
        return True
    return done == 0


def kill_groups(pids: tuple[int, ...] | list[int], grace: float = 5.0) -> None:
    """SIGTERM the process group of every pid, SIGKILL what is left after ``grace`` s, and
    reap the pids that are children of this process (bounded), so none stays a zombie."""
    from pytest_roo.services.procs import reap_pid

    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        for pid in pids:  # reap our own children so they do not linger as zombies
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    for pid in pids:
        reap_pid(pid, timeout=1.0)


def _request(url: str) -> urllib.request.Request:
    """A GET of ``url``; userinfo (``http://user:pw@host/``) becomes a Basic Authorization
    header, as browsers and aiohttp do (urllib would take it for part of the host name)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return urllib.request.Request(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    plain = urlunsplit(parts._replace(netloc=hostport))
    from urllib.parse import unquote

    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return urllib.request.Request(plain, headers={"Authorization": f"Basic {token}"})


def _unreachable(reason: object, timeout: float) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "refused: connection refused (nothing listens there)"
    if isinstance(reason, TimeoutError):
        return f"timeout: connect timeout: no TCP connection within {timeout:g} s"
    if isinstance(reason, socket.gaierror):
        return f"dns: the host name does not resolve ({reason.strerror})"
    if isinstance(reason, ConnectionResetError):
        return "reset: the connection was reset before an answer came"
    if isinstance(reason, OSError):
        return f"other: {type(reason).__name__}: {reason.strerror or reason}"
    return f"other: {mask_url(str(reason))[:200]}"


def fetch(url: str, timeout: float) -> tuple[int, Any, str]:
    """GET ``url``: (status, parsed JSON body or the text, problem); see :meth:`Target.probe`.

    Connect failures are told apart from a server that accepted the connection and then did
    not answer: urllib raises the connect phase's errors wrapped in URLError and the ones
    after it (reading the answer) as they are.
    """
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as resp:
            status, body = int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        status, body = int(exc.code), exc.read()
    except urllib.error.URLError as exc:
        return 0, None, _unreachable(exc.reason, timeout)
    except TimeoutError:
        return 0, None, (f"timeout: the connection was accepted but no response came within "
                         f"{timeout:g} s")
    except http.client.RemoteDisconnected:
        return 0, None, "closed: the connection was accepted, then closed without an answer"
    except ConnectionResetError:
        return 0, None, "reset: the connection was accepted, then reset without an answer"
    except http.client.HTTPException as exc:
        return 0, None, f"protocol: the answer is not HTTP ({type(exc).__name__})"
    except (OSError, ValueError) as exc:
        return 0, None, f"other: {type(exc).__name__}"
    text = body.decode(errors="replace")
    try:
        return status, json.loads(text) if text else None, ""
    except ValueError:
        return status, text, ""


def _get(url: str, timeout: float) -> tuple[int, Any]:
    status, body, _ = fetch(url, timeout)
    return status, body


def wait_healthy(url: str, timeout: float = 30.0, interval: float = 0.01,
                 alive: Callable[[], bool] | None = None) -> float:
    """Poll ``url`` until it answers 2xx; returns the seconds waited.

    Raises TimeoutError after ``timeout`` s, or RuntimeError once ``alive()`` says the process
    behind it has exited.
    """
    started = time.monotonic()
    deadline = started + timeout
    shown = mask_url(url)
    last = "no answer"
    while True:
        if alive is not None and not alive():
            raise RuntimeError(f"the target exited before {shown} answered ({last})")
        status, body, problem = fetch(url, min(1.0, timeout))
        if 200 <= status < 300:
            return time.monotonic() - started
        last = f"last answer {status}: {str(body)[:200]}" if status else f"last try: {problem}"
        if time.monotonic() > deadline:
            raise TimeoutError(f"{shown} not healthy after {timeout:g} s ({last})")
        time.sleep(interval)


def tail(text: str, lines: int = 40) -> str:
    """The last ``lines`` lines of ``text``.

    >>> tail("a\\nb\\nc", 2)
    'b\\nc'
    """
    if lines <= 0:
        return ""
    return "\n".join(text.splitlines()[-lines:])
