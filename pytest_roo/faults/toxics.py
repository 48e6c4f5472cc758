"""Toxics as Toxiproxy defines them: type, name, stream, toxicity and attributes, validated.

The names, attributes, units and defaults are Toxiproxy's (github.com/Shopify/toxiproxy, v2), so
a toxic written here means the same thing to the in-process proxy and to a Toxiproxy server:

=============  =======================================  ===============================================
type           attributes (default 0)                   effect on its stream
=============  =======================================  ===============================================
latency        latency (ms), jitter (ms)                each chunk delayed by latency +/- jitter
bandwidth      rate (KB/s, 1 KB = 1000 bytes)           at most ``rate`` KB per second
slow_close     delay (ms)                               the close (EOF) is delayed by ``delay``
timeout        timeout (ms)                             data dropped; the connection closed after
                                                        ``timeout``; 0 = held open until removed
reset_peer     timeout (ms)                             on the first data, wait ``timeout``, then TCP
                                                        RST both sides
slicer         average_size (bytes), size_variation     chunks cut into pieces of average_size +/-
               (bytes), delay (us)                      size_variation bytes, ``delay`` between pieces
limit_data     bytes                                    the connection closed after ``bytes`` bytes
=============  =======================================  ===============================================

``stream`` is ``upstream`` (client -> server) or ``downstream`` (server -> client, Toxiproxy's
default). ``toxicity`` (0..1, default 1) is the probability that the toxic applies to a given
connection, drawn per connection when the toxic is added or changed and when a connection opens.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "STREAMS",
    "TOXIC_TYPES",
    "Toxic",
    "ToxicError",
    "make_toxic",
]

STREAMS = ("upstream", "downstream")
DEFAULT_STREAM = "downstream"

#: type -> its attributes, all numbers, all defaulting to 0 (as in Toxiproxy).
TOXIC_TYPES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}

UNITS: dict[tuple[str, str], str] = {
    ("latency", "latency"): "ms",
    ("latency", "jitter"): "ms",
    ("bandwidth", "rate"): "KB/s",
    ("slow_close", "delay"): "ms",
    ("timeout", "timeout"): "ms",
    ("reset_peer", "timeout"): "ms",
    ("slicer", "average_size"): "bytes",
    ("slicer", "size_variation"): "bytes",
    ("slicer", "delay"): "us",
    ("limit_data", "bytes"): "bytes",
}

_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,100}")


class ToxicError(ValueError):
    """A toxic that Toxiproxy would reject: the message names the value and the accepted forms."""


@dataclasses.dataclass(frozen=True)
class Toxic:
    """One validated toxic. Build it with :func:`make_toxic`.

    >>> t = make_toxic("latency", latency=100, jitter=10)
    >>> t.name, t.stream, t.toxicity, t.attributes["latency"]
    ('latency_downstream', 'downstream', 1.0, 100)
    """

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        """The body Toxiproxy's ``POST /proxies/{proxy}/toxics`` takes."""
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

    def describe(self) -> str:
        """One line for messages and reports: name, type, stream, attributes with units,
        toxicity."""
        attrs = ", ".join(
            f"{key}={value}{UNITS.get((self.type, key), '')}" for key, value in self.attributes.items()
        )
        share = "" if self.toxicity == 1.0 else f", toxicity={self.toxicity:g}"
        return f"{self.name} ({self.type} {self.stream}: {attrs}{share})"

    def replace(self, *, toxicity: float | None = None, **attributes: Any) -> Toxic:
        """A copy with some attributes or the toxicity changed, validated again."""
        merged = {**self.attributes, **attributes}
        return make_toxic(
            self.type,
            name=self.name,
            stream=self.stream,
            toxicity=self.toxicity if toxicity is None else toxicity,
            **merged,
        )


def _accepted_types() -> str:
    return ", ".join(TOXIC_TYPES)


def _attribute_forms(type_: str) -> str:
    return ", ".join(f"{key} ({UNITS[(type_, key)]})" for key in TOXIC_TYPES[type_])


def _non_negative_int(type_: str, key: str, value: Any) -> int:
    unit = UNITS[(type_, key)]
    bad = ToxicError(
        f"{type_} toxic: {key}={value!r} is not valid; expected a whole number of {unit} >= 0"
    )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise bad
        value = int(value)
    if value < 0:
        raise bad
    return int(value)


def make_toxic(
    type: str,  # Toxiproxy's own field name
    *,
    name: str | None = None,
    stream: str = DEFAULT_STREAM,
    toxicity: float = 1.0,
    **attributes: Any,
) -> Toxic:
    """Validate a toxic as Toxiproxy would; raise :class:`ToxicError` naming what is wrong.

    ``name`` defaults to ``<type>_<stream>`` (Toxiproxy's default). Unset attributes are 0.

    >>> make_toxic("bandwidth", rate=64, stream="upstream").describe()
    'bandwidth_upstream (bandwidth upstream: rate=64KB/s)'
    >>> make_toxic("latency", latncy=5)
    Traceback (most recent call last):
    ...
    pytest_roo.faults.toxics.ToxicError: latency toxic: unknown attribute 'latncy'; accepted: latency (ms), jitter (ms)
    """
    if not isinstance(type, str) or type not in TOXIC_TYPES:
        raise ToxicError(f"unknown toxic type {type!r}; accepted: {_accepted_types()}")
    if stream not in STREAMS:
        raise ToxicError(
            f"{type} toxic: stream={stream!r} is not valid; expected upstream (client -> server) "
            "or downstream (server -> client)"
        )
    if (
        isinstance(toxicity, bool)
        or not isinstance(toxicity, (int, float))
        or not 0.0 <= float(toxicity) <= 1.0
    ):
        raise ToxicError(
            f"{type} toxic: toxicity={toxicity!r} is not valid; expected a probability per "
            "connection between 0 and 1 (e.g. 0.5)"
        )
    if name is None:
        name = f"{type}_{stream}"
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ToxicError(
            f"toxic name {name!r} is not valid; expected 1-100 letters, digits, '_', '.' or '-'"
        )
    allowed = TOXIC_TYPES[type]
    for key in attributes:
        if key not in allowed:
            raise ToxicError(
                f"{type} toxic: unknown attribute {key!r}; accepted: {_attribute_forms(type)}"
            )
    values = {key: _non_negative_int(type, key, attributes.get(key, 0)) for key in allowed}
    if type == "latency" and values["jitter"] > values["latency"] > 0:
        # Toxiproxy would compute negative delays and send at once; say so instead.
        raise ToxicError(
            f"latency toxic: jitter={values['jitter']} is larger than latency={values['latency']}; "
            "expected jitter <= latency (the delay is latency +/- jitter)"
        )
    if type == "slicer":
        if values["average_size"] < 1:
            raise ToxicError(
                f"slicer toxic: average_size={values['average_size']!r} is not valid; expected a "
                "piece size in bytes >= 1"
            )
        if values["size_variation"] >= values["average_size"]:
            raise ToxicError(
                f"slicer toxic: size_variation={values['size_variation']} must be smaller than "
                f"average_size={values['average_size']}"
            )
    return Toxic(name=name, type=type, stream=stream, toxicity=float(toxicity), attributes=values)
