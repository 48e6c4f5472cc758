"""The keywords every load method shares, declared and documented once.

``Load(clients=50, duration="10s", rate="1000/s")`` is a frozen options object that a test can
build once and pass to any method as ``load=``; the same names are accepted as keywords next to
it (a keyword given explicitly wins over the object's field)::

    smoke = Load(clients=20, duration="5s", rate="200/s", timeout=2)
    ws_swarm.echo(url, load=smoke)
    ws_swarm.echo(url, load=smoke, rate="400/s")  # the same, at twice the rate

Pure logic, no I/O, no pytest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from pytest_roo.load.workload import Stage

__all__ = ["SHARED", "AbortOnFail", "Load", "LoadKeywords", "Model", "Processes", "resolve"]

Model = Literal["open", "closed"]
#: ``True``: stop when a criterion of the test's ``@pytest.mark.slo`` can no longer pass;
#: a list of criteria (``["p95 < 50ms"]``): those; ``False``: never; ``None``: as the marker says.
AbortOnFail = bool | Sequence[str] | None
#: worker processes of a run: a number, or "auto" for the usable cores
Processes = int | Literal["auto"] | None


@dataclasses.dataclass(frozen=True)
class Load:
    """The shape of one load run; every field left ``None`` takes the method's default.

    Attributes:
        clients: virtual users (connections). Closed model: each loops, one operation in
            flight; open model: the pool that serves the arrivals. Default 10 (churn: 100).
        duration: how long the measured window lasts: seconds or ``"10s"``, ``"2m"``.
            Default 10 s, or the sum of ``stages``.
        rate: arrivals per second (``"2000/s"``, ``"120/m"`` or a number). Given: the open
            model, each latency from the operation's intended start.
        stages: a rate that changes over the run: ``[("10s", "100/s"), ("10s", "1000/s")]``
            or :class:`~pytest_roo.load.workload.Stage` objects (``steps(...)``); open model.
        think: pause of each virtual user between its operations (closed model), seconds
            or ``"100ms"``.
        model: ``"open"`` or ``"closed"``, said explicitly. ``None``: open when ``rate`` or
            ``stages`` is given, closed otherwise. A contradiction (``model="closed"`` with a
            rate) is an error naming both.
        timeout: seconds each await may take (connect, reply, query); default 5.
        message_size: bytes of each message or padded body (default 32; fan-out 64).
        warmup: seconds of the same load run *before* the measured one, not recorded and not
            judged (connection pools, JIT, caches warm up); ``None``: no warm-up.
        abort_on_fail: stop the run as soon as a criterion can no longer pass (k6's
            ``abortOnFail``): ``True`` for the test's ``@pytest.mark.slo`` criteria, or a
            list of criteria; ``False`` never; ``None`` as the marker's ``abort_on_fail``.
        processes: worker processes the run is spread over (``"auto"``: this machine's
            usable cores, at most one per client); the clients and the rate are split
            between them, they start at one instant and stop at one deadline, and their
            results are merged exactly (:mod:`pytest_roo.load.workers`). With
            ``--roo-load-hosts``: processes per host. ``None``: this process alone.
    """

    clients: int | None = None
    duration: float | str | None = None
    rate: float | str | None = None
    stages: Sequence[Stage | tuple[Any, ...]] | None = None
    think: float | str | None = None
    model: Model | None = None
    timeout: float | None = None
    message_size: int | None = None
    warmup: float | str | None = None
    abort_on_fail: AbortOnFail = None
    processes: Processes = None

    def __post_init__(self) -> None:
        if self.model not in (None, "open", "closed"):
            raise ValueError(f"invalid model={self.model!r}: expected 'open' or 'closed'")
        if self.model == "closed" and (self.rate is not None or self.stages is not None):
            given = "rate=" if self.rate is not None else "stages="
            raise ValueError(f"model='closed' with {given}: a rate is the open model; drop "
                             f"model='closed' or drop {given}")
        if self.clients is not None and (isinstance(self.clients, bool)
                                         or not isinstance(self.clients, int)
                                         or self.clients < 1):
            raise ValueError(f"invalid clients={self.clients!r}: expected a positive whole "
                             "number")
        if self.timeout is not None and (isinstance(self.timeout, bool)
                                         or not isinstance(self.timeout, (int, float))
                                         or self.timeout <= 0):
            raise ValueError(f"invalid timeout={self.timeout!r}: expected seconds > 0")
        if self.processes is not None:
            from pytest_roo.load.split import check_processes

            check_processes(self.processes)
        if self.warmup is not None:
            from pytest_roo.units import parse_duration

            if parse_duration(self.warmup) <= 0:
                raise ValueError(f"invalid warmup={self.warmup!r}: expected seconds > 0 "
                                 "(or leave it out for no warm-up)")

    def replace(self, **changes: Any) -> Load:
        """A copy with ``changes`` (the same checks apply)."""
        return dataclasses.replace(self, **changes)

    def given(self) -> dict[str, Any]:
        """The fields that were set (not ``None``), by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}


class LoadKeywords(TypedDict, total=False):
    """The fields of :class:`Load` as keywords (``**load: Unpack[LoadKeywords]``), plus
    ``load=`` itself. Documented on :class:`Load`."""

    load: Load | None
    clients: int | None
    duration: float | str | None
    rate: float | str | None
    stages: Sequence[Stage | tuple[Any, ...]] | None
    think: float | str | None
    model: Model | None
    timeout: float | None
    message_size: int | None
    warmup: float | str | None
    abort_on_fail: AbortOnFail
    processes: Processes


#: The names of the shared keywords, in the order they are documented.
SHARED = tuple(f.name for f in dataclasses.fields(Load))


def resolve(keywords: Mapping[str, Any]) -> Load:
    """One :class:`Load` from ``load=`` and the keywords next to it (a keyword that is not
    ``None`` wins over the object's field). Unknown names are an error naming them."""
    unknown = sorted(set(keywords) - set(SHARED) - {"load"})
    if unknown:
        raise TypeError(f"unexpected keyword {', '.join(unknown)}: the shared load keywords "
                        f"are load=, {', '.join(n + '=' for n in SHARED)}")
    base = keywords.get("load")
    if base is not None and not isinstance(base, Load):
        raise TypeError(f"invalid load={base!r}: expected a pytest_roo.Load(...) object")
    explicit = {k: v for k, v in keywords.items() if k != "load" and v is not None}
    if base is None:
        return Load(**explicit)
    return base.replace(**explicit) if explicit else base
