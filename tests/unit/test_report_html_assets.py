"""The vendored uPlot is the npm package's, at the pinned version, with its licence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_roo.report import assets

ROOT = Path(__file__).resolve().parents[2]
ASSETS = Path(assets.__file__).parent
PACKAGE = ROOT / "node_modules" / "uplot"
INSTALL = "install it with `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install` at the repository root"


def test_package_json_pins_the_vendored_version() -> None:
    data = json.loads((ROOT / "package.json").read_text())
    assert data["devDependencies"]["uplot"] == assets.UPLOT_VERSION
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/uplot"]["version"] == assets.UPLOT_VERSION


def test_vendored_files_carry_the_version_and_licence() -> None:
    script = (ASSETS / "uPlot.iife.min.js").read_text()
    assert script.startswith(f"/*! https://github.com/leeoniya/uPlot (v{assets.UPLOT_VERSION}) */")
    assert "MIT License" in (ASSETS / "uPlot.LICENSE").read_text()
    assert "</script" not in script  # inlined into a <script> element as is


@pytest.mark.parametrize("name", sorted(assets.UPLOT_FILES))
def test_vendored_file_is_byte_identical_to_the_npm_package(name: str) -> None:
    if not (PACKAGE / "package.json").exists():
        pytest.skip(f"node_modules/uplot is missing: {INSTALL}")
    installed = json.loads((PACKAGE / "package.json").read_text())["version"]
    assert installed == assets.UPLOT_VERSION, f"node_modules has uplot {installed}: {INSTALL}"
    original = (PACKAGE / assets.UPLOT_FILES[name]).read_bytes()
    assert (ASSETS / name).read_bytes() == original
