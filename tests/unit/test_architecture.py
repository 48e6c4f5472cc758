"""The layering rules of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_roo"
PYTEST_ALLOWED = {"hookspecs.py"}
#: packages whose modules are pytest wiring
PYTEST_PACKAGES = {"fixtures", "plugin"}


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the module ``module``) imports, as absolute dotted names:
    ``from pytest_roo import slo`` counts as ``pytest_roo.slo`` too, relative imports are
    resolved, and imports under ``if TYPE_CHECKING:`` count like any other."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            names.add(name)
            names.update(f"{name}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def imported_modules(path: Path) -> set[str]:
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    is_package = path.name == "__init__.py"
    if is_package:
        module = module.rsplit(".", 1)[0]
    return imports_of(path.read_text(), module, is_package)


def test_every_form_of_import_is_seen() -> None:
    """The checker itself: the forms of import that would otherwise slip past the rules."""
    source = ("from pytest_roo import report\nfrom ..report import terminal\n"
              "from . import judge\nimport pytest_roo.plugin\nfrom .spec import Spec\n")
    found = imports_of(source, "pytest_roo.slo.check")
    assert {"pytest_roo.report", "pytest_roo.report.terminal", "pytest_roo.slo.judge",
            "pytest_roo.plugin", "pytest_roo.slo.spec"} <= found
    assert "pytest_roo.slo.judge" in imports_of("from . import judge\n", "pytest_roo.slo", True)


def library_modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in PYTEST_PACKAGES
        and path.relative_to(PACKAGE).as_posix() not in PYTEST_ALLOWED
    ]


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_library_modules_do_not_import_pytest(path: Path) -> None:
    bad = {name for name in imported_modules(path) if name == "pytest" or name.startswith("_pytest")}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}; only plugin/, fixtures/ and hookspecs.py may"


def test_every_module_uses_postponed_annotations() -> None:
    missing = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.read_text().strip() and "from __future__ import annotations" not in path.read_text()
    ]
    assert not missing, missing


#: package -> packages it must never import (data flows results -> slo -> report, one way)
FORBIDDEN = {
    "results": ("pytest_roo.slo", "pytest_roo.report", "pytest_roo.load", "pytest_roo.plugin",
                "pytest_roo.fixtures", "pytest_roo.browser", "pytest_roo.services"),
    "slo": ("pytest_roo.report", "pytest_roo.plugin", "pytest_roo.fixtures"),
    "report": ("pytest_roo.slo", "pytest_roo.plugin", "pytest_roo.fixtures"),
    "load": ("pytest_roo.slo", "pytest_roo.report", "pytest_roo.plugin", "pytest_roo.fixtures"),
    "services": ("pytest_roo.slo", "pytest_roo.report", "pytest_roo.plugin", "pytest_roo.fixtures"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_read_one_way(package: str) -> None:
    bad = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not bad, bad


def test_load_drivers_do_not_import_each_other() -> None:
    """Shared machinery lives in its own modules, not inside one driver."""
    drivers = {"ws", "http", "db"}
    bad = [
        f"{path.name} imports {name}"
        for path in sorted((PACKAGE / "load").glob("*.py"))
        for name in imported_modules(path)
        if path.stem in drivers and name.rsplit(".", 1)[-1] in drivers - {path.stem}
        and name.startswith("pytest_roo.load.")
    ]
    assert not bad, bad
