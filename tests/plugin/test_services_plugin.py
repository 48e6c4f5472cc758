"""The service fixtures end to end, in a separate pytest process each (pytester subprocess)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ISOLATION_TESTS = '''
import pytest
from pathlib import Path

def seed(db):
    with db.connect() as conn:
        conn.query("INSERT INTO item (name) VALUES ('from-callable')")

@pytest.fixture(scope="session")
def postgres_template_load():
    return [Path(__file__).parent / "schema.sql", seed]

def _query(postgres_db, sql):
    if postgres_db.connection is not None:          # transaction mode
        return postgres_db.connection.query(sql).rows
    with postgres_db.connect() as conn:
        return conn.query(sql).rows

def test_first_writes(postgres_db):
    assert postgres_db.isolation == "{mode}"
    assert _query(postgres_db, "SELECT name FROM item ORDER BY id") == [
        ("from-sql",), ("from-callable",)]
    _query(postgres_db, "INSERT INTO item (name) VALUES ('leak')")
    if postgres_db.connection is None:
        _query(postgres_db, "CREATE TABLE IF NOT EXISTS extra (x int); INSERT INTO extra VALUES (1)")

def test_second_does_not_see_it(postgres_db):
    assert _query(postgres_db, "SELECT name FROM item ORDER BY id") == [
        ("from-sql",), ("from-callable",)]
    if "{mode}" != "transaction":  # sequences are not transactional in PostgreSQL
        # the sequence is back where the template left it
        assert _query(postgres_db, "INSERT INTO item (name) VALUES ('n') RETURNING id") == [
            ("3",)]
    rows = _query(postgres_db, "SELECT to_regclass('extra') IS NOT NULL")
    if "{mode}" == "database":
        assert rows == [("f",)]
'''


@pytest.mark.parametrize("mode", ["database", "transaction", "truncate"])
def test_isolation_mode_hides_writes_from_the_next_test(pytester: pytest.Pytester,
                                                        mode: str) -> None:
    pytester.makefile(".sql", schema="CREATE TABLE item (id serial PRIMARY KEY, name text);"
                      "INSERT INTO item (name) VALUES ('from-sql');")
    pytester.makepyfile(ISOLATION_TESTS.replace("{mode}", mode))
    result = pytester.runpytest_subprocess("--roo-services=local",
                                           f"--roo-postgres-isolation={mode}")
    result.assert_outcomes(passed=2)


def test_fixtures_and_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        def test_servers(postgres_server, redis_server, postgres_db, redis_db):
            assert postgres_server.host == "127.0.0.1" and postgres_server.port > 0
            assert postgres_db.url.startswith("postgresql://postgres:")
            assert postgres_db.port == postgres_server.port
            assert postgres_db.dbname != postgres_server.dbname
            with postgres_db.connect() as conn:
                assert conn.scalar("SELECT current_database()") == postgres_db.name
            conn = redis_db.connect()
            conn.command("SET", "k", "1")
            assert conn.command("DBSIZE") == 1
            conn.close()
            print("REPR", repr(postgres_server), repr(redis_server), repr(postgres_db))
            print("PASSWORDS", postgres_server.password, redis_server.password)

        def test_redis_db_is_empty_again(redis_db):
            conn = redis_db.connect()
            assert conn.command("DBSIZE") == 0
            conn.close()
    ''')
    result = pytester.runpytest_subprocess("--roo-services=local", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["roo services: local"])
    out = result.stdout.str()
    line = next(line for line in out.splitlines() if line.startswith("PASSWORDS"))
    pg_password, redis_password = line.split()[1:3]
    repr_line = next(line for line in out.splitlines() if "REPR" in line)
    assert pg_password not in repr_line
    assert redis_password not in repr_line
    assert "***" in repr_line


def test_password_is_not_in_a_failure_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        def test_fails(postgres_server, redis_server):
            server, redis = postgres_server, redis_server
            open("pw.txt", "w").write(server.password + " " + redis.password)
            assert server is None, server
    ''')
    result = pytester.runpytest_subprocess("--roo-services=local", "-l")
    result.assert_outcomes(failed=1)
    for password in (pytester.path / "pw.txt").read_text().split():
        assert password not in result.stdout.str()
        assert password not in result.stderr.str()


def test_auto_prints_the_choice_in_the_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["roo services: auto -> *"])


def test_auto_skips_with_reason_when_binaries_are_missing(pytester: pytest.Pytester,
                                                          tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    pytester.makepyfile('''
        def test_needs_postgres(postgres_db):
            pass

        def test_needs_redis(redis_server):
            pass

        def test_plain():
            pass
    ''')
    result = pytester.runpytest_subprocess(
        "--roo-services=auto", f"--roo-postgres-bin={empty}", f"--roo-redis-bin={empty}",
        "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    out = result.stdout.str()
    assert "no Docker engine answered" in out
    assert str(empty) in out
    assert "apt-get install postgresql" in out
    assert "apt-get install redis-server" in out


def test_explicit_backend_unavailable_is_an_error(pytester: pytest.Pytester,
                                                  tmp_path: Path) -> None:
    pytester.makepyfile('''
        def test_needs_postgres(postgres_server):
            pass
    ''')
    result = pytester.runpytest_subprocess("--roo-services=local", f"--roo-postgres-bin={tmp_path}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--roo-services=local is not available*"])


def test_explicit_docker_without_engine_is_an_error(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")  # nothing answers there
    pytester.makepyfile('''
        def test_needs_redis(redis_server):
            pass
    ''')
    result = pytester.runpytest_subprocess("--roo-services=docker")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--roo-services=docker is not available*no Docker engine*"])


def test_xdist_workers_get_their_own_servers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import os, pytest

        @pytest.mark.parametrize("i", range(6))
        def test_db(postgres_db, redis_db, i):
            with postgres_db.connect() as conn:
                conn.query("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
            conn = redis_db.connect()
            assert conn.command("DBSIZE") == 0
            conn.command("SET", "k", "v")
            conn.close()
            with open(f"port-{os.getpid()}-{i}", "w") as fh:
                fh.write(f"{postgres_db.port} {redis_db.port}")
    ''')
    result = pytester.runpytest_subprocess("-n", "2", "--roo-services=local")
    result.assert_outcomes(passed=6)
    by_worker: dict[str, set[str]] = {}
    for path in pytester.path.glob("port-*"):
        by_worker.setdefault(path.name.split("-")[1], set()).add(path.read_text())
    assert len(by_worker) == 2
    ports = [next(iter(values)) for values in by_worker.values()]
    assert all(len(values) == 1 for values in by_worker.values())
    assert ports[0] != ports[1]


def test_xdist_auto(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_db(postgres_db, i):
            with postgres_db.connect() as conn:
                assert conn.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "0"
                conn.query("CREATE TABLE t (x int)")
    ''')
    result = pytester.runpytest_subprocess("-n", "auto", "--roo-services=local")
    result.assert_outcomes(passed=4)
    assert re.search(r"created: \d+/\d+ workers", result.stdout.str())


PROBE_COUNTER = '''
import os
from pathlib import Path

from pytest_roo.services import backends

_probe_docker = backends.probe_docker


def counted_probe(*args, **kwargs):
    with open(Path(__file__).parent / "probes.log", "a") as fh:
        fh.write(os.environ.get("PYTEST_XDIST_WORKER", "controller") + "\\n")
    return _probe_docker(*args, **kwargs)


backends.probe_docker = counted_probe
'''


def test_xdist_workers_get_the_controllers_docker_probe(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    socket = f"unix://{tmp_path}/docker.sock"  # nothing answers there
    monkeypatch.setenv("DOCKER_HOST", socket)
    # under an outer `-n 2` this test runs in a worker: its inner controller must not read as one
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(PROBE_COUNTER)
    pytester.makepyfile('''
        import os, pytest

        @pytest.mark.parametrize("i", range(4))
        def test_answer(roo_services, i):
            assert roo_services.probe is not None
            worker = os.environ["PYTEST_XDIST_WORKER"]
            with open(f"answer-{worker}-{i}", "w") as fh:
                fh.write(roo_services.probe.describe())
    ''')
    result = pytester.runpytest_subprocess("-n", "2", "--roo-services=auto", "-p",
                                           "no:cacheprovider")
    result.assert_outcomes(passed=4)
    assert (pytester.path / "probes.log").read_text().split() == ["controller"]
    result.stdout.fnmatch_lines([f"roo services: auto -> local (no Docker engine answered at "
                                 f"{socket} within 1 s)"])
    answers = {path.name.split("-")[1]: path.read_text()
               for path in pytester.path.glob("answer-*")}
    assert sorted(answers) == ["gw0", "gw1"]
    assert set(answers.values()) == {f"no Docker engine answered at {socket} within 1 s"}
