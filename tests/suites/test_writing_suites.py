"""docs/writing-suites.md followed end to end: the template suite, copied into an empty folder,
tests a small third-party server (node with the npm ``ws`` package) that nobody here wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_roo.services.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docs" / "suite-template"
NODE_MODULES = ROOT / "node_modules"

SERVER_JS = r"""
const http = require('http');
const { WebSocketServer } = require('ws');
const port = Number(process.env.PORT);
const delay = Number(process.env.DELAY_MS || 0);
const later = (fn) => (delay ? setTimeout(fn, delay) : fn());
const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    later(() => { res.writeHead(200, {'content-type': 'application/json'}); res.end('{"ok":true}'); });
    return;
  }
  res.writeHead(404); res.end();
});
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => later(() => ws.send(data, { binary: isBinary }))));
server.listen(port, '127.0.0.1');
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.heavy,
    pytest.mark.skipif(shutil.which("node") is None,
                       reason="node is missing: apt-get install nodejs (ci/bootstrap.sh does)"),
    pytest.mark.skipif(not (NODE_MODULES / "ws").is_dir(),
                       reason="the npm package ws is missing: run ci/bootstrap.sh (npm ci)"),
]


def run_suite(folder: Path, *args: str,
              **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    port = free_port()
    environ = {
        **os.environ,
        "SUT_PORT": str(port),
        "SUT_HEALTH": f"http://127.0.0.1:{port}/health",
        "NODE_PATH": str(NODE_MODULES),
        "PYTEST_ADDOPTS": "-p no:cacheprovider -p no:playwright",
        **env,
    }
    environ.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *args], cwd=folder, env=environ,
                          capture_output=True, text=True, timeout=300)
    report: dict[str, Any] = json.loads((folder / "report" / "roo-report.json").read_text())
    return done, report


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """Steps 1-3 of the guide: an empty folder, the template copied in, the system beside it."""
    folder = tmp_path / "my-suite"
    shutil.copytree(TEMPLATE, folder)
    (folder / "server.js").write_text(SERVER_JS)
    return folder


def test_the_template_passes_on_a_healthy_third_party_server(suite: Path) -> None:
    done, report = run_suite(suite)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    verdicts = [v for t in report["tests"] for v in t["verdicts"]]
    assert len(verdicts) == 6 and all(v["passed"] for v in verdicts)
    assert {t["outcome"] for t in report["tests"]} == {"passed"}
    assert "criteria judged: 6 passed, 0 failed" in done.stdout


def test_the_template_fails_a_slow_server_on_its_criteria(suite: Path) -> None:
    done, report = run_suite(suite, "--roo-profile", "smoke", DELAY_MS="120")
    assert done.returncode == 1, done.stdout[-3000:]
    failed = {v["criterion"] for t in report["tests"] for v in t["verdicts"] if not v["passed"]}
    assert {"p95 < 50ms", "rtt.p95 < 50ms"} <= failed
    assert "p95 < 50ms measured" in done.stdout


def test_a_system_that_does_not_start_shows_its_log(suite: Path) -> None:
    (suite / "server.js").write_text("console.error('missing DATABASE_URL'); process.exit(2);\n")
    done, _ = run_suite(suite)
    assert done.returncode != 0
    assert "exited with status 2" in done.stdout and "missing DATABASE_URL" in done.stdout


def test_a_profile_registered_in_conftest_sizes_the_runs(suite: Path) -> None:
    """Step 4's profiles: a profile of one's own, registered in conftest.py by name."""
    conftest = suite / "conftest.py"
    conftest.write_text(conftest.read_text() + '\nfrom sizes import PROFILES\n\n'
                        'PROFILES.register("ci", parent="standard", http_clients=10, '
                        'ws_clients=60)\n')
    done, report = run_suite(suite, "--roo-profile", "ci")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    clients = {r["name"]: r["info"]["clients"] for t in report["tests"] for r in t["results"]}
    assert clients == {"http.get": 10, "ws.echo": 60}


def test_an_unknown_profile_names_the_suite_and_its_profiles(suite: Path) -> None:
    done, _ = run_suite(suite, "--roo-profile", "nightly")
    assert done.returncode == 1
    assert ("suite my-suite has no profile 'nightly': it knows smoke, standard, full"
            in done.stdout), done.stdout[-3000:]
