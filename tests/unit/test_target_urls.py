"""pytest_roo.target: URL handling, the log tail, stopping."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_roo.redact import mask_url
from pytest_roo.target import (
    Target,
    TargetError,
    normalize_base_url,
    tail,
    wait_healthy,
    ws_base,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("HTTP://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://example.com/app/", "https://example.com/app"),
        ("  http://[::1]:9000  ", "http://[::1]:9000"),
    ],
)
def test_base_url_is_normalized(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "127.0.0.1:8080", "ftp://host", "ws://127.0.0.1:1", "http://", "http://h:99999",
     "http://h:1/?q=1", "http://h:1/#top"],
)
def test_bad_base_urls_name_the_value_and_the_forms(bad: str) -> None:
    with pytest.raises(TargetError) as info:
        normalize_base_url(bad)
    assert repr(bad) in str(info.value)
    assert "http://host:port" in str(info.value)


@pytest.mark.parametrize(
    ("base", "ws"),
    [("http://127.0.0.1:8080", "ws://127.0.0.1:8080"),
     ("https://example.com/app", "wss://example.com/app")],
)
def test_ws_urls_follow_the_http_scheme(base: str, ws: str) -> None:
    assert ws_base(base) == ws
    target = Target.external_url(base)
    assert target.ws_url("/ws/echo") == ws + "/ws/echo"
    assert target.ws_url("ws/echo") == ws + "/ws/echo"
    assert target.url("/api/me") == base + "/api/me"
    assert target.url() == base + "/"


def test_paths_must_not_be_urls() -> None:
    target = Target.external_url("http://127.0.0.1:1")
    with pytest.raises(TargetError, match="not a full URL"):
        target.url("http://elsewhere/x")


def test_external_target_is_never_stopped_or_killed() -> None:
    target = Target.external_url("http://127.0.0.1:1", info={"postgres_url": None})
    assert target.external and target.pids == () and target.alive()
    target.stop()
    assert target.stopped


def test_stop_runs_once() -> None:
    calls: list[int] = []
    target = Target("http://127.0.0.1:1", stop_callback=lambda: calls.append(1))
    target.stop()
    target.stop()
    assert calls == [1]


def test_stop_without_callback_kills_the_process_group(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            start_new_session=True)
    target = Target("http://127.0.0.1:1", pids=(proc.pid,))
    assert target.alive()
    started = time.monotonic()
    target.stop()
    proc.wait(5)
    assert time.monotonic() - started < 5
    assert not target.alive()
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)


def test_log_tail_and_output(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    target = Target("http://127.0.0.1:1", log_path=log)
    assert target.log_tail(3) == "line 97\nline 98\nline 99"
    assert Target("http://127.0.0.1:1").output() == ""
    assert tail("a\nb", 0) == ""


def test_describe_masks_passwords_and_drops_secrets() -> None:
    target = Target("http://127.0.0.1:1", info={
        "postgres_url": "postgresql://u:hunter2@127.0.0.1:5/db", "token_secret": "abc",
        "handle": object()})
    described = target.describe()
    assert described["info"] == {"postgres_url": "postgresql://u:***@127.0.0.1:5/db"}
    assert mask_url("redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"


def test_wait_healthy_gives_up_with_the_url() -> None:
    with pytest.raises(TimeoutError, match=r"127\.0\.0\.1:9/health"):
        wait_healthy("http://127.0.0.1:9/health", timeout=0.2)
    with pytest.raises(RuntimeError, match="exited"):
        wait_healthy("http://127.0.0.1:9/health", timeout=5, alive=lambda: False)
