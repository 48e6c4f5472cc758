"""Objects that hold a password show it masked; text from elsewhere is masked by pattern or by
the secrets this process knows."""

from __future__ import annotations

import pytest

from pytest_roo.redact import (
    forget_secret,
    mask_known,
    mask_secrets,
    remember_secret,
    url_secrets,
)
from pytest_roo.services.backends import ServiceConfig, Services
from pytest_roo.services.models import PostgresServer, RedisServer
from pytest_roo.target import Target


def test_service_config_and_services_mask_their_urls() -> None:
    config = ServiceConfig(services="external", postgres_url="postgresql://u:Pg-pw-4711@h:5/db",
                           redis_url="redis://:Rd-pw-4712@h:6/0")
    shown = repr(config) + repr(Services(config)) + str(config)
    assert "Pg-pw-4711" not in shown and "Rd-pw-4712" not in shown
    assert "postgresql://u:***@h:5/db" in shown and "redis://:***@h:6/0" in shown
    assert ServiceConfig().__repr__().startswith("ServiceConfig(services='auto', postgres_url=None")


def test_target_masks_the_password_of_its_url() -> None:
    target = Target.external_url("http://alice:Tg-pw-4713@127.0.0.1:9/app")
    assert "Tg-pw-4713" not in repr(target) + str(target) + str(target.describe())
    assert target.shown_url == "http://alice:***@127.0.0.1:9/app"
    assert target.url("/x") == "http://alice:Tg-pw-4713@127.0.0.1:9/app/x"  # still usable


def test_service_objects_remember_their_passwords() -> None:
    PostgresServer(host="h", port=1, user="u", password="Pg pw/4714")
    RedisServer(host="h", port=2, password="Rd-pw-4715")
    text = "postgresql://u:Pg%20pw%2F4714@h:1/db 'Pg pw/4714' Rd-pw-4715"
    assert mask_known(text) == "postgresql://u:***@h:1/db '***' ***"


@pytest.mark.parametrize(("text", "masked"), [
    ("redis://:pw@h:6379/0 failed", "redis://:***@h:6379/0 failed"),
    ("password=abc token: xyz", "password=*** token: ***"),
    ("Authorization: Bearer abc.def", "Authorization: ***"),
    ("b'\\x00SSH password=hunter2'", "b'\\x00SSH password=***'"),
    ("nothing secret here: 1=2", "nothing secret here: 1=2"),
])
def test_mask_secrets_without_knowing_them(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_url_secrets_and_forgetting() -> None:
    assert url_secrets("http://a:Sec-4716@h/?token=Tok-4717&room=1") == ["Sec-4716", "Tok-4717"]
    assert url_secrets("http://h/") == []
    remember_secret("Once-4718")
    assert mask_known("x Once-4718") == "x ***"
    forget_secret("Once-4718")
    assert mask_known("x Once-4718") == "x Once-4718"
    assert mask_known("x Extra-4719", ["Extra-4719"]) == "x ***"
