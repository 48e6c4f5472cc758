"""Spreading a load call over worker processes: the call captured as data, each worker's share
of clients and rate, what may travel to a worker (module-level functions) and what is refused
with an error naming the function and the rule. Pure logic: no process is started."""

from __future__ import annotations

import functools
import pickle
from typing import Any

import pytest

from pytest_roo.load.host_specs import parse_load_hosts
from pytest_roo.load.options import Load
from pytest_roo.load.split import (
    CallSpec,
    DriverSpec,
    capture,
    check_processes,
    check_sendable,
    resolve_processes,
    shares,
    split,
    total_clients,
)
from pytest_roo.load.workload import Stage
from pytest_roo.load.ws import WsSwarm


async def module_scenario(session: Any, base: str = "") -> None:
    """A scenario defined at module level: workers import it by name."""


def spec_of(method: str, *args: Any, **kwargs: Any) -> CallSpec:
    return CallSpec(DriverSpec.of(WsSwarm(timeout=3.0)), method, args, kwargs)


def test_a_fixture_call_is_captured_as_data_and_rebuilt() -> None:
    engine = WsSwarm(timeout=2.5, max_generator_cpu=0.8)
    url = "ws://127.0.0.1:1/ws/echo"

    def call(e: Any, kw: dict[str, Any]) -> Any:  # what WsSwarmFixture.echo hands in
        return e.echo(url, correct=False, **kw)

    spec = capture(call, engine, {"clients": 4, "rate": "100/s"})
    assert (spec.method, spec.args) == ("echo", (url,))
    assert spec.kwargs == {"correct": False, "clients": 4, "rate": "100/s"}
    again = pickle.loads(pickle.dumps(spec)).driver.build()
    assert isinstance(again, WsSwarm)
    assert (again.timeout, again.max_generator_cpu) == (2.5, 0.8)


def test_options_handed_on_to_a_base_constructor_reach_the_workers() -> None:
    """``WsSwarm(driver=, **options)``: the base's options travel as well as the driver."""
    engine = WsSwarm(driver="aiohttp", timeout=1.5, max_late_share=0.2)
    spec = capture(lambda e, kw: e.echo("ws://127.0.0.1:1/ws/echo", **kw), engine, {})
    again = pickle.loads(pickle.dumps(spec)).driver.build()
    assert (again.driver, again.timeout, again.max_late_share) == ("aiohttp", 1.5, 0.2)


class Quiet(WsSwarm):
    """A driver whose own option is used at construction and kept under another name."""

    def __init__(self, *, greeting: str = "hello", **options: Any) -> None:
        super().__init__(**options)
        self.first_frame = greeting.upper()


def test_an_option_kept_under_another_name_reaches_the_workers() -> None:
    """Rebuilt from what the constructor was given, not silently from its default."""
    engine = Quiet(greeting="bonjour", timeout=1.25)
    again = pickle.loads(pickle.dumps(DriverSpec.of(engine))).build()
    assert (again.first_frame, again.timeout) == ("BONJOUR", 1.25)
    assert Quiet().first_frame == "HELLO"


def test_shares_are_as_equal_as_can_be() -> None:
    assert shares(10, 3) == [4, 3, 3]
    assert shares(2, 2) == [1, 1]
    assert sum(shares(1001, 7)) == 1001


def test_split_shares_clients_and_rate_in_proportion() -> None:
    parts = split(spec_of("echo", "ws://x", clients=3, rate="300/s", duration="5s"), 2)
    assert [p.kwargs["clients"] for p in parts] == [2, 1]
    assert [p.kwargs["rate"] for p in parts] == pytest.approx([200.0, 100.0])
    assert all(p.kwargs["duration"] == "5s" and p.args == ("ws://x",) for p in parts)


def test_split_scales_every_stage() -> None:
    stages = [("2s", "100/s"), Stage(3.0, 400.0, ramp=True)]
    parts = split(spec_of("echo", "ws://x", clients=4, stages=stages), 2)
    for part in parts:
        assert part.kwargs["stages"] == [Stage(2.0, 50.0), Stage(3.0, 200.0, True)]


