"""The pre-commit hooks run what CI's lint, type and unit steps run, with the same tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def hooks() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def test_the_hooks_are_ruff_mypy_and_the_unit_tier() -> None:
    found = hooks()
    assert set(found) == {"ruff", "mypy", "unit-tests"}
    # the project's own environment: the versions and settings of pyproject.toml
    assert {hook["language"] for hook in found.values()} == {"system"}
    assert found["ruff"]["entry"].startswith("ruff check")
    assert found["mypy"]["entry"] == "mypy" and found["mypy"]["pass_filenames"] is False
    assert "tests/unit" in found["unit-tests"]["entry"].split()


def test_ci_runs_the_same_checks() -> None:
    script = (ROOT / "ci" / "test.sh").read_text()
    assert "ruff check ." in script
    assert "step types && mypy\n" in script  # the files configured in pyproject.toml
    assert "pytest --doctest-modules pytest_roo" in script
    assert "pytest tests " in script


def test_mypy_checks_the_suites_and_the_tests_too() -> None:
    # text, not tomllib: the tests run on Python 3.10 as well
    mypy = (ROOT / "pyproject.toml").read_text().split("[tool.mypy]", 1)[1].split("\n[", 1)[0]
    assert 'files = ["pytest_roo", "suites", "tests"]' in mypy
    assert "strict = true" in mypy
