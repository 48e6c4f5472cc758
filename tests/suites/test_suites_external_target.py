"""``pytest suites --roo-target URL`` runs the suites against a reference system started
separately: nothing embedded is started, and what needs the embedded system says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures.refapp.launcher import start_refapp
from tests.suites.runner import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]


def test_ws_suite_against_an_external_target(postgres_db: Any, redis_db: Any,
                                             tmp_path: Path) -> None:
    with start_refapp(str(postgres_db.url), str(redis_db.url),
                      log_path=tmp_path / "refapp.log") as app:
        run = run_suite(
            ["suites/ws", "suites/db/test_database.py::test_standard_queries_on_100_connections",
             "suites/api/test_api.py::test_cold_start"],
            tmp_path, args=["--roo-target", app.base_url])
        assert app.alive(), "the external target must not be stopped by the suites"
    assert run.returncode == 0, run.explain()
    assert run.report["settings"]["target"] == app.base_url
    target = run.report["sections"]["target"]
    assert target["external"] is True and target["pids"] == [], target
    assert target["base_url"] == app.base_url
    assert {name for name, e in run.tests.items() if e["outcome"] == "passed"} == {
        "test_echo_round_trip", "test_broadcast_reaches_every_client",
        "test_echo_replies_are_intact", "test_connect_disconnect_churn"}, run.explain()
    assert not run.failing and len(run.passing) == 7, run.explain()
    # no DB URL for an external target: the database suite names the option to pass
    skipped = [line for line in run.output.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 2, run.explain()
    assert any("test_database.py" in line and "--roo-postgres-url" in line
               for line in skipped), run.explain()
    assert any("test_api.py" in line and "embedded target only" in line
               for line in skipped), run.explain()
    # the app served the suites' traffic (its own log shows no start-up by the suites)
    assert not (tmp_path / "out" / "target" / "main" / "refapp.log").exists()
