"""The Proxy API both backends share: toxics by name, up/down, timed faults, network profiles.

:class:`Proxy` holds the logic that does not depend on where the proxy runs (naming, validation,
handles, faults that last a block or N seconds, profiles); a backend implements five primitives:
create, update and delete a toxic, enable or disable the proxy, and close. The backends are
:class:`pytest_roo.faults.local.LocalProxy` (an asyncio proxy in a thread of this process) and
:class:`pytest_roo.faults.toxiproxy.ToxiproxyProxy` (a proxy on a Toxiproxy server).
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pytest_roo.faults.handles import FaultWindow, ProfileHandle, ToxicHandle
from pytest_roo.faults.profiles import get_profile
from pytest_roo.faults.toxics import DEFAULT_STREAM, Toxic, ToxicError, make_toxic
from pytest_roo.faults.upstream import Upstream, parse_upstream

__all__ = [
    "FaultWindow",
    "ProfileHandle",
    "Proxy",
    "ProxyError",
    "ToxicHandle",
    "Upstream",
    "parse_upstream",
]

_P = TypeVar("_P", bound="Proxy")  # ``with LocalProxy(...) as proxy`` keeps the subclass


class ProxyError(RuntimeError):
    """A proxy could not be started or driven (port taken, Toxiproxy answered an error...)."""


class Proxy(abc.ABC):
    """A TCP proxy in front of one upstream, with Toxiproxy's toxics.

    Point clients at :attr:`url` (or :attr:`host` / :attr:`port`), then add faults::

        proxy.add("latency", latency=200, jitter=20)            # downstream by default
        proxy.add("bandwidth", stream="upstream", rate=32)      # 32 KB/s client -> server
        proxy.add("reset_peer", timeout=500, toxicity=0.1)      # 10 % of connections reset
        with proxy.fault("timeout", timeout=0, duration=2):      # blackhole for 2 s of the block
            ...
        proxy.down(); proxy.up()                                 # refuse and cut, then accept again
        proxy.profile("3g")                                      # a named network
    """

    def __init__(self, upstream: Upstream, name: str) -> None:
        self.upstream = upstream
        self.name = name
        self._toxics: dict[str, Toxic] = {}
        self._enabled = True
        self._lock = threading.RLock()

    # -- what a backend provides --

    @property
    @abc.abstractmethod
    def host(self) -> str:
        """The host clients connect to."""

    @property
    @abc.abstractmethod
    def port(self) -> int:
        """The port clients connect to."""

    @abc.abstractmethod
    def _create_toxic(self, toxic: Toxic) -> None: ...

    @abc.abstractmethod
    def _update_toxic(self, toxic: Toxic) -> None: ...

    @abc.abstractmethod
    def _delete_toxic(self, name: str) -> None: ...

    @abc.abstractmethod
    def _set_enabled(self, enabled: bool) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop listening, cut every connection, free the port (idempotent)."""

    # -- addresses --

    @property
    def address(self) -> str:
        """``host:port`` of the proxy."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The upstream URL with the proxy's host and port (credentials and path kept), or
        ``tcp://host:port`` when the upstream was given as ``host:port``."""
        if self.upstream.url is None:
            return f"tcp://{self.address}"
        parts = urlsplit(self.upstream.url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + self.address
        return urlunsplit(parts._replace(netloc=netloc))

    # -- toxics --

    @property
    def toxics(self) -> dict[str, Toxic]:
        """The toxics now on the proxy, by name, in the order they were added."""
        with self._lock:
            return dict(self._toxics)

    def add(
        self,
        toxic: str,
        *,
        stream: str = DEFAULT_STREAM,
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: Any,
    ) -> ToxicHandle:
        """Add a toxic (see :mod:`pytest_roo.faults.toxics` for types and attributes).

        Example: ``proxy.add("latency", latency=200, jitter=20, stream="upstream")``.
        Raises :class:`~pytest_roo.faults.toxics.ToxicError` for a bad toxic or a name in use.
        """
        spec = make_toxic(toxic, name=name, stream=stream, toxicity=toxicity, **attributes)
        with self._lock:
            if spec.name in self._toxics:
                raise ToxicError(
                    f"proxy {self.name!r} already has a toxic named {spec.name!r}; pass name= to "
                    "add another of the same type and stream, or update the existing one"
                )
            self._create_toxic(spec)
            self._toxics[spec.name] = spec
        return ToxicHandle(self, spec)

    def update(self, name: str, *, toxicity: float | None = None, **attributes: Any) -> ToxicHandle:
        """Change a toxic's attributes or toxicity while traffic flows."""
        with self._lock:
            current = self._get(name)
            spec = current.replace(toxicity=toxicity, **attributes)
            self._update_toxic(spec)
            self._toxics[name] = spec
        return ToxicHandle(self, spec)

    def remove(self, name: str) -> None:
        """Remove the toxic ``name``; KeyError lists the toxics there are."""
        with self._lock:
            self._get(name)
            self._delete_toxic(name)
            del self._toxics[name]

    def clear(self) -> None:
        """Remove every toxic and bring the proxy up: a clean state."""
        with self._lock:
            for name in list(self._toxics):
                self.remove(name)
            if not self._enabled:
                self.up()

    def _get(self, name: str) -> Toxic:
        try:
            return self._toxics[name]
        except KeyError:
            have = ", ".join(self._toxics) or "none"
            raise KeyError(f"proxy {self.name!r} has no toxic {name!r} (has: {have})") from None

    # -- whole-proxy state --

    @property
    def enabled(self) -> bool:
        """False while the proxy is down (it refuses and drops connections)."""
        return self._enabled

    def down(self) -> None:
        """Disable the proxy as Toxiproxy does: new connections are refused, open ones cut."""
        with self._lock:
            if self._enabled:
                self._set_enabled(False)
                self._enabled = False

    def up(self) -> None:
        """Enable the proxy again on the same port."""
        with self._lock:
            if not self._enabled:
                self._set_enabled(True)
                self._enabled = True

    # -- faults over time --

    @contextmanager
    def fault(
        self,
        kind: str,
        *,
        duration: float | None = None,
        after: float = 0.0,
        stream: str = DEFAULT_STREAM,
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: Any,
    ) -> Iterator[FaultWindow]:
        """A fault that lasts the ``with`` block, or ``duration`` seconds of it.

        ``kind`` is a toxic type, or ``"down"`` for the proxy disabled. With ``after`` the fault
        starts that many seconds into the block; with ``duration`` it ends that many seconds
        after it started (or when the block ends, whichever comes first). The yielded
        :class:`FaultWindow` says when it was on, for recovery measures and phase splits.

        Example::

            with proxy.fault("down", after=1, duration=2) as window:
                result = http_load.get(proxy.url, duration="6s")
            recovery = measure_recovery(probe, since=window.ended)
        """
        if duration is not None and (isinstance(duration, bool) or not duration > 0):
            raise ValueError(f"fault duration={duration!r} is not valid; expected seconds > 0 or None")
        if isinstance(after, bool) or not after >= 0:
            raise ValueError(f"fault after={after!r} is not valid; expected seconds >= 0")
        if kind == "down" and (attributes or name is not None):
            raise ValueError(
                f"fault 'down' takes no toxic attributes or name (got "
                f"{', '.join(sorted(attributes)) or 'name'}); it disables the whole proxy"
            )
        if kind != "down":
            # validate now, in the caller's thread, so a typo fails the test at once
            make_toxic(kind, name=name, stream=stream, toxicity=toxicity, **attributes)
        window = FaultWindow(kind)
        state_lock = threading.Lock()

        def start() -> None:
            with state_lock:
                if window.started is not None:
                    return
                # read before the fault is applied: this thread may wait for a core between
                # applying it and reading the clock, and an operation the fault already hit
                # must not fall in the phase before it
                at = time.monotonic()
                if kind == "down":
                    self.down()
                else:
                    window.handle = self.add(kind, name=name, stream=stream, toxicity=toxicity,
                                             **attributes)
                window.started = at

        def end() -> None:
            with state_lock:
                if window.started is None or window.ended is not None:
                    return
                if kind == "down":
                    self.up()
                elif window.handle is not None and window.handle.name in self.toxics:
                    window.handle.remove()
                window.ended = time.monotonic()

        timers: list[threading.Timer] = []

        def schedule(delay: float, action: Any) -> None:
            timer = threading.Timer(delay, action)
            timer.daemon = True
            timers.append(timer)
            timer.start()

        if after > 0:
            schedule(after, start)
        else:
            start()
        if duration is not None:
            schedule(after + duration, end)
        try:
            yield window
        finally:
            for timer in timers:
                timer.cancel()
            with state_lock:
                never_started = window.started is None
            if never_started:
                window.started = window.ended = time.monotonic()
            else:
                end()

    def profile(self, name: str) -> ProfileHandle:
        """Apply a named network profile (see :data:`pytest_roo.faults.profiles.PROFILES`).

        Example: ``with proxy.profile("3g"): ...`` or ``proxy.profile("lossy-wifi")`` for the
        rest of the test. The toxics are named ``<profile>_<type>_<stream>``.
        """
        spec = get_profile(name)
        handles: list[ToxicHandle] = []
        try:
            for type_, stream, toxicity, attributes in spec.toxics():
                handles.append(self.add(type_, stream=stream, toxicity=toxicity,
                                        name=f"{spec.name}_{type_}_{stream}", **attributes))
        except BaseException:
            ProfileHandle(self, name, handles).remove()
            raise
        return ProfileHandle(self, name, handles)

    # -- lifetime --

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "up" if self._enabled else "down"
        toxics = ", ".join(t.describe() for t in self.toxics.values()) or "no toxics"
        return (
            f"<{type(self).__name__} {self.name} {self.address} -> {self.upstream.address} "
            f"{state}, {toxics}>"
        )
