"""Load workers on other hosts over execnet, for real: an OpenSSH server on 127.0.0.1 started
by the test (its own port, configuration, throwaway host and client keys; the system's sshd
untouched) and ssh gateways to it, beside a popen gateway. The merged result counts every
worker, the test's criteria are judged on it, no secret appears in any process's command
line, and nothing is left running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_roo.load import WsSwarm
from pytest_roo.load.workers import run_spread
from tests.integration.load.test_workers import worker_pids
from tests.integration.processes import wait_gone
from tests.integration.services.test_children_reaped import settled, zombies

if TYPE_CHECKING:
    from pytest_roo.load import DbLoadFixture
    from pytest_roo.services.models import PostgresDatabase
    from tests.integration.load.conftest import StartServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SSHD = Path("/usr/sbin/sshd")
INSTALL = ("apt-get update && apt-get -o DPkg::Lock::Timeout=600 install -y openssh-server "
           "(ci/bootstrap.sh installs it)")


@pytest.fixture(autouse=True)
def no_zombie_gateway() -> Iterator[None]:
    """The gateways' local processes (``ssh`` clients, popen interpreters) are reaped: none
    stays a zombie of this process once the test ended."""
    before = set(zombies())
    yield
    left = set(settled(lambda: [pid for pid in zombies() if pid not in before]))
    assert not left, f"zombie children after the test: {sorted(left)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True, timeout=30)


@pytest.fixture
def ssh_host(tmp_path: Path) -> Iterator[str]:
    """An sshd on 127.0.0.1 for this test; returns the execnet spec of an ssh gateway to it
    (``ssh=roo-loadgen//ssh_config=...//python=<this interpreter>``)."""
    if not SSHD.exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip(f"needs the OpenSSH server and client: {INSTALL}")
    if os.geteuid() == 0:
        # sshd running as root wants its privilege separation directory (the Debian service
        # makes it when it starts; the system's sshd is not started here)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    home = tmp_path / "ssh"
    home.mkdir(mode=0o700)
    _keygen(home / "host_key", "roo-test-host")
    _keygen(home / "client_key", "roo-test-client")
    (home / "authorized_keys").write_text((home / "client_key.pub").read_text())
    (home / "authorized_keys").chmod(0o600)
    port = _free_port()
    user = os.environ.get("USER") or __import__("pwd").getpwuid(os.geteuid()).pw_name
    (home / "sshd_config").write_text(textwrap.dedent(f"""\
        ListenAddress 127.0.0.1
        Port {port}
        HostKey {home}/host_key
        PidFile {home}/sshd.pid
        AuthorizedKeysFile {home}/authorized_keys
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        PermitRootLogin prohibit-password
        AllowUsers {user}
        LogLevel ERROR
        """))
    (home / "known_hosts").write_text(f"[127.0.0.1]:{port} {(home / 'host_key.pub').read_text()}")
    (home / "ssh_config").write_text(textwrap.dedent(f"""\
        Host roo-loadgen
          HostName 127.0.0.1
          Port {port}
          User {user}
          IdentityFile {home}/client_key
          IdentitiesOnly yes
          UserKnownHostsFile {home}/known_hosts
          StrictHostKeyChecking yes
          BatchMode yes
          LogLevel ERROR
        """))
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(home / "sshd_config")],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            probe = subprocess.run(["ssh", "-F", str(home / "ssh_config"), "roo-loadgen", "true"],
                                   capture_output=True, text=True, timeout=20)
            if probe.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                told = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
                pytest.fail(f"the test's sshd did not accept the key: {probe.stderr.strip()} "
                            f"{told}")
            time.sleep(0.2)
        yield f"ssh=roo-loadgen//ssh_config={home}/ssh_config//python={sys.executable}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()


#: what an execnet gateway's interpreter runs (popen, and behind sshd)
GATEWAY = "import sys;exec(eval(sys.stdin.readline()))"


