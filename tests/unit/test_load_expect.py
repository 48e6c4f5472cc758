"""``expect=`` of HTTP load runs: what it accepts, what it rejects, how it judges an answer."""

from __future__ import annotations

import gzip
import json

import pytest

from pytest_roo.load.expect import Answer, make_expectation

OK = json.dumps({"ok": True, "user": {"id": 7}, "items": [1, 2]}).encode()


def test_no_expectation_accepts_below_400_only() -> None:
    expectation = make_expectation()
    assert expectation.failure(204, {}, b"") is None
    assert expectation.failure(404, {}, b"") == ("http_4xx", "status 404")
    assert expectation.failure(503, {}, b"") == ("http_5xx", "status 503")
    assert not expectation.needs_body


@pytest.mark.parametrize(
    ("expect", "status", "kind"),
    [
        (200, 200, None),
        (200, 201, "mismatch"),
        ({200, 201}, 201, None),
        (range(200, 300), 299, None),
        (401, 200, "mismatch"),  # a wrong password that is let in
        (401, 401, None),
        (200, 500, "http_5xx"),
    ],
)
def test_statuses(expect: object, status: int, kind: str | None) -> None:
    wrong = make_expectation(expect).failure(status, {}, b"")
    assert (wrong[0] if wrong else None) == kind


def test_json_fields_by_dotted_path() -> None:
    expectation = make_expectation({"ok": True, "user.id": 7, "items.1": 2})
    assert expectation.needs_body
    assert expectation.failure(200, {}, OK) is None
    assert make_expectation({"user.id": 8}).failure(200, {}, OK) == (
        "mismatch", "JSON field 'user.id' is 7, expected 8")
    assert make_expectation({"user.name": "x"}).failure(200, {}, OK) == (
        "mismatch", "JSON field 'user.name' is missing")
    failure = make_expectation({"ok": True}).failure(200, {}, b"<html>")
    assert failure is not None
    kind, detail = failure
    assert kind == "mismatch" and "expected a JSON body" in detail


def test_a_compressed_body_is_decoded_for_the_checks() -> None:
    expectation = make_expectation({"ok": True})
    assert expectation.failure(200, {"Content-Encoding": "gzip"}, gzip.compress(OK)) is None


def test_predicates_and_lists_combine() -> None:
    def welcome(answer: Answer) -> bool:
        return bool(answer.json()["user"]["id"] == 7)

    expectation = make_expectation([200, {"ok": True}, welcome])
    assert expectation.failure(200, {}, OK) is None
    assert expectation.failure(201, {}, OK) == ("mismatch", "status 201, expected 200")
    failing = make_expectation(lambda answer: b"nope" in answer.body)
    failure = failing.failure(200, {}, OK)
    assert failure is not None
    kind, detail = failure
    assert kind == "mismatch" and "check <lambda> failed" in detail
    raising = make_expectation(lambda answer: answer.json()["missing"])
    failure = raising.failure(200, {}, OK)
    assert failure is not None
    kind, detail = failure
    assert kind == "mismatch" and "KeyError" in detail


def test_expect_status_adds_statuses() -> None:
    assert make_expectation(None, [200, 204]).failure(204, {}, b"") is None
    assert make_expectation(200, [204]).failure(204, {}, b"") is None


@pytest.mark.parametrize("bad", [99, 600, "200", True, 2.5, {1: True}, [object()]])
def test_bad_expectations_name_the_value(bad: object) -> None:
    with pytest.raises(ValueError, match="expect"):
        make_expectation(bad)
