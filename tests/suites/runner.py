"""Run a ready suite in a subprocess against the embedded (or an external) reference system
and read its JSON report."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SUITE_TIMEOUT = 240.0
#: Plugins of the test environment that no ready suite uses: each costs every suite run a
#: second or two of start-up CPU (hypothesis alone imports for about a second at the end).
UNUSED_PLUGINS = ("playwright", "cacheprovider", "hypothesispytest", "benchmark", "xdist",
                  "anyio")


@dataclasses.dataclass
class SuiteRun:
    returncode: int
    output: str
    report: dict[str, Any]

    @property
    def tests(self) -> dict[str, dict[str, Any]]:
        """Report entries by test name (the part after ``::``)."""
        return {t["nodeid"].split("::")[-1]: t for t in self.report.get("tests", [])}

    def outcome(self, test: str) -> str:
        entry = self.tests[test]
        return str(entry.get("outcome"))

    @property
    def failing(self) -> set[tuple[str, str]]:
        """(test name, criterion) of every verdict that FAILED: conclusively, not merely
        inconclusive (a smoke-sized run may be too small to PASS, never to FAIL wrongly)."""
        return {(name, v["criterion"]) for name, t in self.tests.items()
                for v in t.get("verdicts", [])
                if not v["passed"] and v.get("status", "fail") == "fail"}

    @property
    def failing_results(self) -> set[tuple[str, str, str]]:
        """(test name, result, criterion) of every verdict that FAILED (not inconclusive)."""
        return {(name, v["result"], v["criterion"]) for name, t in self.tests.items()
                for v in t.get("verdicts", []) if v.get("status") == "fail"}

    def assert_fails_exactly(self, fault: str, expected: set[tuple[str, str, str]]) -> None:
        """The run with ``fault`` failed, its FAILED verdicts are exactly ``expected`` (test,
        result, criterion), and its tests failed exactly where those verdicts are."""
        assert self.report, f"no JSON report written\n{self.explain()}"
        assert self.returncode == 1, f"the suite did not fail with {fault}\n{self.explain()}"
        got = self.failing_results
        assert got == expected, (f"with {fault} expected exactly {sorted(expected)} to fail, "
                                 f"got {sorted(got)}\n{self.explain()}")
        failed_tests = {test for test, _, _ in expected}
        for name in self.tests:
            assert self.outcome(name) == ("failed" if name in failed_tests else "passed"), (
                f"{name} with {fault}\n{self.explain()}")

    @property
    def inconclusive(self) -> set[tuple[str, str]]:
        return {(name, v["criterion"]) for name, t in self.tests.items()
                for v in t.get("verdicts", []) if v.get("status") == "inconclusive"}

    @property
    def passing(self) -> set[tuple[str, str]]:
        return {(name, v["criterion"]) for name, t in self.tests.items()
                for v in t.get("verdicts", []) if v["passed"]}

    @property
    def cells(self) -> dict[str, dict[str, Any]]:
        """Browser matrix cells by ``test-name[cell]``."""
        cells = self.report.get("sections", {}).get("matrix", {}).get("cells", [])
        return {c["nodeid"].split("::")[-1]: c for c in cells}

    def select(self, paths: Sequence[str]) -> SuiteRun:
        """The run seen through the tests under ``paths`` (folders, files or node ids, as given
        to pytest): its report keeps only their entries. One run of several suites, each with
        its own fault switched on, is judged suite by suite this way."""
        def under(nodeid: str) -> bool:
            return any(nodeid == path or nodeid.startswith((f"{path}/", f"{path}::", f"{path}["))
                       for path in paths)

        report = dict(self.report)
        report["tests"] = [t for t in self.report.get("tests", []) if under(t["nodeid"])]
        return SuiteRun(self.returncode, self.output, report)

    def verdicts(self, test: str) -> list[dict[str, Any]]:
        return list(self.tests[test].get("verdicts", []))

    def explain(self) -> str:
        return f"exit code {self.returncode}\n{self.output[-6000:]}"


def run_suite(paths: Sequence[str], tmp_path: Path, *, faults: str = "",
              args: Sequence[str] = (), profile: str = "smoke",
              timeout: float = SUITE_TIMEOUT) -> SuiteRun:
    """``pytest <paths> --roo-profile <profile>`` in a subprocess with ``REFAPP_FAULTS=faults``."""
    report = tmp_path / "report.json"
    env = dict(os.environ)
    env["REFAPP_FAULTS"] = faults
    env.pop("ROO_TARGET", None)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [
        sys.executable, "-m", "pytest", *paths, "--roo-profile", profile,
        "--roo-report-json", str(report), "--roo-output", str(tmp_path / "out"),
        *(arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")),
        "-q", "--roo-progress", "off", *args,
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, check=False,
                          start_new_session=True)
    output = proc.stdout.decode(errors="replace")
    data = json.loads(report.read_text()) if report.exists() else {}
    return SuiteRun(proc.returncode, output, data)
