"""What an HTTP answer must be, like k6's ``check()``: ``expect=`` of ``http_load`` and sessions.

``expect=`` takes one of these, or a list of several (all must hold):

* a status (``200``) or a set / range of statuses (``{200, 201}``, ``range(200, 300)``);
* a mapping of JSON fields to the values they must equal (``{"ok": True, "user.id": 7}``:
  dotted paths walk into objects and lists);
* a predicate on the answer (``lambda r: b"welcome" in r.body``), given an :class:`Answer`.

Without a status in it, any status below 400 is accepted (4xx and 5xx count as ``http_4xx`` /
``http_5xx``). A status outside an explicit set counts as ``http_4xx`` / ``http_5xx`` when it
is one, else as ``mismatch``; a JSON field or a predicate that fails counts as ``mismatch``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

__all__ = ["Answer", "Expectation", "make_expectation"]

_FORMS = ("a status such as 200, a set of statuses such as {200, 201}, a mapping of JSON "
          "fields to values such as {'ok': True}, a predicate taking the answer, or a list "
          "of these")


class Answer:
    """An HTTP answer as a predicate sees it: ``status``, ``headers``, ``body`` (bytes),
    ``text`` and ``json()``."""

    __slots__ = ("_json", "body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = _decoded(body, headers)
        self._json: Any = _UNSET

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON, once."""
        if self._json is _UNSET:
            self._json = json.loads(self.body)
        return self._json


_UNSET = object()


def _decoded(body: bytes, headers: Mapping[str, str]) -> bytes:
    """The body with its Content-Encoding undone (the load client does not decompress)."""
    encoding = (headers.get("Content-Encoding") or "").lower()
    if encoding in ("gzip", "deflate") and body:
        import zlib

        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        try:
            return zlib.decompress(body, wbits)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def _status_kind(status: int) -> str:
    return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "mismatch"


class Expectation:
    """A parsed ``expect=``; :meth:`failure` says what is wrong with an answer, or None."""

    def __init__(self, statuses: frozenset[int] | None, fields: Mapping[str, Any],
                 predicates: Sequence[Callable[[Answer], Any]]) -> None:
        self.statuses = statuses
        self.fields = dict(fields)
        self.predicates = list(predicates)

    @property
    def needs_body(self) -> bool:
        """True when the answer's headers and body must be kept to judge it."""
        return bool(self.fields or self.predicates)

    def status_failure(self, status: int) -> tuple[str, str] | None:
        """``(error kind, message)`` when ``status`` is not one the expectation accepts, else
        None."""
        if self.statuses is None:
            if status >= 400:
                return _status_kind(status), f"status {status}"
            return None
        if status not in self.statuses:
            want = ", ".join(str(s) for s in sorted(self.statuses))
            return _status_kind(status), f"status {status}, expected {want}"
        return None

    def failure(self, status: int, headers: Mapping[str, str], body: bytes
                ) -> tuple[str, str] | None:
        """``(kind, detail)`` of the first expectation the answer fails, or None."""
        wrong = self.status_failure(status)
        if wrong is not None or not self.needs_body:
            return wrong
        answer = Answer(status, headers, body)
        if self.fields:
            try:
                document = answer.json()
            except ValueError:
                return "mismatch", f"expected a JSON body, got {answer.text[:60]!r}"
            for path, want in self.fields.items():
                got = _walk(document, path)
                if got is _UNSET:
                    return "mismatch", f"JSON field {path!r} is missing"
                if got != want:
                    return "mismatch", f"JSON field {path!r} is {got!r}, expected {want!r}"
        for predicate in self.predicates:
            name = getattr(predicate, "__name__", repr(predicate))
            try:
                ok = predicate(answer)
            except Exception as exc:
                return "mismatch", f"check {name} raised {exc!r}"
            if not ok:
                return "mismatch", f"check {name} failed (status {status})"
        return None


def _walk(document: Any, path: str) -> Any:
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(
                part) < len(node):
            node = node[int(part)]
        else:
            return _UNSET
    return node


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"invalid status {value!r} in expect=: expected 100 .. 599")
    return value


def make_expectation(expect: Any = None,
                     expect_status: Collection[int] | None = None) -> Expectation:
    """Parse ``expect=`` (see the module's docstring); ``expect_status=`` adds statuses."""
    statuses: set[int] | None = None
    fields: dict[str, Any] = {}
    predicates: list[Callable[[Answer], Any]] = []

    def add_statuses(values: Collection[Any]) -> None:
        nonlocal statuses
        statuses = (statuses or set()) | {_status(v) for v in values}

    items: list[Any]
    if expect is None:
        items = []
    elif isinstance(expect, list | tuple):
        items = list(expect)
    else:
        items = [expect]
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            add_statuses([item])
        elif isinstance(item, set | frozenset | range):
            add_statuses(item)
        elif isinstance(item, Mapping):
            for key in item:
                if not isinstance(key, str) or not key:
                    raise ValueError(f"invalid JSON field {key!r} in expect=: expected a "
                                     "field name or a dotted path such as 'user.id'")
            fields.update(item)
        elif callable(item):
            predicates.append(item)
        else:
            raise ValueError(f"invalid expect={item!r}: expected {_FORMS}")
    if expect_status:
        add_statuses(expect_status)
    return Expectation(frozenset(statuses) if statuses is not None else None, fields,
                       predicates)
