"""The same Proxy API on a real Toxiproxy server, over its HTTP API (``--roo-toxiproxy URL``).

Requests (Toxiproxy 2.x):

=====================================  ==========================================================
create the proxy                       ``POST /proxies`` ``{"name", "listen", "upstream", "enabled"}``
add a toxic                            ``POST /proxies/{proxy}/toxics`` ``{"name", "type", "stream",
                                       "toxicity", "attributes"}``
change a toxic                         ``POST /proxies/{proxy}/toxics/{toxic}`` ``{"toxicity",
                                       "attributes"}``
remove a toxic                         ``DELETE /proxies/{proxy}/toxics/{toxic}``
down / up                              ``POST /proxies/{proxy}`` ``{"enabled": false | true}``
close                                  ``DELETE /proxies/{proxy}``
=====================================  ==========================================================

The upstream address is resolved by the Toxiproxy server, so it must be reachable from there.
The proxy listens on a free port (``:0``) of the server: on 127.0.0.1 when the server is on this
machine, else on all interfaces; clients connect to the server's host on that port.

Only the request construction is tested here (no Toxiproxy binary can be installed on the
machines this project is developed on); see docs/faults.md.
"""

from __future__ import annotations

import itertools
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from pytest_roo.faults.proxy import Proxy, ProxyError, Upstream, parse_upstream
from pytest_roo.faults.toxics import Toxic

__all__ = ["Request", "Requests", "ToxiproxyClient", "ToxiproxyError", "ToxiproxyProxy"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
HTTP_TIMEOUT = 10.0
_names = itertools.count(1)

#: (method, path, JSON body or None)
Request = tuple[str, str, "dict[str, Any] | None"]
#: sends one request: (method, full URL, body) -> (status, decoded JSON or None)
Transport = Callable[[str, str, "dict[str, Any] | None"], "tuple[int, Any]"]


class ToxiproxyError(ProxyError):
    """Toxiproxy answered an error, or could not be reached."""


# --- the requests, as pure functions ------------------------------------------------------------


class Requests:
    """Build the ``(method, path, body)`` of each Toxiproxy API call; no I/O."""

    @staticmethod
    def create_proxy(name: str, listen: str, upstream: str) -> Request:
        """Create an enabled proxy listening on ``listen`` and forwarding to ``upstream``."""
        return ("POST", "/proxies",
                {"name": name, "listen": listen, "upstream": upstream, "enabled": True})

    @staticmethod
    def delete_proxy(name: str) -> Request:
        """Delete proxy ``name`` with its toxics."""
        return ("DELETE", f"/proxies/{quote(name, safe='')}", None)

    @staticmethod
    def set_enabled(name: str, enabled: bool) -> Request:
        """Enable (up) or disable (down) proxy ``name``."""
        return ("POST", f"/proxies/{quote(name, safe='')}", {"enabled": enabled})

    @staticmethod
    def add_toxic(proxy: str, toxic: Toxic) -> Request:
        """Add ``toxic`` to proxy ``proxy``."""
        return ("POST", f"/proxies/{quote(proxy, safe='')}/toxics", toxic.to_json())

    @staticmethod
    def update_toxic(proxy: str, toxic: Toxic) -> Request:
        """Change the toxicity and attributes of ``toxic`` on proxy ``proxy``."""
        return (
            "POST",
            f"/proxies/{quote(proxy, safe='')}/toxics/{quote(toxic.name, safe='')}",
            {"toxicity": toxic.toxicity, "attributes": dict(toxic.attributes)},
        )

    @staticmethod
    def remove_toxic(proxy: str, name: str) -> Request:
        """Remove toxic ``name`` from proxy ``proxy``."""
        return ("DELETE", f"/proxies/{quote(proxy, safe='')}/toxics/{quote(name, safe='')}", None)


def listen_host(api_url: str) -> str:
    """Where the proxy should listen on the server: loopback when the server is local."""
    host = urlsplit(api_url).hostname or ""
    return "127.0.0.1" if host in LOOPBACK else "0.0.0.0"


def client_address(api_url: str, listen: str) -> tuple[str, int]:
    """The host and port clients use, from the ``listen`` Toxiproxy reports (``host:port``)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = urlsplit(api_url).hostname or "127.0.0.1"
    if not port.isdigit():
        raise ToxiproxyError(f"Toxiproxy reported listen address {listen!r}; expected host:port")
    return host, int(port)


def parse_api_url(value: str) -> str:
    """``http://host:8474`` (the API root) -> normalised, without a trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"invalid Toxiproxy URL {value!r}: expected http://HOST:PORT of its API, "
            "e.g. http://127.0.0.1:8474"
        )
    return value.strip().rstrip("/")


