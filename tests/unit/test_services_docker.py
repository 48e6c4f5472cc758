"""The docker backend's pure parts: what it asks the engine for. The containers themselves are
tested in tests/integration/services/test_services_backends.py where an engine answers."""

from __future__ import annotations

import shlex

import pytest

from pytest_roo.services.backends import (
    LOOPBACK_BINDING,
    postgres_command,
    redis_command,
)
from pytest_roo.services.models import ServiceError


def test_ports_are_published_on_loopback_only_on_a_port_the_engine_picks() -> None:
    utils = pytest.importorskip(
        "docker.utils", reason="the docker SDK is not installed: pip install 'pytest-roo[docker]'")
    assert utils.convert_port_bindings({"5432/tcp": LOOPBACK_BINDING}) == {
        "5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}


def test_postgres_command_is_fast_and_takes_overrides() -> None:
    command = postgres_command({"max_connections": "500", "work_mem": "8MB"})
    assert command[0] == "postgres"
    pairs = dict(arg.split("=", 1) for arg in command[2::2])
    assert all(flag == "-c" for flag in command[1::2])
    assert pairs["fsync"] == "off"
    assert pairs["max_connections"] == "500"
    assert pairs["work_mem"] == "8MB"


def test_redis_command_keeps_the_password_one_argument() -> None:
    command = redis_command("0a1b2c")
    assert command[command.index("--requirepass") + 1] == "0a1b2c"
    assert command[command.index("--save") + 1] == ""
    assert shlex.split(shlex.join(command)) == command
    with pytest.raises(ServiceError, match="must not start with '-'"):
        redis_command("--port")
