"""The GitHub Actions workflow users copy, and the scripts behind the README's commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "ci" / "workflows" / "roo.yml"


def test_workflow_is_valid_against_the_github_schema() -> None:
    # check-jsonschema ships GitHub's workflow schema, so this works offline.
    out = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(WORKFLOW)],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1))
    out = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(broken)],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode != 0


def _zizmor(path: Path) -> list[str]:
    """zizmor's findings (their audit names) on a workflow, audited offline with the strictest
    persona; the binary comes with the pinned zizmor of the dev extra."""
    binary = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    if binary is None:
        pytest.skip("zizmor is not installed: pip install 'zizmor==1.32.0' (in the dev extra)")
    out = subprocess.run(
        [binary, "--offline", "--persona=auditor", "--format=json", "--no-progress", str(path)],
        capture_output=True, text=True, check=False,
    )
    assert out.stdout.strip(), out.stderr
    return [finding["ident"] for finding in json.loads(out.stdout)]


def test_workflow_passes_the_zizmor_audit() -> None:
    # pinned actions, no persisted credentials, read-only permissions, no template injection
    assert _zizmor(WORKFLOW) == []


def test_zizmor_audit_catches_unpinned_actions_and_persisted_credentials(tmp_path: Path) -> None:
    text = WORKFLOW.read_text()
    pinned = "actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020 # v4.4.0"
    assert pinned in text
    text = text.replace(pinned, "actions/setup-node@v4")
    text = text.replace("        with:\n          persist-credentials: false\n", "")
    broken = tmp_path / "roo.yml"
    broken.write_text(text)
    found = set(_zizmor(broken))
    assert {"unpinned-uses", "artipacked"} <= found, found


def test_workflow_keeps_and_compares_the_baseline_of_main() -> None:
    text = WORKFLOW.read_text()
    assert "--roo-baseline-save=main" in text and "--roo-baseline-compare=main" in text
    assert "actions/cache/save@" in text and "actions/cache/restore@" in text
    assert "path: .roo/baselines" in text


def test_workflow_covers_the_promised_matrix() -> None:
    text = WORKFLOW.read_text()
    assert 'python: ["3.10", "3.11", "3.12", "3.13"]' in text
    assert "services: [docker, local]" in text
    assert "cache: pip" in text and "cache: npm" in text
    assert "actions/upload-artifact" in text
    assert "chromium firefox webkit" in text


@pytest.mark.parametrize("script", ["ci/bootstrap.sh", "ci/test.sh", "ci/suites.sh", ".ci/run"])
def test_scripts_are_executable_and_parse(script: str) -> None:
    path = ROOT / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    shell = "sh" if script == ".ci/run" else "bash"
    subprocess.run([shell, "-n", str(path)], check=True)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```", 2)[1]
    lines = first_block.splitlines()[1:]
    commands = [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
    assert commands == ["ci/suites.sh", "ci/test.sh"]
    assert "exec ./ci/test.sh" in (ROOT / ".ci" / "run").read_text()