# --- the client ---------------------------------------------------------------------------------


def _urllib_transport(method: str, url: str, body: dict[str, Any] | None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            raw = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as error:
        raw, status = error.read(), int(error.code)
    except (OSError, urllib.error.URLError) as error:
        raise ToxiproxyError(f"cannot reach Toxiproxy at {url}: {error}") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


class ToxiproxyClient:
    """Sends the built requests to one Toxiproxy server; an error status is a ToxiproxyError."""

    def __init__(self, api_url: str, transport: Transport | None = None) -> None:
        self.api_url = parse_api_url(api_url)
        self._transport = transport or _urllib_transport

    def send(self, request: Request) -> Any:
        """Send one request to the Toxiproxy API and return its JSON answer; a status of 400 or more
        raises ToxiproxyError."""
        method, path, body = request
        status, answer = self._transport(method, self.api_url + path, body)
        if status >= 400:
            detail = answer.get("error") if isinstance(answer, dict) else answer
            raise ToxiproxyError(f"Toxiproxy {method} {path} answered {status}: {detail}")
        return answer


class ToxiproxyProxy(Proxy):
    """A proxy on a Toxiproxy server with the same API as the in-process one.

    Example::

        proxy = ToxiproxyProxy("http://127.0.0.1:8474", "127.0.0.1:6379")
        proxy.add("latency", latency=100)
        redis.Redis(host=proxy.host, port=proxy.port)
        proxy.close()   # deletes the proxy on the server
    """

    def __init__(
        self,
        api_url: str,
        upstream: str | Upstream,
        *,
        name: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        target = upstream if isinstance(upstream, Upstream) else parse_upstream(upstream)
        super().__init__(target, name or f"roo_{os.getpid()}_{next(_names)}")
        self.client = ToxiproxyClient(api_url, transport)
        listen = f"{listen_host(self.client.api_url)}:0"
        answer = self.client.send(Requests.create_proxy(self.name, listen, target.address))
        reported = answer.get("listen") if isinstance(answer, dict) else None
        if not isinstance(reported, str):
            raise ToxiproxyError(f"Toxiproxy created proxy {self.name!r} without a listen address")
        self._host, self._port = client_address(self.client.api_url, reported)
        self._closed = False

    @property
    def host(self) -> str:
        """The address Toxiproxy listens on for this proxy."""
        return self._host

    @property
    def port(self) -> int:
        """The port Toxiproxy listens on for this proxy."""
        return self._port

    def _create_toxic(self, toxic: Toxic) -> None:
        self.client.send(Requests.add_toxic(self.name, toxic))

    def _update_toxic(self, toxic: Toxic) -> None:
        self.client.send(Requests.update_toxic(self.name, toxic))

    def _delete_toxic(self, name: str) -> None:
        self.client.send(Requests.remove_toxic(self.name, name))

    def _set_enabled(self, enabled: bool) -> None:
        self.client.send(Requests.set_enabled(self.name, enabled))

    def close(self) -> None:
        """Delete the proxy from Toxiproxy; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self.client.send(Requests.delete_proxy(self.name))
