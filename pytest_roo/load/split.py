"""One load call as data, and its split across worker processes.

A fixture method runs ``call(engine, keywords)``, a closure. To run the same call in other
processes it is captured once against :class:`CallCapture` (which records the method name and
arguments instead of running anything) and turned into a :class:`CallSpec`: the driver's
class and constructor arguments, the method, its arguments. :func:`split` gives each of ``n``
workers its share: the clients (``subscribers=`` for Redis pub/sub) and the rate (or every
stage's target) in proportion to its clients; fan-out runs whose channel or room is named
per run get one name shared by every worker, so that the server fans every message out to
every subscriber as in one process.

What can travel: the built-in runs (echo, broadcast, churn, subscribe, HTTP requests,
queries, Redis commands and pub/sub, Socket.IO calls) with plain-data arguments, and
functions (scenarios, setup/teardown hooks, triggers, parameter functions, ``expect=``
predicates) defined at the top level of an importable module: workers import them by name.
A lambda or a function defined inside another function is refused with an error naming it.

Pure logic, no I/O: unit-tested directly.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import os
import pickle
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "CallCapture",
    "CallSpec",
    "DriverSpec",
    "capture",
    "check_processes",
    "check_sendable",
    "resolve_processes",
    "split",
    "usable_cores",
]

#: methods whose ``clients=`` default is not 10
_DEFAULT_CLIENTS = {"churn": 100}
#: fan-out methods that publish at 10/s when no rate is given
_DEFAULT_RATE = {"broadcast": 10.0, "subscribe": 10.0, "pubsub": 10.0}
#: driver arguments that stay in the calling process (the merged result is shown there)
_LOCAL_ONLY = {"self", "progress", "abort"}

PROCESSES_FORMS = "a whole number >= 1, or 'auto' (the usable cores)"


def check_processes(value: Any) -> None:
    """A clear error for a ``processes=`` that is neither a whole number >= 1 nor "auto"."""
    if value == "auto" and isinstance(value, str):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"invalid processes={value!r}: expected {PROCESSES_FORMS}")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_processes(value: int | str, clients: int, cores: int | None = None) -> int:
    """The number of workers for ``processes=value`` and ``clients`` clients: "auto" is the
    usable cores, at most one per client; a number larger than the clients is an error (a
    worker needs at least one client)."""
    check_processes(value)
    if value == "auto":
        return max(1, min(cores or usable_cores(), clients))
    assert isinstance(value, int)
    if value > clients:
        raise ValueError(f"processes={value} needs at least {value} clients (one per worker "
                         f"process), but the run has {clients}: raise clients= or lower "
                         "processes=")
    return value


@dataclasses.dataclass(frozen=True)
class DriverSpec:
    """How a worker rebuilds the driver: its class by import path and its constructor
    arguments (read back from the instance's attributes of the same names)."""

    module: str
    qualname: str
    kwargs: Mapping[str, Any]

    @classmethod
    def of(cls, engine: object) -> DriverSpec:
        """The spec of ``engine`` (a LoadDriver): every constructor parameter but the
        callbacks that stay here (``progress``, ``abort``) is read from the attribute of the
        same name; a required one with no such attribute is an error."""
        kind = type(engine)
        given = _given_arguments(engine)
        kwargs: dict[str, Any] = {}
        for name, param in _init_parameters(kind).items():
            if name in _LOCAL_ONLY:
                continue
            if hasattr(engine, name):
                kwargs[name] = getattr(engine, name)
            elif name in given:  # given to the constructor, which kept no attribute of it
                kwargs[name] = given[name]
            elif param.default is param.empty:
                raise TypeError(f"{kind.__qualname__} cannot run in worker processes: its "
                                f"constructor argument {name!r} is not kept as an attribute")
        return cls(kind.__module__, kind.__qualname__, kwargs)

    def build(self) -> Any:
        """A new driver like the one described."""
        target: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            target = getattr(target, part)
        return target(**self.kwargs)

    @property
    def label(self) -> str:
        """``WsSwarm`` and the like."""
        return self.qualname.rsplit(".", 1)[-1]


@dataclasses.dataclass(frozen=True)
class CallSpec:
    """One load call as data: ``DriverSpec.build().<method>(*args, **kwargs)``."""

    driver: DriverSpec
    method: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]

    def call(self, driver: Any, **extra: Any) -> Any:
        """Make the call on ``driver`` (built from :attr:`driver`), ``extra`` keywords added."""
        return getattr(driver, self.method)(*self.args, **{**self.kwargs, **extra})

    @property
    def label(self) -> str:
        """``WsSwarm.echo`` and the like."""
        return f"{self.driver.label}.{self.method}"


