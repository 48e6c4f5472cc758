"""A parser for the Prometheus text exposition format (0.0.4) and series selectors.

Only what a scrape of ``/metrics`` needs: ``# HELP`` / ``# TYPE`` comments, samples
``name{label="value",...} value [timestamp]`` with the format's escapes (``\\\\``, ``\\"``,
``\\n``) and the special values ``NaN``, ``+Inf``, ``-Inf``. A selector ``name{label="v"}``
picks the samples of a name whose labels include the given ones; a monitored series is the sum
of what its selector picks (all status codes of a counter, say).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping

__all__ = ["MetricSample", "ParseError", "Selector", "parse_selector", "parse_text", "scrape"]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_NAME_RE = re.compile(_NAME)
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class ParseError(ValueError):
    """A line of the exposition format (or a selector) that does not parse."""


@dataclasses.dataclass(frozen=True)
class MetricSample:
    """One sample of a Prometheus text exposition: metric name, labels and value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    timestamp_ms: int | None = None
    type: str = "untyped"

    @property
    def label_dict(self) -> dict[str, str]:
        """The labels as a dict."""
        return dict(self.labels)


def _parse_float(text: str, line_no: int) -> float:
    lowered = text.lower()
    if lowered in ("nan",):
        return math.nan
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    try:
        return float(text)
    except ValueError:
        raise ParseError(f"line {line_no}: {text!r} is not a sample value") from None


def _parse_labels(text: str, pos: int, line_no: int) -> tuple[tuple[tuple[str, str], ...], int]:
    """Labels from just after ``{``; returns them and the position after ``}``."""
    labels: list[tuple[str, str]] = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == "}":
            return tuple(labels), pos + 1
        match = _LABEL_NAME_RE.match(text, pos)
        if not match:
            raise ParseError(f"line {line_no}: expected a label name at column {pos + 1}")
        name = match.group(0)
        pos = match.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == "=":
            pos += 1
            while pos < len(text) and text[pos] in " \t":
                pos += 1
        else:
            pos = -1
        if pos < 0 or pos >= len(text) or text[pos] != '"':
            raise ParseError(f'line {line_no}: expected =" after label {name!r}')
        pos += 1
        value: list[str] = []
        while True:
            if pos >= len(text):
                raise ParseError(f"line {line_no}: unterminated value of label {name!r}")
            char = text[pos]
            if char == "\\" and pos + 1 < len(text):
                value.append(_ESCAPES.get(text[pos + 1], "\\" + text[pos + 1]))
                pos += 2
                continue
            if char == '"':
                pos += 1
                break
            value.append(char)
            pos += 1
        labels.append((name, "".join(value)))
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "}":
            continue
        else:
            raise ParseError(f"line {line_no}: expected , or }} after label {name!r}")


def parse_text(text: str) -> list[MetricSample]:
    """Every sample of an exposition, with the ``# TYPE`` of its family.

    >>> samples = parse_text('# TYPE req counter\\nreq{code="200"} 7\\nreq{code="500"} 1 1700\\n')
    >>> [(s.name, s.label_dict, s.value, s.timestamp_ms, s.type) for s in samples]
    [('req', {'code': '200'}, 7.0, None, 'counter'), ('req', {'code': '500'}, 1.0, 1700, 'counter')]
    """
    types: dict[str, str] = {}
    samples: list[MetricSample] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line[1:].split(None, 3)
            if len(parts) >= 3 and parts[0] == "TYPE":
                types[parts[1]] = parts[2]
            continue
        match = _NAME_RE.match(line)
        if not match:
            raise ParseError(f"line {line_no}: expected a metric name: {line[:80]!r}")
        name = match.group(0)
        pos = match.end()
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        labels: tuple[tuple[str, str], ...] = ()
        if pos < len(line) and line[pos] == "{":
            labels, pos = _parse_labels(line, pos + 1, line_no)
        rest = line[pos:].split()
        if not rest or len(rest) > 2:
            raise ParseError(f"line {line_no}: expected a value (and a timestamp): {line[:80]!r}")
        value = _parse_float(rest[0], line_no)
        timestamp: int | None = None
        if len(rest) == 2:
            try:
                timestamp = int(rest[1])
            except ValueError:
                raise ParseError(f"line {line_no}: {rest[1]!r} is not a timestamp") from None
        samples.append(MetricSample(name, labels, value, timestamp, _family_type(name, types)))
    return samples


def _family_type(name: str, types: Mapping[str, str]) -> str:
    if name in types:
        return types[name]
    for suffix in ("_bucket", "_sum", "_count", "_total", "_created"):
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return types[name[: -len(suffix)]]
    return "untyped"


@dataclasses.dataclass(frozen=True)
class Selector:
    """``name{label="v",...}``: the samples of ``name`` whose labels include these."""

    text: str
    name: str
    labels: tuple[tuple[str, str], ...]

    def matches(self, sample: MetricSample) -> bool:
        """True when ``sample`` has this selector's name and every label it asks for."""
        if sample.name != self.name:
            return False
        have = sample.label_dict
        return all(have.get(k) == v for k, v in self.labels)

    def total(self, samples: Iterable[MetricSample]) -> float | None:
        """The sum of the matching samples' values; None when none matches."""
        values = [s.value for s in samples if self.matches(s)]
        return math.fsum(values) if values else None


def parse_selector(text: str) -> Selector:
    """``parse_selector('http_requests_total{code="200"}')``; raises ValueError on bad input."""
    stripped = text.strip()
    match = _NAME_RE.match(stripped)
    accepted = 'a metric name with optional labels, e.g. process_resident_memory_bytes or ' \
        'http_requests_total{code="200"}'
    if not match:
        raise ValueError(f"invalid metric selector {text!r}: expected {accepted}")
    pos = match.end()
    labels: tuple[tuple[str, str], ...] = ()
    if pos < len(stripped) and stripped[pos] == "{":
        try:
            labels, pos = _parse_labels(stripped, pos + 1, 1)
        except ParseError as exc:
            raise ValueError(f"invalid metric selector {text!r}: {exc}; expected {accepted}") from None
    if pos != len(stripped):
        raise ValueError(f"invalid metric selector {text!r}: expected {accepted}")
    return Selector(stripped, match.group(0), labels)


def scrape(url: str, timeout: float) -> list[MetricSample]:
    """GET ``url`` and parse it. Raises OSError (network) or ParseError (body)."""
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "text/plain; version=0.0.4"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(16 * 2**20)
        charset = response.headers.get_content_charset() or "utf-8"
    return parse_text(body.decode(charset, errors="replace"))
