"""A few Docker Engine API calls over the standard library only.

The watchdog runs this file as a script (``python -S docker_engine.py remove ENDPOINT LABEL``)
when pytest dies, so removing the session's containers needs neither the ``docker`` CLI nor any
package; the probe of ``auto`` uses it to ask whether the engine can provide an image, without
importing the docker SDK into every session.

Endpoints are ``unix:///path`` and ``tcp://host:port`` (TLS when ``DOCKER_TLS_VERIFY`` is set,
with the certificates in ``DOCKER_CERT_PATH``, as the docker CLI does).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

API = "/v1.41"  # Docker 20.10 and later all serve it


class EngineError(Exception):
    """The engine answered with an error status, or could not be reached."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _tls_context() -> Any:
    import ssl

    cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
    context = ssl.create_default_context(cafile=os.path.join(cert_path, "ca.pem"))
    context.load_cert_chain(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem"))
    return context


def connection(endpoint: str, timeout: float) -> http.client.HTTPConnection:
    """An HTTP connection to ``endpoint`` (``unix://`` or ``tcp://``); raises EngineError for
    other schemes."""
    parts = urlsplit(endpoint)
    if parts.scheme == "unix":
        return _UnixConnection(parts.path, timeout)
    if parts.scheme in ("tcp", "http", "https"):
        tls = parts.scheme == "https" or bool(os.environ.get("DOCKER_TLS_VERIFY"))
        host = parts.hostname or "127.0.0.1"
        if tls:
            return http.client.HTTPSConnection(host, parts.port or 2376, timeout=timeout,
                                               context=_tls_context())
        return http.client.HTTPConnection(host, parts.port or 2375, timeout=timeout)
    raise EngineError(f"unsupported Docker endpoint {endpoint!r}: use unix:///path or "
                      f"tcp://host:port")


def request(endpoint: str, method: str, path: str, timeout: float = 5.0,
            body: Any = None) -> tuple[int, bytes]:
    """One API call: (status, body). Raises EngineError when the engine cannot be reached."""
    conn = connection(endpoint, timeout)
    try:
        headers = {"Host": "docker"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, API + path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise EngineError(f"the Docker engine at {endpoint} did not answer {method} {path}: "
                          f"{exc}") from None
    finally:
        conn.close()


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", "")) or body.decode(errors="replace")
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()


def list_containers(endpoint: str, label: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every container (running or not) carrying ``label`` (``key`` or ``key=value``)."""
    query = urlencode({"all": "1", "filters": json.dumps({"label": [label]})})
    status, body = request(endpoint, "GET", f"/containers/json?{query}", timeout)
    if status != 200:
        raise EngineError(f"listing containers failed ({status}): {_message(body)}")
    result: list[dict[str, Any]] = json.loads(body)
    return result


def remove_container(endpoint: str, container_id: str, timeout: float = 15.0) -> bool:
    """Kill and remove a container and its anonymous volumes; False if it was already gone."""
    status, body = request(endpoint, "DELETE",
                           f"/containers/{quote(container_id)}?force=1&v=1", timeout)
    if status in (204, 200):
        return True
    if status == 404:
        return False
    if status == 409 and b"already in progress" in body:
        return True
    raise EngineError(f"removing container {container_id[:12]} failed ({status}): "
                      f"{_message(body)}")


def remove_labelled(endpoint: str, label: str, timeout: float = 15.0) -> list[str]:
    """Remove every container carrying ``label``; returns the ids removed."""
    removed = []
    for container in list_containers(endpoint, label, timeout):
        if remove_container(endpoint, container["Id"], timeout):
            removed.append(container["Id"])
    return removed


def image_present(endpoint: str, image: str, timeout: float = 2.0) -> bool:
    """True when the engine at ``endpoint`` has ``image`` already."""
    status, _ = request(endpoint, "GET", f"/images/{quote(image, safe='/:@')}/json", timeout)
    return status == 200


def image_pullable(endpoint: str, image: str, timeout: float = 5.0) -> tuple[bool, str]:
    """Can the engine pull ``image``? Asks the registry for its manifest through the engine
    (``GET /distribution/NAME/json``), which downloads nothing. Returns (answer, reason)."""
    try:
        status, body = request(endpoint, "GET",
                               f"/distribution/{quote(image, safe='/:@')}/json", timeout)
    except EngineError as exc:
        return False, str(exc)
    if status == 200:
        return True, ""
    return False, _message(body).strip() or f"status {status}"


def _main(argv: list[str]) -> int:
    # python -S docker_engine.py remove ENDPOINT LABEL: the watchdog's cleanup
    if len(argv) == 3 and argv[0] == "remove":
        try:
            remove_labelled(argv[1], argv[2])
        except EngineError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    print("usage: docker_engine.py remove ENDPOINT LABEL", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
