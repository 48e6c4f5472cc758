"""Every external command the local backend runs is bounded: a binary that hangs fails clearly
within seconds, and nothing it started (a shell, that shell's children) stays behind."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from pytest_roo.services import local, local_postgres, procs
from pytest_roo.services.models import ServiceError

pytestmark = pytest.mark.integration

# A postgres that hangs on -V, as a broken or wrapped binary might: it records its process
# group, then waits in a child, the way `sh -c` waits for the command it runs.
HANGING_POSTGRES = """#!/bin/sh
echo $$ >> "$(dirname "$0")/groups"
sleep 600
"""
# initdb asks `postgres -V` through popen(), that is `sh -c`: so does this one
INITDB = """#!/bin/sh
exec sh -c "\\"$(dirname "$0")/postgres\\" -V"
"""


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _assert_groups_gone(groups_text: str) -> None:
    groups = [int(line) for line in groups_text.split()]
    assert groups, "the hanging command never ran"
    deadline = time.monotonic() + 10  # SIGKILL is immediate; this only absorbs reaping
    while any(_group_members(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [g for g in groups if _group_members(g)], "processes of the command outlived it"


def _fake_bin(where: Path) -> Path:
    """Fake binaries the service user (initdb runs as it under root) can run and write beside."""
    bin_dir = where / "bin"
    bin_dir.mkdir(mode=0o755)
    bin_dir.chmod(0o755)
    for name, text in (("postgres", HANGING_POSTGRES), ("initdb", INITDB)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (bin_dir / "groups").touch()
    (bin_dir / "groups").chmod(0o666)
    return bin_dir


def test_a_postgres_that_hangs_on_version_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROO_CACHE_DIR", str(tmp_path / "cache"))  # no cached initdb image
    monkeypatch.setattr(local_postgres, "VERSION_TIMEOUT", 2.0)
    session_dir = procs.SessionDir()
    bin_dir = _fake_bin(session_dir.path)
    try:
        postgres = local.LocalPostgres(session_dir, bin_dir=bin_dir)
        with pytest.raises(ServiceError) as info:
            postgres.start()
        groups = (bin_dir / "groups").read_text()
    finally:
        session_dir.remove()
    message = str(info.value)
    assert f"{bin_dir / 'postgres'} -V" in message
    assert "did not finish within 2 s" in message
    assert "TimeoutExpired" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    _assert_groups_gone(groups)


def test_initdb_waiting_on_a_shell_is_killed_with_its_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_postgres, "INITDB_TIMEOUT", 2.0)
    session_dir = procs.SessionDir()
    bin_dir = _fake_bin(session_dir.path)
    try:
        postgres = local.LocalPostgres(session_dir, bin_dir=bin_dir)
        # past the version check, straight to initdb (which asks `sh -c "postgres -V"`)
        monkeypatch.setattr(postgres, "check_version", lambda: "postgres (PostgreSQL) 15")
        with pytest.raises(ServiceError, match=r"initdb .* did not finish within 2 s"):
            postgres._initdb(session_dir.path / "pg")
        groups = (bin_dir / "groups").read_text()
    finally:
        session_dir.remove()
    _assert_groups_gone(groups)


def test_run_bounded_reports_and_kills(tmp_path: Path) -> None:
    script = tmp_path / "slow.sh"
    script.write_text(f'#!/bin/sh\necho $$ >> "{tmp_path}/groups"\nsh -c "sleep 600"\n')
    script.chmod(0o755)
    with pytest.raises(ServiceError, match=r"slow\.sh` did not finish within 1 s"):
        procs.run_bounded([str(script)], timeout=1.0)
    _assert_groups_gone((tmp_path / "groups").read_text())
    assert procs.run_bounded(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30) == (
        3, "out\nerr\n")
    with pytest.raises(ServiceError, match="could not be started"):
        procs.run_bounded([str(tmp_path / "missing")], timeout=5)


def test_the_real_postgres_answers_its_version(tmp_path: Path) -> None:
    try:
        bin_dir = local.find_postgres_bin(None)
    except ServiceError as exc:
        pytest.skip(f"no PostgreSQL server binaries: {exc}")
    session_dir = procs.SessionDir(tmp_path / "runtime")
    try:
        version = local.LocalPostgres(session_dir, bin_dir=bin_dir).check_version()
    finally:
        session_dir.remove()
    assert version.startswith("postgres (PostgreSQL) ")
    assert subprocess.run([str(bin_dir / "postgres"), "-V"], capture_output=True, text=True,
                          timeout=30).stdout.strip() == version
    assert os.access(bin_dir / "initdb", os.X_OK)
