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

import contextlib
import dataclasses
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_roo.redact import mask_url

__all__ = [
    "Target",
    "TargetError",
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
            to stop after use); None when that is not possible (external targets).
    """

    base_url: str
    pids: tuple[int, ...] = ()
    external: bool = False
    log_path: Path | None = None
    startup_seconds: float | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    stop_callback: Callable[[], Any] | None = dataclasses.field(default=None, repr=False)
    spawn: Callable[[], Target] | None = dataclasses.field(default=None, repr=False)
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

    def stop(self) -> None:
        """Stop what was started for the target (once; a no-op for external targets)."""
        if self._stopped:
            return
        self._stopped = True
        if self.stop_callback is not None:
            self.stop_callback()
        elif self.pids:
            kill_groups(self.pids)

    @property
    def stopped(self) -> bool:
        """True once the target was stopped."""
        return self._stopped

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts for reports (no secrets: URLs in ``info`` are masked)."""
        info = {k: mask_url(v) if isinstance(v, str) and "://" in v else v
                for k, v in self.info.items()
                if _json_ready(v) and not any(w in k.lower() for w in SECRET_WORDS)}
        return {
            "base_url": self.base_url,
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
    """SIGTERM the process group of every pid, SIGKILL what is left after ``grace`` s."""
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


def _get(url: str, timeout: float) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, body = int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        status, body = int(exc.code), exc.read()
    except (OSError, ValueError):
        return 0, None
    text = body.decode(errors="replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def wait_healthy(url: str, timeout: float = 30.0, interval: float = 0.01,
                 alive: Callable[[], bool] | None = None) -> float:
    """Poll ``url`` until it answers 2xx; returns the seconds waited.

    Raises TimeoutError after ``timeout`` s, or RuntimeError once ``alive()`` says the process
    behind it has exited.
    """
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer"
    while True:
        if alive is not None and not alive():
            raise RuntimeError(f"the target exited before {url} answered ({last})")
        status, body = _get(url, min(1.0, timeout))
        if 200 <= status < 300:
            return time.monotonic() - started
        if status:
            last = f"last answer {status}: {str(body)[:200]}"
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not healthy after {timeout:g} s ({last})")
        time.sleep(interval)


def tail(text: str, lines: int = 40) -> str:
    """The last ``lines`` lines of ``text``.

    >>> tail("a\\nb\\nc", 2)
    'b\\nc'
    """
    if lines <= 0:
        return ""
    return "\n".join(text.splitlines()[-lines:])
