"""While the embedded reference system runs, its generated passwords and token key are on no
process's command line: every user of the machine can read /proc/*/cmdline (and `ps`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from suites.embedded import start_embedded

pytestmark = [pytest.mark.integration]


def _cmdlines() -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:  # the process ended meanwhile
                continue
    return out


def test_no_command_line_holds_the_generated_secrets(roo_settings: Any, tmp_path: Path) -> None:
    target = start_embedded(roo_settings, tmp_path)
    try:
        pg_password = urlsplit(str(target.info["postgres_url"])).password
        redis_password = urlsplit(str(target.info["redis_url"])).password
        secrets = {
            "PostgreSQL password": unquote(pg_password or ""),
            "Redis password": unquote(redis_password or ""),
            "token signing key": str(target.info["token_secret"]),
        }
        # the services generate passwords: an empty one would make this test prove nothing
        assert all(len(value) >= 16 for value in secrets.values()), sorted(secrets)
        assert target.pids and all(pid in _cmdlines() for pid in target.pids)
        ps = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True,
                            timeout=10, check=True).stdout
        for what, value in secrets.items():
            found = [pid for pid, line in _cmdlines().items() if value.encode() in line]
            assert not found, f"the {what} is on the command line of process(es) {found}"
            assert value.encode() not in ps, f"the {what} is in the output of `ps`"
        # the app still got them: the launcher waited for /health 200 (database and Redis ok)
        app_cmdline = _cmdlines()[target.pids[0]]
        assert b"fixtures.refapp" in app_cmdline and b"postgresql://" not in app_cmdline
    finally:
        target.stop()
