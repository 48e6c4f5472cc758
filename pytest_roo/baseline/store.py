"""Named baselines on disk: ``<dir>/<NAME>.json``, every result of a session, lossless.

A result is kept in :meth:`LoadResult.to_dict` form, whose latency histograms travel in
HdrHistogram's compressed encoding, so a result read back has exactly the distribution it had.
Results are keyed by test node id, then by result name (a second result of the same name in one
test is ``name#2``, in recording order). The settings and host facts of the run are kept beside
them: a comparison against a baseline from another machine is worth knowing about.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "NAME_FORMS",
    "SCHEMA",
    "Baseline",
    "BaselineError",
    "available",
    "keyed",
    "load",
    "path_of",
    "save",
    "validate_name",
]

SCHEMA = "pytest-roo/baseline/v1"
NAME_FORMS = "a name of letters, digits, '.', '_' and '-' (at most 100), e.g. main or pr-42"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class BaselineError(ValueError):
    """A baseline that cannot be found, read or written; the message says which and why."""


def validate_name(name: str) -> str:
    """The name without surrounding spaces; ValueError naming the accepted forms when it is not
    one (a ``.json`` suffix included)."""
    text = name.strip()
    if not _NAME_RE.fullmatch(text) or text.endswith(".json"):
        raise ValueError(f"expected {NAME_FORMS}")
    return text


def path_of(directory: Path, name: str) -> Path:
    """The file of baseline ``name`` in ``directory``; ValueError for an invalid name."""
    return Path(directory) / f"{validate_name(name)}.json"


def available(directory: Path) -> list[str]:
    """The names of the baselines saved in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.json") if _NAME_RE.fullmatch(p.stem))


def keyed(results: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Result dicts of one test by name; repeated names become ``name#2``, ``name#3``..."""
    out: dict[str, Mapping[str, Any]] = {}
    for result in results:
        name = str(result.get("name", ""))
        key, n = name, 1
        while key in out:
            n += 1
            key = f"{name}#{n}"
        out[key] = result
    return out


@dataclasses.dataclass
class Baseline:
    """A saved baseline: ``results[nodeid][result key]`` is a LoadResult dict."""

    name: str
    results: dict[str, dict[str, Mapping[str, Any]]]
    created_at: str = ""
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    host: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    version: str = ""
    path: Path | None = None

    def result(self, nodeid: str, key: str) -> Mapping[str, Any] | None:
        """The result dict saved for test ``nodeid`` under ``key`` (``name`` or ``name#2``...), or
        None when the baseline has none."""
        return self.results.get(nodeid, {}).get(key)

    @property
    def result_count(self) -> int:
        """How many results the baseline holds, over all its tests."""
        return sum(len(r) for r in self.results.values())

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to disk, tagged with :data:`SCHEMA`; :func:`load` reads it back."""
        return {
            "schema": SCHEMA,
            "name": self.name,
            "created_at": self.created_at,
            "pytest_roo_version": self.version,
            "settings": dict(self.settings),
            "host": dict(self.host),
            "results": {nodeid: dict(results) for nodeid, results in self.results.items()},
        }


def save(
    directory: Path,
    name: str,
    tests: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    settings: Mapping[str, Any] | None = None,
    host: Mapping[str, Any] | None = None,
) -> Baseline:
    """Write baseline ``name`` from ``tests`` (node id -> that test's result dicts); tests that
    recorded nothing are left out. Replaces a baseline of the same name (atomically)."""
    from pytest_roo import __version__
    from pytest_roo.report.store import write_atomic

    results = {nodeid: dict(keyed(rs)) for nodeid, rs in tests.items()}
    baseline = Baseline(
        name=validate_name(name),
        results={nodeid: rs for nodeid, rs in results.items() if rs},
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        settings=dict(settings or {}),
        host=dict(host or {}),
        version=__version__,
    )
    target = path_of(directory, name)
    try:
        write_atomic(target, json.dumps(baseline.to_dict(), sort_keys=True) + "\n")
    except OSError as exc:
        raise BaselineError(f"baseline {name!r} could not be written to {target}: {exc}") from None
    baseline.path = target
    return baseline


def load(directory: Path, name: str) -> Baseline:
    """Read baseline ``name``; :class:`BaselineError` names the file and the baselines there are."""
    target = path_of(directory, name)
    if not target.is_file():
        have = ", ".join(available(directory)) or "none"
        raise BaselineError(
            f"no baseline {name!r} in {Path(directory)} (looked for {target}; saved baselines "
            f"there: {have}); save one with --roo-baseline-save {name}"
        )
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"baseline {name!r} at {target} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        schema = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BaselineError(
            f"baseline {name!r} at {target} is not a pytest-roo baseline (schema {schema!r}, "
            f"expected {SCHEMA!r})"
        )
    return Baseline(
        name=str(data.get("name", name)),
        results={str(k): dict(v) for k, v in (data.get("results") or {}).items()},
        created_at=str(data.get("created_at", "")),
        settings=dict(data.get("settings") or {}),
        host=dict(data.get("host") or {}),
        version=str(data.get("pytest_roo_version", "")),
        path=target,
    )
