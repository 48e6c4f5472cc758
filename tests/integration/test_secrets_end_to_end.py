"""One whole pytest session with an external PostgreSQL URL and a target URL that both carry a
password leaves neither password anywhere: terminal output, the JSON report, the JUnit XML,
every file under --roo-output, the target server's request log, and the command line of every
process on the machine while the session runs (processes it starts get secrets through their
environment). Real parts: a local PostgreSQL with that password, a small HTTP server for the
target, a server process started by the inner session, a failing test with both URLs in its
locals and as function arguments, under --showlocals and under --fulltrace."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import quote

import psutil
import pytest

from pytest_roo.services import procs
from pytest_roo.services.local import LocalPostgres

pytestmark = pytest.mark.integration

PG_PASSWORD = "PgPw-" + secrets.token_hex(8)
TARGET_PASSWORD = "TgtPw-" + secrets.token_hex(8)
PASSWORDS = (PG_PASSWORD, TARGET_PASSWORD)


def forms(password: str) -> set[str]:
    """How a password could show up: as is, URL-quoted, inside a repr."""
    return {password, quote(password, safe=""), repr(password)[1:-1]}


def redacted(text: str) -> str:
    """``text`` with every form of both passwords masked: safe to show in a failure message."""
    for password in PASSWORDS:
        for form in forms(password):
            text = text.replace(form, "***")
    return text


def outcome(output: str) -> str:
    """What an assertion on the inner session shows: each failure's first lines and the
    summary, passwords masked."""
    shown = [block[:1500] for block in output.split("\n_")[1:] if " test_" in block[:120]]
    return redacted("\n_".join(shown) + "\n" + output[-1500:])


def leaks(text: str) -> list[str]:
    """Which passwords ``text`` holds (names only: the assertion message must not show them)."""
    return [name for name, pw in zip(("postgres", "target"), PASSWORDS, strict=True)
            if any(form in text for form in forms(pw))]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL whose superuser has PG_PASSWORD: an "external" database."""
    session_dir = procs.SessionDir()
    watchdog = procs.Watchdog()
    postgres = LocalPostgres(session_dir, watchdog=watchdog)
    postgres.password = PG_PASSWORD
    try:
        server = postgres.start()
        yield f"postgresql://postgres:{quote(PG_PASSWORD, safe='')}@127.0.0.1:{server.port}/postgres"
    finally:
        postgres.stop()
        session_dir.remove()
        watchdog.close()


class _Handler(BaseHTTPRequestHandler):
    log: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).log.append(self.requestline)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        type(self).log.append(format % args)


@pytest.fixture(scope="module")
def target_server() -> Iterator[tuple[int, list[str]]]:
    """A tiny HTTP server on 127.0.0.1: the target; yields its port and its request log."""
    _Handler.log = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _Handler.log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


INNER_TESTS = '''
import os
import sys
import time
import urllib.request

import pytest

from pytest_roo.launch import start_process
from pytest_roo.services.procs import free_port


def open_database(url, dbname):
    """A helper that takes the URL as an argument: tracebacks show arguments."""
    raise ConnectionError(f"cannot open database {dbname!r}")


@pytest.mark.slo("error_rate < 50%")
def test_the_target_answers_and_the_database_works(target, postgres_db, http_load, roo_settings):
    assert target.health("/health")[0] == 200
    with postgres_db.connect() as conn:
        conn.query("SELECT 1")
    http_load.get(target.url("/load?token=" + target.info.get("token", "tok")), clients=1,
                  duration="0.5s")
    # a server of the system under test, with the database URL in its environment
    port = free_port()
    app = start_process([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                        health=f"http://127.0.0.1:{port}/", env={"DATABASE_URL": postgres_db.url},
                        log_path=roo_settings.output / "app.log")
    try:
        open("running.flag", "w").close()  # the outer test reads the process list now
        deadline = time.monotonic() + 30
        while not os.path.exists("seen.flag") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        app.stop()


def test_fails_with_the_urls_in_scope(target, postgres_server, roo_services, roo_settings):
    database_url = postgres_server.url
    target_url = target.base_url
    config = roo_services.config
    print("connecting with", database_url, "to", target_url)
    open_database(database_url, "nope")
'''


def run_session(pytester: pytest.Pytester, postgres_url: str, port: int,
                style: list[str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the inner session; while its first test holds, read every process's command line."""
    pytester.makepyfile(test_inner=INNER_TESTS)
    out_dir = pytester.path / "roo-out"
    # ROO_CONFIDENCE=0: half a second of one client is about the secrets, not the statistics
    # (under 5 requests, as a busy machine may allow, cannot tell error_rate < 50% at 95 %)
    env = {**os.environ, "ROO_POSTGRES_URL": postgres_url, "PYTHONUNBUFFERED": "1",
           "ROO_CONFIDENCE": "0"}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:playwright",
           "--roo-services=external", f"--roo-target=http://alice:{TARGET_PASSWORD}@127.0.0.1:{port}/",
           f"--roo-report-json={pytester.path / 'report.json'}",
           f"--junitxml={pytester.path / 'junit.xml'}", f"--roo-output={out_dir}", "-rA",
           f"--roo-report-html={out_dir / 'report.html'}",
           *style, "test_inner.py"]
    proc = subprocess.Popen(cmd, cwd=pytester.path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    command_lines: list[str] = []
    try:
        flag = pytester.path / "running.flag"
        deadline = time.monotonic() + 120
        while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists(), "the inner session never reached its running state"
        for process in psutil.process_iter(["pid", "cmdline"]):
            if process.info["pid"] == proc.pid:
                continue  # its own command line holds the --roo-target the user typed
            command_lines.append(" ".join(process.info["cmdline"] or ()))
        assert any("http.server" in line for line in command_lines)  # the app was running
        (pytester.path / "seen.flag").touch()
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return subprocess.CompletedProcess(cmd, proc.returncode, output, ""), command_lines


@pytest.mark.parametrize("style", [["--tb=long", "--showlocals"], ["--fulltrace", "--showlocals"]],
                         ids=["showlocals", "fulltrace"])
def test_no_password_anywhere(pytester: pytest.Pytester, postgres_url: str,
                              target_server: tuple[int, list[str]], style: list[str]) -> None:
    port, request_log = target_server
    done, command_lines = run_session(pytester, postgres_url, port, style)
    output = done.stdout
    # the session really ran: one test passed, the other failed with its URL in scope
    assert done.returncode == 1, outcome(output)
    assert "1 failed, 1 passed" in output, outcome(output)
    assert "cannot open database 'nope'" in output
    assert "database_url = " in output  # --showlocals printed the local
    places: dict[str, str] = {"terminal": output}
    places["report.json"] = (pytester.path / "report.json").read_text()
    places["junit.xml"] = (pytester.path / "junit.xml").read_text()
    files = [p for p in (pytester.path / "roo-out").rglob("*") if p.is_file()]
    assert {"app.log", "report.html"} <= {p.name for p in files}, files
    for path in files:
        places[str(path.relative_to(pytester.path))] = path.read_text(errors="replace")
    places["target request log"] = "\n".join(request_log)
    assert request_log, "the target was never asked"
    for i, line in enumerate(command_lines):
        places[f"process command line #{i}"] = line
    leaked = {place: leaks(text) for place, text in places.items() if leaks(text)}
    assert not leaked, f"passwords found in: {leaked}"
