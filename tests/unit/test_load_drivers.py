"""Choosing the load drivers and the raw HTTP client's request bytes (pure logic)."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from pytest_roo.load.http import choose_driver
from pytest_roo.load.http_raw import build_request, unsupported
from pytest_roo.load.ws_client import ws_driver


def test_httptools_is_the_default_http_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROO_HTTP_DRIVER", raising=False)
    assert choose_driver(None, "GET", "http://127.0.0.1:1/x", None) == ("httptools", None)
    assert choose_driver("aiohttp", "GET", "http://127.0.0.1:1/x", None) == ("aiohttp", None)
    monkeypatch.setenv("ROO_HTTP_DRIVER", "aiohttp")
    assert choose_driver(None, "GET", "http://127.0.0.1:1/x", None) == ("aiohttp", None)
    assert choose_driver("httptools", "GET", "http://127.0.0.1:1/x", None)[0] == "httptools"


def test_what_the_raw_client_does_not_speak_goes_to_aiohttp_with_the_reason() -> None:
    driver, why = choose_driver("httptools", "GET", "https://127.0.0.1:1/x", None)
    assert driver == "aiohttp" and why is not None and "TLS" in why
    assert "HEAD" in (unsupported("HEAD", "http://h/x", None) or "")
    assert "credentials" in (unsupported("GET", "http://u:pw@h/x", None) or "")
    assert "100-continue" in (unsupported("POST", "http://h/x", {"Expect": "100-continue"})
                              or "")
    assert unsupported("POST", "http://h/x", {"X-A": "1"}) is None


def test_a_wrong_driver_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"invalid driver='curl': expected one of httptools"):
        choose_driver("curl", "GET", "http://h/", None)
    monkeypatch.setenv("ROO_HTTP_DRIVER", "nope")
    with pytest.raises(ValueError, match=r"invalid ROO_HTTP_DRIVER='nope'"):
        choose_driver(None, "GET", "http://h/", None)
    with pytest.raises(ValueError, match=r"invalid driver='ws4py': expected one of picows"):
        ws_driver("ws4py")
    monkeypatch.setenv("ROO_WS_DRIVER", "aiohttp")
    assert ws_driver(None) == ("aiohttp", None)
    monkeypatch.delenv("ROO_WS_DRIVER")
    assert ws_driver(None) == ("picows", None)


def test_the_request_is_serialised_once_as_aiohttp_sends_it() -> None:
    host, port, raw = build_request("post", "http://127.0.0.1:8080/a/b?q=1&r=2",
                                    {"accept": "application/json", "X-Id": "7"}, b'{"a":1}')
    assert (host, port) == ("127.0.0.1", 8080)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /a/b?q=1&r=2 HTTP/1.1"
    assert "Host: 127.0.0.1:8080" in lines
    assert "accept: application/json" in lines and "Accept: */*" not in lines  # caller wins
    assert "X-Id: 7" in lines and "Content-Length: 7" in lines
    assert body == b'{"a":1}'
    _, port, raw = build_request("GET", "http://[::1]/", None, None)
    assert port == 80 and b"Host: [::1]\r\n" in raw and b"Content-Length" not in raw


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        build_request("GET", "http://h/", {"X-A": "1\r\nEvil: 2"}, None)


def test_picows_handshake_failures_read_as_aiohttp_ones() -> None:
    import picows
    from picows import WSUpgradeResponse

    from pytest_roo.load.ws_picows import picows_failure

    url = "ws://127.0.0.1:9/ws?token=tok-secret-2"
    accept = picows.WSInvalidHeaderError("cannot upgrade", "Sec-WebSocket-Accept", "bm90")
    kind, words = picows_failure(accept, url, 1.0, True)
    assert kind == "protocol"
    assert "101 Switching Protocols with a wrong Sec-WebSocket-Accept" in words
    assert "tok-secret-2" not in words
    response = WSUpgradeResponse()
    response.status = HTTPStatus.SERVICE_UNAVAILABLE
    assert picows_failure(picows.WSInvalidStatusError("no", response=response), url, 1.0,
                          True)[0] == "http_5xx"
    garbage = picows.WSInvalidMessageError(
        "cannot upgrade", raw_header=b"\x00\x01\xffSSH-2.0-not-http password=hunter2")
    kind, words = picows_failure(garbage, url, 1.0, True)
    assert kind == "protocol" and "is not HTTP" in words and "hunter2" not in words
    assert r"b'\x00\x01\xffSSH-2.0-not-http" in words
    assert picows_failure(ConnectionRefusedError(), url, 1.0, False) == (
        "refused", "connect ws://127.0.0.1:9/ws?token=***: connection refused (nothing "
                   "listens there)")
    assert "connect timeout: no TCP connection within 1 s" in picows_failure(
        TimeoutError(), url, 1.0, False)[1]
    assert "accepted but no answer to the WebSocket upgrade came within 1 s" in picows_failure(
        TimeoutError(), url, 1.0, True)[1]
