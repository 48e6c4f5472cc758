"""The settings wired into pytest: the ``roo`` option group, ini keys, and ``config.stash``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest

from pytest_roo.settings import OPTIONS, OptionSpec, Settings, SettingsError, resolve

__all__ = ["SETTINGS_KEY", "add_options", "get_settings", "resolve_settings"]

SETTINGS_KEY = pytest.StashKey[Settings]()


def add_options(parser: pytest.Parser) -> None:
    """Add every ``--roo-*`` option and ``roo_*`` ini key of :data:`~pytest_roo.settings.OPTIONS` to
    the ``roo`` group."""
    group = parser.getgroup("roo", "pytest-roo: service levels, load, services, browser matrix")
    for spec in OPTIONS:
        default = spec.default
        if isinstance(default, tuple):
            default = ",".join(default)
        elif isinstance(default, float) and spec.metavar == "PERCENT":
            default = f"{default:.0%}"
        group.addoption(
            spec.cli,
            dest=spec.dest,
            default=None,
            metavar=spec.metavar,
            help=f"{spec.help} Also ini {spec.ini}, env {spec.env}. Default: {default!r}".replace(
                "%", "%%"
            ),
        )
        parser.addini(spec.ini, f"{spec.help} (see {spec.cli})", type="string", default="")


def resolve_settings(config: pytest.Config, environ: Mapping[str, str] | None = None) -> Settings:
    """CLI > env > ini > default, each value through its parser. Raises pytest.UsageError."""
    env = os.environ if environ is None else environ

    def lookup(spec: OptionSpec) -> list[tuple[str, str, Any]]:
        return [
            ("cli", spec.cli, config.getoption(spec.dest)),
            ("env", spec.env, env.get(spec.env)),
            ("ini", spec.ini, config.getini(spec.ini)),
        ]

    try:
        return resolve(lookup)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None


def get_settings(config: pytest.Config) -> Settings:
    """The Settings of this session (resolved at configure time)."""
    try:
        return config.stash[SETTINGS_KEY]
    except KeyError:
        settings = resolve_settings(config)
        config.stash[SETTINGS_KEY] = settings
        return settings