def _sessions_of(marker: str, ssh_spec: str) -> set[int]:
    """Processes below this one or below the test's sshd whose command line names ``marker``
    (the ssh clients, the gateways' interpreters): other people's runs are not ours."""
    import psutil

    config = Path(ssh_spec.split("ssh_config=")[1].split("//")[0])
    roots = [os.getpid()]
    pidfile = config.parent / "sshd.pid"
    if pidfile.exists():
        roots.append(int(pidfile.read_text().split()[0]))
    found = set()
    for root in roots:
        try:
            below = psutil.Process(root).children(recursive=True)
        except psutil.Error:
            continue
        for proc in below:
            try:
                if any(marker in part for part in proc.cmdline()):
                    found.add(proc.pid)
            except psutil.Error:
                continue
    return found


def test_workers_over_ssh_and_popen_gateways_merge_into_one_result(
        ssh_host: str, load_server: StartServer) -> None:
    srv = load_server()
    before = worker_pids() | _sessions_of(GATEWAY, ssh_host)
    result = run_spread(WsSwarm(), "echo", srv.ws("/ws/echo"), processes=1,
                        hosts=[ssh_host, "popen"], clients=4, rate="200/s", duration=2)
    assert result.operations == 400 and result.error_count == 0
    assert result.get_metric("rtt").count == 400
    assert result.counters["clients_connected"] == 4
    labels = [w["worker"] for w in result.info["workers"]]
    assert labels[0].startswith("worker 1/2 (ssh=roo-loadgen on ")
    assert labels[1].startswith("worker 2/2 (popen on ")
    assert all(abs(w["clock_offset"]) < 1.0 for w in result.info["workers"])
    # the ssh clients, the gateways' interpreters (here and behind sshd), the workers: all gone
    left = (_sessions_of("roo-loadgen", ssh_host) | _sessions_of(GATEWAY, ssh_host)
            | worker_pids()) - before
    assert not wait_gone(left - {os.getpid()}), "gateways or workers left running"


def test_db_load_over_ssh_keeps_the_password_out_of_every_process_list(
        ssh_host: str, db_load: DbLoadFixture, postgres_db: PostgresDatabase) -> None:
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
                    except OSError:
                        continue
                    if postgres_db.password in cmdline:
                        seen.append(cmdline.replace("\0", " ")[:80])
            stop.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    db_load.hosts = (ssh_host, ssh_host)  # what --roo-load-hosts gives every load fixture
    try:
        result = db_load.query("select $1::int", 7, clients=4, rate="100/s", duration=2)
    finally:
        stop.set()
        watcher.join(5)
    assert not seen, "a process list showed the database password"
    assert result.operations == 200 and result.error_count == 0
    assert result.info["processes"] == 2
    assert all("ssh=roo-loadgen" in w["worker"] for w in result.info["workers"])
    assert postgres_db.password not in json.dumps(result.to_dict())


HOSTS_TEST = """
import os
import pytest

@pytest.mark.slo("error_rate < 1%", "p99 < 5s")
def test_echo_on_two_hosts(ws_swarm):
    # a light rate: the subject is the merge over hosts, and a busy machine (two gateways and
    # sshd on two cores) must not make the generator miss its schedule
    ws_swarm.echo(os.environ["ROO_TEST_WS"] + "/ws/echo", clients=4, rate="100/s", duration=3)
"""


def test_roo_load_hosts_option_judges_the_criteria_on_the_merged_result(
        ssh_host: str, load_server: StartServer, tmp_path: Path) -> None:
    srv = load_server()
    (tmp_path / "test_hosts_run.py").write_text(HOSTS_TEST)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:playwright", "-p", "no:cacheprovider", "-q",
         f"--roo-load-hosts={ssh_host},popen", "--roo-report-json=report.json",
         "test_hosts_run.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ROO_TEST_WS": srv.ws("")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    (test,) = report["tests"]
    (result,) = test["results"]
    assert result["info"]["processes"] == 2 and result["operations"] == 300
    assert [w["worker"].split(" (")[1].split(" on ")[0] for w in result["info"]["workers"]] == [
        "ssh=roo-loadgen", "popen"]
    verdicts = {v["criterion"]: v for v in test["verdicts"]}
    assert verdicts["error_rate < 1%"]["passed"] is True
    assert verdicts["error_rate < 1%"]["samples"] == 300  # judged over both workers' operations
    assert verdicts["p99 < 5s"]["samples"] == 300
