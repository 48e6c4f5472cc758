"""Toxic validation, toxicity draws, chains, slicer cuts, upstreams and profiles: pure logic."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from pytest_roo.faults.local import build_chains, roll, slice_offsets
from pytest_roo.faults.profiles import PROFILES, get_profile
from pytest_roo.faults.proxy import FaultWindow, parse_upstream
from pytest_roo.faults.toxics import TOXIC_TYPES, ToxicError, make_toxic


@pytest.mark.parametrize(
    ("type_", "attrs", "expected"),
    [
        ("latency", {"latency": 100, "jitter": 10}, {"latency": 100, "jitter": 10}),
        ("latency", {}, {"latency": 0, "jitter": 0}),
        ("bandwidth", {"rate": 64}, {"rate": 64}),
        ("slow_close", {"delay": 500}, {"delay": 500}),
        ("timeout", {"timeout": 0}, {"timeout": 0}),
        ("reset_peer", {"timeout": 250.0}, {"timeout": 250}),
        ("slicer", {"average_size": 64, "size_variation": 8, "delay": 10},
         {"average_size": 64, "size_variation": 8, "delay": 10}),
        ("limit_data", {"bytes": 1024}, {"bytes": 1024}),
    ],
)
def test_every_toxic_type_with_its_attributes(type_: str, attrs: dict[str, Any],
                                              expected: dict[str, int]) -> None:
    toxic = make_toxic(type_, **attrs)
    assert dict(toxic.attributes) == expected
    assert toxic.name == f"{type_}_downstream"
    assert toxic.stream == "downstream" and toxic.toxicity == 1.0


def test_the_types_are_toxiproxys() -> None:
    assert set(TOXIC_TYPES) == {"latency", "bandwidth", "slow_close", "timeout", "reset_peer",
                                "slicer", "limit_data"}


REJECTED = [
    (("latncy",), {}, ["'latncy'", "latency, bandwidth, slow_close"]),
    (("latency",), {"delay": 5}, ["unknown attribute 'delay'", "latency (ms), jitter (ms)"]),
    (("latency",), {"latency": -1}, ["latency=-1", "whole number of ms >= 0"]),
    (("latency",), {"latency": "100ms"}, ["latency='100ms'", "whole number of ms"]),
    (("latency",), {"latency": 1.5}, ["latency=1.5", "whole number"]),
    (("latency",), {"latency": True}, ["latency=True"]),
    (("latency",), {"latency": float("nan")}, ["latency=nan"]),
    (("latency",), {"latency": 10, "jitter": 20}, ["jitter=20", "jitter <= latency"]),
    (("bandwidth",), {"rate": -5}, ["rate=-5", "KB/s"]),
    (("latency",), {"stream": "up"}, ["stream='up'", "upstream", "downstream"]),
    (("latency",), {"toxicity": 1.5}, ["toxicity=1.5", "between 0 and 1"]),
    (("latency",), {"toxicity": "50%"}, ["toxicity='50%'", "between 0 and 1"]),
    (("latency",), {"name": "has space"}, ["'has space'", "letters, digits"]),
    (("latency",), {"name": ""}, ["''", "letters, digits"]),
    (("slicer",), {"average_size": 0}, ["average_size=0", ">= 1"]),
    (("slicer",), {"average_size": 10, "size_variation": 10}, ["size_variation=10", "smaller"]),
]


@pytest.mark.parametrize(("args", "kwargs", "pieces"), REJECTED)
def test_bad_toxics_name_the_value_and_the_accepted_forms(
    args: tuple[str], kwargs: dict[str, Any], pieces: list[str]
) -> None:
    with pytest.raises(ToxicError) as info:
        make_toxic(*args, **kwargs)
    for piece in pieces:
        assert piece in str(info.value)


def test_replace_validates_again_and_keeps_the_rest() -> None:
    toxic = make_toxic("latency", latency=100, jitter=10, toxicity=0.5, name="slow")
    changed = toxic.replace(latency=200)
    assert dict(changed.attributes) == {"latency": 200, "jitter": 10}
    assert (changed.name, changed.toxicity) == ("slow", 0.5)
    with pytest.raises(ToxicError, match="jitter=10 is larger than latency=5"):
        toxic.replace(latency=5)


def test_toxiproxy_json_form() -> None:
    toxic = make_toxic("bandwidth", rate=32, stream="upstream", toxicity=0.25)
    assert toxic.to_json() == {"name": "bandwidth_upstream", "type": "bandwidth",
                               "stream": "upstream", "toxicity": 0.25, "attributes": {"rate": 32}}


# --- toxicity: the probability per connection ---------------------------------------------------


def test_toxicity_zero_never_and_one_always() -> None:
    rng = random.Random(1)
    assert not any(roll(0.0, rng) for _ in range(10_000))
    assert all(roll(1.0, rng) for _ in range(10_000))


def test_toxicity_is_the_share_of_connections() -> None:
    rng = random.Random(7)
    hits = sum(roll(0.3, rng) for _ in range(20_000))
    assert 0.28 < hits / 20_000 < 0.32


def test_chains_keep_order_and_split_streams_by_the_connections_draws() -> None:
    a = make_toxic("latency", latency=5, name="a")
    b = make_toxic("bandwidth", rate=10, stream="upstream", name="b")
    c = make_toxic("slicer", average_size=8, name="c")
    toxics = {t.name: t for t in (a, b, c)}
    chains = build_chains(toxics, {"a": True, "b": True, "c": True})
    assert [t.name for t in chains["downstream"]] == ["a", "c"]
    assert [t.name for t in chains["upstream"]] == ["b"]
    chains = build_chains(toxics, {"a": False, "b": True, "c": True})
    assert [t.name for t in chains["downstream"]] == ["c"]


# --- slicer --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "average", "variation"), [(1000, 64, 8), (1, 64, 0), (4096, 1, 0),
                                                              (5000, 100, 99)])
def test_slicer_cuts_cover_the_data_in_pieces_near_the_average(size: int, average: int,
                                                               variation: int) -> None:
    cuts = slice_offsets(size, average, variation, random.Random(3))
    assert cuts[0] == 0 and cuts[-1] == size
    pieces = [b - a for a, b in itertools.pairwise(cuts)]
    assert all(p > 0 for p in pieces)
    assert max(pieces) <= average + variation


# --- upstreams -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "host", "port"),
    [
        ("127.0.0.1:5432", "127.0.0.1", 5432),
        ("[::1]:6379", "::1", 6379),
        ("http://127.0.0.1:8080/api", "127.0.0.1", 8080),
        ("ws://127.0.0.1/ws", "127.0.0.1", 80),
        ("postgresql://u:pw@127.0.0.1/db", "127.0.0.1", 5432),
        ("redis://127.0.0.1/0", "127.0.0.1", 6379),
    ],
)
def test_upstreams(value: str, host: str, port: int) -> None:
    upstream = parse_upstream(value)
    assert (upstream.host, upstream.port) == (host, port)


@pytest.mark.parametrize("value", ["", "127.0.0.1", "127.0.0.1:99999", "host:port",
                                   "foo://127.0.0.1/x", "http://:80/", "http://127.0.0.1:x/"])
def test_bad_upstreams_name_the_accepted_forms(value: str) -> None:
    with pytest.raises(ValueError, match="invalid upstream") as info:
        parse_upstream(value)
    assert "host:port" in str(info.value) or "port must be" in str(info.value)


def test_bad_upstream_url_does_not_show_its_password() -> None:
    with pytest.raises(ValueError) as info:
        parse_upstream("foo://u:hunter2@127.0.0.1/x")
    assert "hunter2" not in str(info.value)


# --- profiles and fault windows ------------------------------------------------------------------


def test_profiles_split_the_round_trip_and_cap_each_direction() -> None:
    toxics = get_profile("3g").toxics()
    latency = {stream: attrs for type_, stream, _, attrs in toxics if type_ == "latency"}
    assert latency["upstream"]["latency"] + latency["downstream"]["latency"] == 300
    rates = {stream: attrs["rate"] for type_, stream, _, attrs in toxics if type_ == "bandwidth"}
    assert rates == {"upstream": 31, "downstream": 94}
    resets = [(share, attrs) for type_, _, share, attrs in get_profile("lossy-wifi").toxics()
              if type_ == "reset_peer"]
    assert resets == [(0.05, {"timeout": 3000})]


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_makes_valid_toxics(name: str) -> None:
    for type_, stream, toxicity, attrs in PROFILES[name].toxics():
        attributes: dict[str, Any] = dict(attrs)  # numbers only: never make_toxic's name=
        make_toxic(type_, stream=stream, toxicity=toxicity, **attributes)


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown network profile '5g'.*3g, 4g"):
        get_profile("5g")


def test_fault_window_phases() -> None:
    window = FaultWindow("latency", started=10.0, ended=12.0)
    assert [window.phase(t) for t in (9.9, 10.0, 11.9, 12.0)] == ["before", "during", "during",
                                                                   "after"]
    assert not window.active
