"""Engine discovery: configured binary > Playwright's build > system browser > unavailable."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pytest_roo.browser import engines
from pytest_roo.browser.engines import discover


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def revision(name: str) -> str:
    package = engines.playwright_package_dir()
    assert package is not None
    data = json.loads((package / "driver/package/browsers.json").read_text())
    return next(str(b["revision"]) for b in data["browsers"] if b["name"] == name)


@pytest.fixture
def empty_registry(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "registry").mkdir()
    return {"PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "registry")}


def test_system_browser_when_no_playwright_build(tmp_path: Path, empty_registry: dict[str, str]) -> None:
    binary = executable(tmp_path / "bin" / "firefox-esr")
    engine = discover("firefox", environ=empty_registry,
                      system_candidates={"firefox": [str(tmp_path / "missing"), str(binary)]})
    assert engine.available
    assert engine.source == "system"
    assert engine.launch_args() == {"executable_path": str(binary), "channel": "moz-firefox"}


def test_system_chromium_needs_no_channel(tmp_path: Path, empty_registry: dict[str, str]) -> None:
    binary = executable(tmp_path / "chromium")
    engine = discover("chromium", environ=empty_registry, system_candidates={"chromium": [str(binary)]})
    assert engine.launch_args() == {"executable_path": str(binary)}


def test_playwright_build_wins_over_system(tmp_path: Path, empty_registry: dict[str, str]) -> None:
    build = Path(empty_registry["PLAYWRIGHT_BROWSERS_PATH"]) / f"webkit-{revision('webkit')}"
    build.mkdir()
    incomplete = discover("webkit", environ=empty_registry)
    assert not incomplete.available  # no INSTALLATION_COMPLETE marker: a half-done download
    (build / "INSTALLATION_COMPLETE").write_text("")
    engine = discover("webkit", environ=empty_registry)
    assert engine.available
    assert engine.source == "playwright"
    assert engine.launch_args() == {}  # Playwright finds its own build


def test_headless_shell_counts_as_chromium_build(tmp_path: Path, empty_registry: dict[str, str]) -> None:
    registry = Path(empty_registry["PLAYWRIGHT_BROWSERS_PATH"])
    shell = registry / f"chromium_headless_shell-{revision('chromium-headless-shell')}"
    shell.mkdir()
    (shell / "INSTALLATION_COMPLETE").write_text("")
    assert discover("chromium", environ=empty_registry, system_candidates={}).source == "playwright"


def test_missing_engine_has_reason_and_install_hint(empty_registry: dict[str, str]) -> None:
    engine = discover("webkit", environ=empty_registry)
    assert not engine.available
    assert empty_registry["PLAYWRIGHT_BROWSERS_PATH"] in engine.reason
    assert "playwright install --with-deps webkit" in engine.skip_reason
    with_candidates = discover("chromium", environ=empty_registry,
                               system_candidates={"chromium": ["/nonexistent/chromium"]})
    assert "/nonexistent/chromium" in with_candidates.reason
    assert "apt-get install chromium" in with_candidates.hint


def test_configured_executable_wins_and_a_missing_one_is_unavailable(tmp_path: Path) -> None:
    binary = executable(tmp_path / "my-firefox")
    engine = discover("firefox", {"firefox": str(binary)})
    assert (engine.source, engine.executable, engine.channel) == ("configured", str(binary), "moz-firefox")
    missing = discover("firefox", {"firefox": str(tmp_path / "nope")})
    assert not missing.available
    assert str(tmp_path / "nope") in missing.reason


def test_registry_dir_follows_playwright_rules(tmp_path: Path) -> None:
    assert engines.registry_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "ms-playwright"
    assert engines.registry_dir({"PLAYWRIGHT_BROWSERS_PATH": str(tmp_path)}) == tmp_path
    local = engines.registry_dir({"PLAYWRIGHT_BROWSERS_PATH": "0"})
    assert local.name == ".local-browsers"


def test_unknown_engine_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown engine 'safari'; expected one of chromium"):
        discover("safari")


def test_engine_describe_names_the_source(tmp_path: Path, empty_registry: dict[str, str]) -> None:
    binary = executable(tmp_path / "ff")
    engine = discover("firefox", environ=empty_registry, system_candidates={"firefox": [str(binary)]})
    assert engine.describe() == f"firefox: system {binary} over WebDriver BiDi (moz-firefox)"
    assert os.fspath(binary) in json.dumps(engine.to_dict())
