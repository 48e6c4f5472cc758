"""The tests' own scheduling (tests/conftest.py): a void measurement is measured again, alone.

Each case runs tests/conftest.py in a pytest of its own (a subprocess, with none of this run's
xdist or lock settings), on tests that fail the way a busy machine makes them fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFTEST = Path(__file__).parents[1] / "conftest.py"

#: counts each attempt in a file beside the test, and fails as told on the first one
TESTS = '''
import json, pathlib, time
import pytest

HERE = pathlib.Path(__file__).parent
setups = []

def attempt(name):
    path = HERE / f"{name}.attempts"
    n = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(n))
    return n

@pytest.fixture
def fresh():
    setups.append(1)
    (HERE / "fresh.setups").write_text(str(len(setups)))
    yield

def test_late_then_kept(fresh):
    if attempt("late_then_kept") == 1:
        raise AssertionError("errors == 0 FAIL (schedule not kept: 473 of 3,000 scheduled "
                             "operations started more than 10 ms late)")

def test_always_inconclusive():
    attempt("always_inconclusive")
    assert "PASS" == "INCONCLUSIVE"

def test_inner_run_late_then_kept():
    if attempt("inner_run_late_then_kept") == 1:
        print("test_echo_meets  ws.echo  p95 < 50ms  FAIL (schedule not kept: 17 of 50 ...)")
        assert {"passed": 0, "failed": 2} == {"passed": 1, "failed": 1}

def test_wrong_answer():
    attempt("wrong_answer")
    raise AssertionError("errors == 0 FAIL: 3 mismatch (a wrong password accepted)")
'''


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory with tests/conftest.py, outside this run's xdist and locks."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "ROO_TESTS_LOCK_DIR",
                 "ROO_TESTS_MEASURE_AGAIN", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(CONFTEST.read_text())
    return pytester


def attempts(pytester: pytest.Pytester, name: str) -> int:
    path = pytester.path / f"{name}.attempts"
    return int(path.read_text()) if path.exists() else 0


def test_a_void_failure_is_measured_again_and_reported(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_void=TESTS)
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "--timeout=60",
                                        "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=2)
    assert attempts(inner, "late_then_kept") == 2
    assert attempts(inner, "inner_run_late_then_kept") == 2  # the reason was in its output
    assert (inner.path / "fresh.setups").read_text() == "2"  # its fixtures set up afresh
    assert attempts(inner, "always_inconclusive") == 2
    assert attempts(inner, "wrong_answer") == 1  # a wrong answer is never measured again
    result.stdout.fnmatch_lines([
        "*= measured again: 3 (the first attempt's measurement was void) =*",
        "PASSED test_void.py::test_late_then_kept: first attempt: *schedule not kept: 473 of*",
        "FAILED test_void.py::test_always_inconclusive: first attempt: *INCONCLUSIVE*",
        "PASSED test_void.py::test_inner_run_late_then_kept: first attempt: test_echo_meets *",
    ])
    junit = (inner.path / "junit.xml").read_text()
    assert 'name="measured_again"' in junit
    assert "test_wrong_answer" in junit and junit.count('name="measured_again"') == 3


def test_turned_off_every_failure_stands(inner: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROO_TESTS_MEASURE_AGAIN", "0")
    inner.makepyfile(test_void=TESTS)
    result = inner.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=0, failed=4)
    assert attempts(inner, "late_then_kept") == 1
    assert "measured again" not in result.stdout.str()


def test_under_xdist_the_second_attempt_runs_alone(inner: pytest.Pytester) -> None:
    """A heavy test's void first attempt; its second runs while no light test does (each light
    test records when it ran), and the summary reaches the controlling process."""
    inner.makepyfile(test_alone='''
import json, pathlib, time
import pytest

HERE = pathlib.Path(__file__).parent

def spans(name, seconds):
    start = time.time()
    time.sleep(seconds)
    with open(HERE / "spans.jsonl", "a") as out:
        out.write(json.dumps([name, start, time.time()]) + "\\n")

@pytest.mark.heavy
def test_heavy():
    path = HERE / "heavy.attempts"
    first = not path.exists()
    path.write_text("1")
    if first:
        time.sleep(0.3)
        raise AssertionError("load generator saturated: client CPU 97% of one core")
    spans("heavy", 1.5)

@pytest.mark.parametrize("k", range(12))
def test_light(k):
    spans(f"light{k}", 0.25)
''')
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                        "--dist", "worksteal")
    result.assert_outcomes(passed=13)
    result.stdout.fnmatch_lines(["PASSED test_alone.py::test_heavy: first attempt: "
                                 "*load generator saturated*"])
    lines = (inner.path / "spans.jsonl").read_text().splitlines()
    runs = {name: (start, end) for name, start, end in map(json.loads, lines)}
    heavy_start, heavy_end = runs.pop("heavy")
    assert len(runs) == 12
    beside = [name for name, (start, end) in runs.items()
              if start < heavy_end and end > heavy_start]
    assert not beside, f"light tests ran beside the second attempt: {beside}"
