"""Passwords never reach a traceback: a failed connection to a real PostgreSQL, with an external
URL's password or a generated one, leaves the password out of the terminal and the JUnit XML."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from pytest_roo.services import procs
from pytest_roo.services.local import LocalPostgres
from pytest_roo.services.models import PostgresServer

pytestmark = pytest.mark.integration

#: The most telling style: every frame's arguments (long) and every local variable (-l); the
#: default style shows a subset of this.
TRACEBACK_STYLES = [["--tb=long", "--showlocals"]]


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    session_dir = procs.SessionDir()
    watchdog = procs.Watchdog()
    postgres = LocalPostgres(session_dir, watchdog=watchdog)
    try:
        yield postgres.start()
    finally:
        postgres.stop()
        session_dir.remove()
        watchdog.close()


def _forms(password: str) -> list[str]:
    """The ways a password could show up: as is, URL-quoted, and inside a repr."""
    return sorted({password, quote(password, safe=""), repr(password)[1:-1]})


def _assert_absent(password: str, *texts: str) -> None:
    # computed apart from the assert: pytest's assertion message would print the text
    leaked = [i for i, text in enumerate(texts) for form in _forms(password) if form in text]
    assert not leaked, f"the password leaked into output(s) {sorted(set(leaked))}"


def _run(pytester: pytest.Pytester, style: list[str], *args: str) -> tuple[str, str]:
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={junit}",
                                           *style, *args)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0, output  # the inner test must really have failed
    return output, junit.read_text()


FAILING_CONNECT = """
import os

def test_connects_to_a_missing_database(postgres_server):
    # hand the password to the outer test (a private file, mode 0600)
    fd = os.open("used.secret", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, postgres_server.password.encode())
    os.close(fd)
    with postgres_server.connect(dbname="no_such_database") as conn:
        conn.query("SELECT 1")
"""


@pytest.mark.parametrize("style", TRACEBACK_STYLES, ids=lambda s: " ".join(s))
def test_wrong_external_password_is_not_shown(
    pytester: pytest.Pytester, own_postgres: PostgresServer, style: list[str]
) -> None:
    wrong = "Wr0ng-" + secrets.token_hex(12)
    pytester.makepyfile(
        """
        def test_uses_the_database(postgres_db):
            with postgres_db.connect() as conn:
                conn.query("SELECT 1")
        """
    )
    url = f"postgresql://postgres:{wrong}@127.0.0.1:{own_postgres.port}/postgres"
    output, junit = _run(pytester, style, "--roo-services=external", f"--roo-postgres-url={url}")
    assert "password authentication failed" in output + junit
    _assert_absent(wrong, output, junit)


@pytest.mark.parametrize("style", TRACEBACK_STYLES, ids=lambda s: " ".join(s))
def test_external_password_is_not_shown_when_a_connection_fails(
    pytester: pytest.Pytester, own_postgres: PostgresServer, style: list[str]
) -> None:
    pytester.makepyfile(FAILING_CONNECT)
    output, junit = _run(pytester, style, "--roo-services=external",
                         f"--roo-postgres-url={own_postgres.url}")
    assert "no_such_database" in output + junit
    assert Path(pytester.path, "used.secret").read_text() == own_postgres.password
    _assert_absent(own_postgres.password, output, junit)


@pytest.mark.parametrize("style", TRACEBACK_STYLES, ids=lambda s: " ".join(s))
def test_generated_password_is_not_shown_when_a_connection_fails(
    pytester: pytest.Pytester, style: list[str]
) -> None:
    pytester.makepyfile(FAILING_CONNECT)
    output, junit = _run(pytester, style, "--roo-services=local")
    assert "no_such_database" in output + junit
    generated = Path(pytester.path, "used.secret").read_text()
    assert len(generated) >= 16
    _assert_absent(generated, output, junit)


def test_a_secret_does_not_show_itself() -> None:
    import pickle

    from pytest_roo.services.pgwire import Secret, scram_verifier

    secret = Secret("hunter2-" + secrets.token_hex(4))
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}" + repr([secret])
    assert secret.reveal().startswith("hunter2-")
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(secret)
    verifier = scram_verifier(secret)
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert secret.reveal() not in verifier
    assert scram_verifier(secret) != verifier  # a fresh salt each time


def test_redis_password_is_not_shown_when_auth_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import dataclasses
        import os

        def test_authenticates_as_another_user(redis_server):
            fd = os.open("used.secret", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, redis_server.password.encode())
            os.close(fd)
            # the generated password, presented for a user that does not exist
            dataclasses.replace(redis_server, user="nobody").connect().close()
        """
    )
    output, junit = _run(pytester, TRACEBACK_STYLES[0], "--roo-services=local")
    assert "WRONGPASS" in output + junit
    generated = Path(pytester.path, "used.secret").read_text()
    assert len(generated) >= 16
    _assert_absent(generated, output, junit)