def test_split_closed_model_keeps_no_rate_and_uses_method_defaults() -> None:
    closed = split(spec_of("echo", "ws://x"), 2)  # clients default 10
    assert [p.kwargs["clients"] for p in closed] == [5, 5]
    assert all("rate" not in p.kwargs for p in closed)
    churn = split(spec_of("churn", "ws://x"), 4)  # churn's default: 100 clients
    assert [p.kwargs["clients"] for p in churn] == [25] * 4
    fanout = split(spec_of("broadcast", "ws://x", clients=4), 2)  # default 10 messages/s
    assert [p.kwargs["rate"] for p in fanout] == [5.0, 5.0]


def test_pubsub_shares_subscribers_and_one_channel() -> None:
    parts = split(spec_of("pubsub", None, subscribers=10, rate="100/s"), 2)
    assert [p.kwargs["subscribers"] for p in parts] == [5, 5]
    channels = {p.args[0] for p in parts}
    assert len(channels) == 1 and next(iter(channels)).startswith("roo:pubsub:")
    named = split(spec_of("pubsub", "mine", subscribers=4), 2)
    assert {p.args[0] for p in named} == {"mine"}


def test_socketio_broadcast_gets_one_room() -> None:
    parts = split(spec_of("broadcast", "http://x", room=None, clients=4), 2)
    rooms = {p.kwargs["room"] for p in parts}
    assert len(rooms) == 1 and next(iter(rooms)).startswith("roo-")


def test_more_processes_than_clients_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"processes=4 needs at least 4 clients .* has 2"):
        resolve_processes(4, 2)
    assert resolve_processes("auto", 3, cores=8) == 3
    assert resolve_processes("auto", 100, cores=2) == 2
    assert total_clients(spec_of("echo", "u", clients=7)) == 7


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", "all", True, None])
def test_processes_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"invalid processes=.*whole number >= 1, or 'auto'"):
        check_processes(bad)


def test_processes_is_a_load_option() -> None:
    assert Load(processes="auto").processes == "auto"
    assert Load(processes=3).given() == {"processes": 3}
    with pytest.raises(ValueError, match="invalid processes=0"):
        Load(processes=0)


def test_a_lambda_is_refused_naming_it_and_the_rule() -> None:
    spec = spec_of("run", lambda session: None, clients=2)
    with pytest.raises(ValueError) as info:
        check_sendable(spec)
    text = str(info.value)
    assert "argument 0" in text and "<lambda>" in text and "it is a lambda" in text
    assert "top level of an importable module" in text


def test_a_local_function_is_refused_even_inside_a_mapping() -> None:
    async def inner(session: Any) -> None:
        pass

    spec = spec_of("queries", {"by_id": ("select 1", inner)})
    with pytest.raises(ValueError, match=r"argument 0\['by_id'\]\[1\] is .*inner.*defined "
                                         r"inside another function"):
        check_sendable(spec)


def test_module_level_functions_and_their_partials_travel() -> None:
    spec = spec_of("run", functools.partial(module_scenario, base="http://127.0.0.1:1"),
                   clients=2, setup=module_scenario)
    restored = pickle.loads(check_sendable(spec))
    assert restored.args[0].func is module_scenario
    assert restored.kwargs["setup"] is module_scenario


def test_unpicklable_data_is_refused_naming_the_rule() -> None:
    import threading

    with pytest.raises(ValueError, match="cannot be pickled"):
        check_sendable(spec_of("echo", "ws://x", headers={"lock": threading.Lock()}))


def test_load_hosts_expand_and_check() -> None:
    assert parse_load_hosts("2*popen, ssh=u@h//python=python3") == (
        "popen", "popen", "ssh=u@h//python=python3")
    assert parse_load_hosts("ssh=h//ssh_config=/tmp/c//chdir=/tmp//env:A=1") == (
        "ssh=h//ssh_config=/tmp/c//chdir=/tmp//env:A=1",)
    # the value goes to execnet as given (only messages are masked)
    assert parse_load_hosts("popen//env:API_TOKEN=abc") == ("popen//env:API_TOKEN=abc",)


@pytest.mark.parametrize(("bad", "words"), [
    ("", "expected comma-separated execnet specs"),
    ("socket=1.2.3.4:8888", "a gateway is popen or ssh="),
    ("ssh=", "a gateway is popen or ssh="),
    ("ssh=-oProxyCommand=x", "one [user@]host"),
    ("ssh=u:secret@h", "no password"),
    ("popen//rsync=/x", "unknown item 'rsync=/x'"),
    ("0*popen", "repeat count"),
])
def test_load_hosts_rejects(bad: str, words: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_load_hosts(bad)
    assert words in str(info.value)
    assert "secret" not in str(info.value).replace("no password", "")
