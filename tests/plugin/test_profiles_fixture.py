"""``roo_sizes``: a suite's sizes for ``--roo-profile``, a user's own profile, an unknown one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")

SUITE = """
import dataclasses

from pytest_roo.profiles import SuiteProfiles


@dataclasses.dataclass(frozen=True)
class EchoSizes:
    clients: int
    duration: float


ECHO = SuiteProfiles("echo", floors={"clients": 50},
                     smoke=EchoSizes(clients=50, duration=3),
                     standard=EchoSizes(clients=200, duration=10))
"""

TEST = """
from echo_sizes import ECHO


def test_sizes(roo_sizes):
    sizes = roo_sizes(ECHO)
    print(f"SIZES={roo_sizes.name}:{sizes.clients}:{sizes.duration}")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(echo_sizes=SUITE, test_echo=TEST)
    pytester.syspathinsert()
    return pytester


@pytest.mark.parametrize(("args", "expected"), [
    ((), "SIZES=standard:200:10"),
    (("--roo-profile", "smoke"), "SIZES=smoke:50:3"),
])
def test_roo_sizes_gives_the_suites_sizes_of_the_profile(suite: pytest.Pytester,
                                                         args: tuple[str, ...],
                                                         expected: str) -> None:
    result = suite.runpytest("-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{expected}"])


def test_a_user_registers_a_profile_in_conftest(suite: pytest.Pytester) -> None:
    suite.makeconftest("""
        from echo_sizes import ECHO

        ECHO.register("nightly", parent="standard", duration=600)
    """)
    result = suite.runpytest("-s", "--roo-profile", "nightly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SIZES=nightly:200:600"])


def test_an_unknown_profile_fails_naming_suite_profile_and_known_ones(
        suite: pytest.Pytester) -> None:
    result = suite.runpytest("--roo-profile", "nightly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ProfileError: suite echo has no profile 'nightly': it knows smoke, standard"])


def test_a_user_profile_below_a_floor_is_a_collection_error(suite: pytest.Pytester) -> None:
    suite.makeconftest("""
        from echo_sizes import ECHO

        ECHO.register("tiny", parent="smoke", clients=5)
    """)
    result = suite.runpytest("--roo-profile", "tiny")
    assert result.ret != 0
    result.stderr.fnmatch_lines(
        ["*suite echo, profile tiny: clients=5 is below the criterion's own figure 50*"])