class _Captured(Exception):
    """Raised by CallCapture's methods: the call is recorded, nothing runs."""


class CallCapture:
    """Stands in for a driver: the first method called on it is recorded (name, arguments)
    and nothing runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            raise _Captured

        return record


def capture(call: Callable[[Any, dict[str, Any]], Any], engine: object,
            keywords: Mapping[str, Any]) -> CallSpec:
    """The :class:`CallSpec` of ``call(engine, keywords)``, found by running ``call`` against
    a :class:`CallCapture` (the fixture methods' calls are one driver method call each)."""
    stand_in = CallCapture()
    try:
        call(stand_in, dict(keywords))
    except _Captured:
        pass
    if len(stand_in.calls) != 1:
        raise TypeError("this load call cannot be spread over worker processes: it does not "
                        "make exactly one call of its driver's methods")
    method, args, kwargs = stand_in.calls[0]
    return CallSpec(DriverSpec.of(engine), method, tuple(args), kwargs)


def _clients_key(spec: CallSpec) -> str:
    return "subscribers" if spec.method == "pubsub" else "clients"


def total_clients(spec: CallSpec) -> int:
    """The clients the call asks for (or its method's default): what :func:`split` shares."""
    key = _clients_key(spec)
    value = spec.kwargs.get(key)
    if value is None:
        return _DEFAULT_CLIENTS.get(spec.method, 10)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"invalid {key}={value!r}: expected a positive whole number")
    return value


