"""Container stats through the Engine API, on a real engine (here the one ``ci/docker.sh up``
starts): a container that keeps 24 MiB in its tmpfs and burns a core shows in ``container:*``
series and in the totals; a container that is not there is a missed sample, not a crash."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from pytest_roo.monitor import ResourceMonitor
from pytest_roo.monitor.containers import ContainerStats
from pytest_roo.services import docker_engine
from pytest_roo.services.backends import ServiceConfig, probe_docker
from pytest_roo.services.docker_backend import docker_endpoint

pytestmark = pytest.mark.integration

IMAGE = os.environ.get("ROO_REDIS_IMAGE") or ServiceConfig().redis_image
#: bounded twice: the command ends by itself after 60 s, and the test removes the container
BUSY = ("head -c 25165824 /dev/zero > /dev/shm/ballast && "
        "exec timeout 60 sh -c 'while :; do :; done'")


@pytest.fixture(scope="module")
def engine() -> str:
    probe = probe_docker(images=(IMAGE,))
    if not probe.available:
        reason = (f"container stats: {probe.describe()}. Start a private engine with its images "
                  f'(`eval "$(ci/docker.sh up)"`, root on Debian) or install Docker Engine')
        if os.environ.get("ROO_CI_DOCKER"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return docker_endpoint(probe.where)


@pytest.fixture
def busy_container(engine: str) -> Iterator[str]:
    name = f"roo-monitor-busy-{os.getpid()}"
    status, body = docker_engine.request(engine, "POST", f"/containers/create?name={name}", body={
        "Image": IMAGE, "Entrypoint": ["sh", "-c"], "Cmd": [BUSY],
        "Labels": {"pytest-roo.test": "container-stats"}})
    assert status == 201, body
    cid = json.loads(body)["Id"]
    try:
        status, body = docker_engine.request(engine, "POST", f"/containers/{cid}/start")
        assert status == 204, body
        time.sleep(1.0)  # the ballast is written
        yield name
    finally:
        docker_engine.remove_container(engine, cid)


def test_a_busy_container_in_the_timeline(engine: str, busy_container: str) -> None:
    with ResourceMonitor(containers=[busy_container], docker_host=engine, interval=0.25,
                         count=8, generator=False) as monitor:
        assert monitor.wait(30)
    timeline = monitor.timeline
    source = f"container:{busy_container}"
    _, rss = timeline.get("rss", source).finite()
    _, cpu = timeline.get("cpu", source).finite()
    _, pids = timeline.get("processes", source).finite()
    assert min(rss) > 20 * 2**20, rss  # the 24 MiB in its tmpfs
    assert len(cpu) == 7  # every tick but the first has a CPU figure
    assert max(cpu) > 30.0, cpu  # % of one core: the loop takes one when it gets the CPU
    assert min(pids) >= 1
    _, total = timeline.get("rss").finite()
    assert list(total) == list(rss)  # containers alone: the totals are theirs
    assert timeline.info["containers"] == {busy_container: busy_container}
    assert timeline.info["container_errors"] == 0


def test_a_missing_container_is_a_missed_sample(engine: str) -> None:
    stats = ContainerStats(["roo-no-such-container"], engine)
    sample = stats.sample()
    assert sample == {"container:roo-no-such-container": dict.fromkeys(
        ("rss", "cpu", "processes", "net_rx_bytes", "net_tx_bytes"))}
    assert stats.errors == 1 and "HTTP 404" in stats.last_error


def test_container_stats_need_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(ValueError, match="DOCKER_HOST"):
        ContainerStats(["db"])
    with pytest.raises(ValueError, match="container ids or names"):
        ContainerStats([" "], "unix:///nowhere.sock")
