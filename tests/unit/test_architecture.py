"""The layering rules of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_roo"
PYTEST_ALLOWED = {"plugin.py", "options.py", "hookspecs.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def library_modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "fixtures"
        and path.relative_to(PACKAGE).as_posix() not in PYTEST_ALLOWED
    ]


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_library_modules_do_not_import_pytest(path: Path) -> None:
    bad = {name for name in imported_modules(path) if name == "pytest" or name.startswith("_pytest")}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}; only plugin.py, options.py, hookspecs.py and fixtures/ may"


def test_every_module_uses_postponed_annotations() -> None:
    missing = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.read_text().strip() and "from __future__ import annotations" not in path.read_text()
    ]
    assert not missing, missing
