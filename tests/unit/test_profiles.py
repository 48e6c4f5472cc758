"""Suite profiles: declaring, deriving, overriding, floors and the errors of each misuse."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from pytest_roo.profiles import ProfileError, SelectedProfile, SuiteProfiles


@dataclasses.dataclass(frozen=True)
class EchoSizes:
    clients: int
    rate: float
    duration: float


@dataclasses.dataclass(frozen=True)
class OtherSizes:
    clients: int


def echo_profiles() -> SuiteProfiles[EchoSizes]:
    return SuiteProfiles(
        "echo",
        floors={"clients": 50},
        smoke=EchoSizes(clients=50, rate=100, duration=3),
        standard=EchoSizes(clients=200, rate=400, duration=10),
    )


def test_a_suite_declares_its_sizes_per_profile() -> None:
    echo = echo_profiles()
    assert echo.names == ("smoke", "standard")
    assert echo.get("smoke") == EchoSizes(clients=50, rate=100, duration=3)
    assert "standard" in echo and "full" not in echo
    assert echo.floors == {"clients": 50}


def test_the_selected_profile_picks_the_suites_sizes() -> None:
    assert SelectedProfile("standard")(echo_profiles()).clients == 200


def test_a_user_registers_a_new_profile_from_a_parent() -> None:
    echo = echo_profiles()
    nightly = echo.register("nightly", parent="standard", duration=600)
    assert nightly == EchoSizes(clients=200, rate=400, duration=600)
    assert echo.get("nightly") is nightly
    assert echo.names == ("smoke", "standard", "nightly")
    assert echo.get("standard").duration == 10  # the parent is unchanged


def test_a_user_overrides_a_profile_by_name() -> None:
    echo = echo_profiles()
    echo.register("smoke", EchoSizes(clients=60, rate=120, duration=2))
    assert echo.get("smoke").clients == 60
    assert echo.names == ("smoke", "standard")


def test_an_unknown_profile_names_the_suite_the_profile_and_the_known_ones() -> None:
    with pytest.raises(ProfileError) as info:
        SelectedProfile("nightly")(echo_profiles())
    assert str(info.value) == "suite echo has no profile 'nightly': it knows smoke, standard"
    assert isinstance(info.value, ValueError)


def test_a_profile_below_a_floor_is_refused_at_declaration() -> None:
    with pytest.raises(ProfileError, match=r"suite echo, profile smoke: clients=20 is below the "
                                           r"criterion's own figure 50"):
        SuiteProfiles("echo", floors={"clients": 50}, smoke=EchoSizes(clients=20, rate=1,
                                                                       duration=1))


def test_a_registered_profile_below_a_floor_is_refused_and_not_kept() -> None:
    echo = echo_profiles()
    with pytest.raises(ProfileError, match=r"profile tiny: clients=10 is below .* figure 50"):
        echo.register("tiny", parent="smoke", clients=10)
    with pytest.raises(ProfileError, match=r"profile smoke: clients=49"):
        echo.register("smoke", EchoSizes(clients=49, rate=1, duration=1))
    assert "tiny" not in echo
    assert echo.get("smoke").clients == 50


def test_a_floor_on_a_size_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ProfileError, match=r"floor on users, which is not a size of EchoSizes"):
        SuiteProfiles("echo", floors={"users": 100}, smoke=EchoSizes(clients=1, rate=1,
                                                                     duration=1))


def test_a_change_to_a_size_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ProfileError, match=r"no size named clientz; the sizes are clients, "
                                           r"duration, rate"):
        echo_profiles().register("nightly", parent="standard", clientz=10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.register("nightly"), r"give the sizes, or parent= one of smoke, standard"),
        (lambda p: p.register("nightly", parent="full"), r"suite echo has no profile 'full'"),
        (lambda p: p.register("x", EchoSizes(1, 1, 1), parent="smoke"), r"not both"),
        (lambda p: p.register("", EchoSizes(60, 1, 1)), r"profile name '' cannot be given to "
                                                        r"--roo-profile: expected lowercase"),
        (lambda p: p.register("Nightly", EchoSizes(60, 1, 1)), r"profile name 'Nightly'"),
        (lambda p: p.register("two words", EchoSizes(60, 1, 1)), r"profile name 'two words'"),
        (lambda p: p.register(7, EchoSizes(60, 1, 1)), r"profile name 7 cannot"),
        (lambda p: p.register("other", OtherSizes(60)),
         r"profile other: expected EchoSizes, like the suite's other profiles, got OtherSizes"),
        (lambda p: p.register("plain", {"clients": 60}),
         r"profile plain: expected an instance of a frozen dataclass of sizes, got \{"),
        (lambda p: p.register("cls", EchoSizes), r"expected an instance of a frozen dataclass"),
    ],
    ids=["no-sizes", "unknown-parent", "sizes-and-parent", "empty-name", "capitals", "space",
         "not-a-string", "other-class",
         "not-a-dataclass", "a-class"],
)
def test_misuse_of_register_is_a_clear_error(call: Callable[..., object], message: str) -> None:
    echo = echo_profiles()
    with pytest.raises(ProfileError, match=message):
        call(echo)
    assert echo.names == ("smoke", "standard")


def test_a_suite_needs_a_name_and_a_profile() -> None:
    with pytest.raises(ProfileError, match="the suite's name"):
        SuiteProfiles(" ", smoke=EchoSizes(50, 1, 1))
    with pytest.raises(ProfileError, match=r"suite echo: declare at least one profile"):
        SuiteProfiles[EchoSizes]("echo")


def test_the_ready_suites_keep_their_floors_and_profiles() -> None:
    from suites.api.sizes import API
    from suites.artillery.sizes import ARTILLERY
    from suites.db.sizes import DB
    from suites.network.sizes import NETWORK
    from suites.realtime.sizes import REALTIME
    from suites.reconnect.sizes import RECONNECT
    from suites.relay.sizes import RELAY
    from suites.workflow.sizes import WORKFLOW
    from suites.ws.sizes import WS

    for suite in (API, ARTILLERY, DB, NETWORK, REALTIME, RECONNECT, RELAY, WORKFLOW, WS):
        assert suite.names == ("smoke", "standard", "full"), suite
    assert DB.floors == {"connections": 100, "app_clients": 200}
    assert WS.floors == {"clients": 50}
    assert API.floors == {"users": 100}
    assert RELAY.floors == {"devices": 100}