def shares(total: int, n: int) -> list[int]:
    """``total`` split into ``n`` whole shares as equal as can be, the larger ones first.

    >>> shares(10, 3)
    [4, 3, 3]
    """
    base, extra = divmod(total, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def split(spec: CallSpec, n: int) -> list[CallSpec]:
    """The call of each of ``n`` workers: clients shared as equally as can be, the rate and
    every stage's target in proportion to each worker's clients; a per-run channel (Redis
    pub/sub) or room (Socket.IO broadcast) named once for all."""
    from pytest_roo.load.workload import Stage, _as_stages
    from pytest_roo.units import parse_rate

    total = total_clients(spec)
    if n > total:
        raise ValueError(f"{n} worker processes need at least {n} clients, but the run has "
                         f"{total}")
    key = _clients_key(spec)
    kwargs = dict(spec.kwargs)
    args = list(spec.args)
    rate = kwargs.get("rate")
    stages = kwargs.get("stages")
    total_rate: float | None = None
    if stages is None:
        if rate is not None:
            total_rate = parse_rate(rate)
        elif spec.method in _DEFAULT_RATE:
            total_rate = _DEFAULT_RATE[spec.method]
    parsed_stages = _as_stages(stages) if stages is not None else None
    # one channel / room for every worker: the server fans each message out to all of them
    if spec.method == "pubsub" and (not args or args[0] is None) and "channel" not in kwargs:
        name = f"roo:pubsub:{secrets.token_hex(3)}"
        if args:
            args[0] = name
        else:
            kwargs["channel"] = name
    if spec.method == "broadcast" and "room" in kwargs and kwargs["room"] is None:
        kwargs["room"] = f"roo-{secrets.token_hex(3)}"
    out: list[CallSpec] = []
    for clients in shares(total, n):
        part = dict(kwargs)
        part[key] = clients
        fraction = clients / total
        if total_rate is not None:
            part["rate"] = total_rate * fraction
        if parsed_stages is not None:
            part["stages"] = [Stage(s.duration, s.target * fraction, s.ramp)
                              for s in parsed_stages]
        out.append(CallSpec(spec.driver, spec.method, tuple(args), part))
    return out


def _callables(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every function inside ``value`` (through mappings, sequences, partials), with where."""
    if depth > 6:
        return
    if isinstance(value, functools.partial):
        yield from _callables(value.func, where, depth + 1)
        for i, arg in enumerate(value.args):
            yield from _callables(arg, f"{where} (argument {i} of the partial)", depth + 1)
        for name, arg in value.keywords.items():
            yield from _callables(arg, f"{where} (argument {name}= of the partial)", depth + 1)
    elif inspect.isfunction(value) or inspect.ismethod(value):
        yield where, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _callables(v, f"{where}[{k!r}]", depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, v in enumerate(value):
            yield from _callables(v, f"{where}[{i}]", depth + 1)


def _function_problem(func: Any) -> str | None:
    """Why a worker could not import ``func`` by name, or None."""
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", None)
    if "<lambda>" in qualname:
        return "it is a lambda"
    if "<locals>" in qualname:
        return "it is defined inside another function"
    if module in (None, "__main__", "__mp_main__"):
        return "it is defined in the __main__ script, which workers do not run"
    return None


def check_sendable(spec: CallSpec) -> bytes:
    """``spec`` pickled for the workers; ValueError naming the function and the rule when a
    function in it cannot be imported by name there, or naming the value that cannot be
    pickled."""
    places = [(f"argument {i}", a) for i, a in enumerate(spec.args)]
    places += [(f"{name}=", v) for name, v in spec.kwargs.items()]
    for where, value in places:
        for path, func in _callables(value, where):
            problem = _function_problem(func)
            if problem:
                shown = getattr(func, "__qualname__", repr(func))
                raise ValueError(
                    f"{spec.label}() with processes= runs in worker processes, which import "
                    f"every function they are given by its module and name; {path} is "
                    f"{shown!r} ({getattr(func, '__module__', '?')}), and {problem}. Define "
                    "it with `def`/`async def` at the top level of an importable module (a "
                    "test module or conftest works; values it needs can go in "
                    "functools.partial(func, ...) or session.data), or drop processes=")
    try:
        return pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ValueError(f"{spec.label}() with processes= must send its arguments to worker "
                         f"processes, and one of them cannot be pickled: {exc}. Pass plain "
                         "data (str, numbers, dicts, lists) and module-level functions, or "
                         "drop processes=") from exc


def describe_split(parts: Sequence[CallSpec]) -> list[dict[str, Any]]:
    """Each worker's clients and rate, for the merged result's ``info["workers"]``."""
    out = []
    for part in parts:
        key = _clients_key(part)
        item: dict[str, Any] = {"clients": part.kwargs.get(key)}
        if part.kwargs.get("rate") is not None:
            item["rate"] = part.kwargs["rate"]
        out.append(item)
    return out


def _given_arguments(engine: object) -> dict[str, Any]:
    """The arguments the constructor of ``engine`` was called with, by name (``**options``
    flattened); empty when they were not recorded (see ``LoadDriver.__new__``)."""
    given = getattr(engine, "_given", None)
    if given is None:
        return {}
    args, kwargs = given
    try:
        bound = inspect.signature(type(engine)).bind(*args, **kwargs)
    except TypeError:
        return {}
    named: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            named[name] = value
    return named


def _init_parameters(kind: type) -> dict[str, inspect.Parameter]:
    """The named parameters of ``kind``'s constructor, following ``**options`` handed on to a
    base class's constructor (``WsClient(driver=, **options)`` -> ``LoadDriver(timeout=...)``)."""
    found: dict[str, inspect.Parameter] = {}
    for klass in kind.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        for name, param in params.items():
            if name != "self" and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                found.setdefault(name, param)
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break  # this constructor takes no more: its bases get nothing else from the caller
    return found
