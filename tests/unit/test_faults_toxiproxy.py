"""Requests to a Toxiproxy server, built and sent through a recording transport.

No Toxiproxy server can be installed here, so only what is sent (method, path, JSON body) and
how answers are read is tested; the shapes follow Toxiproxy 2.x's documented HTTP API.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.faults.toxics import make_toxic
from pytest_roo.faults.toxiproxy import (
    Requests,
    ToxiproxyError,
    ToxiproxyProxy,
    client_address,
    listen_host,
    parse_api_url,
)


class Recorder:
    """Answers like Toxiproxy and keeps every request."""

    def __init__(self, listen: str = "127.0.0.1:41234") -> None:
        self.sent: list[tuple[str, str, dict[str, Any] | None]] = []
        self.listen = listen
        self.fail: tuple[int, Any] | None = None

    def __call__(self, method: str, url: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        self.sent.append((method, url, body))
        if self.fail is not None:
            return self.fail
        if method == "POST" and url.endswith("/proxies"):
            assert body is not None
            return 201, {**body, "listen": self.listen}
        return 200, {}


def test_request_shapes() -> None:
    toxic = make_toxic("latency", latency=100, jitter=5, stream="upstream", toxicity=0.5)
    assert Requests.create_proxy("p1", "127.0.0.1:0", "127.0.0.1:5432") == (
        "POST", "/proxies",
        {"name": "p1", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:5432", "enabled": True},
    )
    assert Requests.add_toxic("p1", toxic) == (
        "POST", "/proxies/p1/toxics",
        {"name": "latency_upstream", "type": "latency", "stream": "upstream", "toxicity": 0.5,
         "attributes": {"latency": 100, "jitter": 5}},
    )
    assert Requests.update_toxic("p1", toxic) == (
        "POST", "/proxies/p1/toxics/latency_upstream",
        {"toxicity": 0.5, "attributes": {"latency": 100, "jitter": 5}},
    )
    assert Requests.remove_toxic("p1", "latency_upstream") == (
        "DELETE", "/proxies/p1/toxics/latency_upstream", None)
    assert Requests.set_enabled("p1", False) == ("POST", "/proxies/p1", {"enabled": False})
    assert Requests.delete_proxy("a/b") == ("DELETE", "/proxies/a%2Fb", None)


def test_a_proxy_drives_the_api_in_order() -> None:
    transport = Recorder()
    proxy = ToxiproxyProxy("http://127.0.0.1:8474/", "http://127.0.0.1:8080/api", name="web",
                           transport=transport)
    assert (proxy.host, proxy.port) == ("127.0.0.1", 41234)
    assert proxy.url == "http://127.0.0.1:41234/api"
    handle = proxy.add("latency", latency=50)
    handle.update(latency=80)
    proxy.down()
    proxy.up()
    handle.remove()
    proxy.close()
    proxy.close()  # idempotent
    base = "http://127.0.0.1:8474"
    assert [(m, u) for m, u, _ in transport.sent] == [
        ("POST", base + "/proxies"),
        ("POST", base + "/proxies/web/toxics"),
        ("POST", base + "/proxies/web/toxics/latency_downstream"),
        ("POST", base + "/proxies/web"),
        ("POST", base + "/proxies/web"),
        ("DELETE", base + "/proxies/web/toxics/latency_downstream"),
        ("DELETE", base + "/proxies/web"),
    ]
    assert transport.sent[0][2] == {"name": "web", "listen": "127.0.0.1:0",
                                    "upstream": "127.0.0.1:8080", "enabled": True}
    assert transport.sent[2][2] == {"toxicity": 1.0, "attributes": {"latency": 80, "jitter": 0}}
    assert [body for _, _, body in transport.sent[3:5]] == [{"enabled": False}, {"enabled": True}]


def test_remote_server_listens_on_all_interfaces_and_clients_use_its_host() -> None:
    assert listen_host("http://toxiproxy.internal:8474") == "0.0.0.0"
    assert listen_host("http://127.0.0.1:8474") == "127.0.0.1"
    assert client_address("http://toxiproxy.internal:8474", "[::]:20001") == (
        "toxiproxy.internal", 20001)
    assert client_address("http://toxiproxy.internal:8474", "10.0.0.5:20001") == (
        "10.0.0.5", 20001)
    transport = Recorder(listen="0.0.0.0:20002")
    proxy = ToxiproxyProxy("http://toxiproxy.internal:8474", "db.internal:5432",
                           transport=transport)
    assert transport.sent[0][2] is not None and transport.sent[0][2]["listen"] == "0.0.0.0:0"
    assert proxy.address == "toxiproxy.internal:20002"
    assert proxy.url == "tcp://toxiproxy.internal:20002"


def test_error_answers_name_the_request_and_toxiproxys_message() -> None:
    transport = Recorder()
    proxy = ToxiproxyProxy("http://127.0.0.1:8474", "127.0.0.1:6379", name="r",
                           transport=transport)
    transport.fail = (409, {"error": "toxic already exists", "status": 409})
    with pytest.raises(ToxiproxyError, match="POST /proxies/r/toxics answered 409: toxic already exists"):
        proxy.add("latency", latency=1)
    assert proxy.toxics == {}  # not recorded when the server refused it


def test_bad_api_url() -> None:
    with pytest.raises(ValueError, match=r"invalid Toxiproxy URL '127\.0\.0\.1:8474'.*http://HOST:PORT"):
        parse_api_url("127.0.0.1:8474")


def test_missing_listen_in_the_answer_is_an_error() -> None:
    def transport(method: str, url: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        return 201, {"name": "x"}

    with pytest.raises(ToxiproxyError, match="without a listen address"):
        ToxiproxyProxy("http://127.0.0.1:8474", "127.0.0.1:1", transport=transport)
