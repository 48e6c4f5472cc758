"""Every pytest-roo setting: a CLI option ``--roo-*``, an ini key ``roo_*`` and an env var ``ROO_*``.

Each setting is declared once in :data:`OPTIONS` with a typed ``parse_*`` function. The three
sources are resolved once per process (CLI > env > ini > default) by :func:`resolve` into the
frozen :class:`Settings`. A bad value is a :class:`SettingsError` that names where it came from,
the value, and the accepted forms (the plugin turns it into a ``pytest.UsageError``).

Plain Python: the pytest wiring (options, ini keys, ``config.stash``) is in
:mod:`pytest_roo.plugin.options`, so library code can type its settings without importing pytest.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_roo.load.host_specs import parse_load_hosts
from pytest_roo.redact import mask_url
from pytest_roo.setting_parsers import (
    ENGINES,
    ISOLATION_MODES,
    PROGRESS_MODES,
    SERVICE_BACKENDS,
    TRACE_MODES,
    parse_baseline_name,
    parse_bool,
    parse_choice,
    parse_confidence,
    parse_cpu_share,
    parse_devices,
    parse_engines,
    parse_executables,
    parse_file_path,
    parse_path,
    parse_percent,
    parse_profile,
    parse_regression,
    parse_target,
    parse_text,
    parse_url,
)

__all__ = [
    "OPTIONS",
    "OptionSpec",
    "Settings",
    "SettingsError",
    "mask_url",
    "resolve",
]


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """One setting. ``name`` gives ``--roo-<name>``, ini ``roo_<name>``, env ``ROO_<NAME>``."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    metavar: str = "VALUE"
    secret: bool = False

    @property
    def cli(self) -> str:
        """The command line option, ``--roo-<name>``."""
        return "--roo-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        """The ini key, ``roo_<name>``."""
        return "roo_" + self.name

    @property
    def env(self) -> str:
        """The environment variable, ``ROO_<NAME>``."""
        return "ROO_" + self.name.upper()

    @property
    def dest(self) -> str:
        """The attribute pytest's option parser stores the value in."""
        return "roo_" + self.name


OPTIONS: tuple[OptionSpec, ...] = (
    # reports
    OptionSpec("report_json", parse_path, None,
               "Write every result and verdict of the session to this JSON file.", "PATH"),
    OptionSpec("report_html", parse_file_path, None,
               "Write the session report with charts to this self-contained HTML file.", "PATH"),
    OptionSpec("output", parse_path, Path("roo-output"),
               "Directory for evidence: screenshots, traces, target logs.", "DIR"),
    OptionSpec("progress", parse_choice(PROGRESS_MODES), "auto",
               "One progress line per second for load runs longer than 2 s: auto (only on a "
               "terminal and not under -q), on, off.", "|".join(PROGRESS_MODES)),
    OptionSpec("profile", parse_profile, "standard",
               "Sizes of the suites, by name; the ready suites know smoke, standard and full. "
               "A profile never shrinks a size below its criterion's own figure.", "NAME"),
    OptionSpec("confidence", parse_confidence, 0.95,
               "One-sided confidence of verdicts on rates and percentiles: PASS when the bound "
               "clears the limit, FAIL when the opposite bound violates it, else INCONCLUSIVE. "
               "0% judges the bare point estimate.", "PERCENT"),
    OptionSpec("max_generator_cpu", parse_cpu_share, 0.90,
               "CPU share of one core above which the load generator counts as saturated and "
               "its criteria fail.", "PERCENT"),
    OptionSpec("load_hosts", parse_load_hosts, (),
               "Run every load call's workers on these execnet gateways (one worker per spec, "
               "processes= per spec when given), results merged: e.g. "
               "popen,ssh=user@host//python=python3.", "SPEC,...", secret=True),
    # baselines and the regression gate
    OptionSpec("baseline_dir", parse_path, Path(".roo/baselines"),
               "Directory of the saved baselines (one NAME.json each).", "DIR"),
    OptionSpec("baseline_save", parse_baseline_name, None,
               "Save every result of this session as baseline NAME (replacing one of that "
               "name).", "NAME"),
    OptionSpec("baseline_compare", parse_baseline_name, None,
               "Judge every result against baseline NAME with the --roo-regression rules; a "
               "shown regression fails its test.", "NAME"),
    OptionSpec("regression", parse_regression, None,
               "Allowed changes against the baseline, e.g. 'p95:+10%,throughput:-5%,"
               "error_rate:+0.1%' (the rules used when none are given).", "RULES"),
    # services
    OptionSpec("services", parse_choice(SERVICE_BACKENDS), "auto",
               "Where PostgreSQL and Redis come from: auto (docker if an engine answers, else "
               "local binaries), docker, local, external (needs the URLs).",
               "|".join(SERVICE_BACKENDS)),
    OptionSpec("postgres_url", parse_url(("postgresql", "postgres")), None,
               "External PostgreSQL server (superuser URL) for the external backend.", "URL",
               secret=True),
    OptionSpec("redis_url", parse_url(("redis", "rediss", "unix")), None,
               "External Redis server for the external backend.", "URL", secret=True),
    OptionSpec("postgres_isolation", parse_choice(ISOLATION_MODES), "database",
               "How postgres_db isolates tests: database (a fresh clone of the template), "
               "transaction (rolled back), truncate (tables emptied).",
               "|".join(ISOLATION_MODES)),
    OptionSpec("postgres_bin", parse_path, None,
               "Directory holding the PostgreSQL server binaries (postgres, initdb). Default: "
               "PATH, pg_config --bindir, /usr/lib/postgresql/*/bin.", "DIR"),
    OptionSpec("redis_bin", parse_path, None,
               "The redis-server binary. Default: redis-server on PATH.", "PATH"),
    OptionSpec("service_user", parse_text, "postgres",
               "Unprivileged user that runs the servers when pytest runs as root.", "USER"),
    OptionSpec("postgres_image", parse_text, "postgres:16.4-alpine",
               "Docker image for the docker backend (pinned tag).", "IMAGE"),
    OptionSpec("redis_image", parse_text, "redis:7.4.1-alpine",
               "Docker image for the docker backend (pinned tag).", "IMAGE"),
    # target
    OptionSpec("target", parse_target, None,
               "Run the suites against this deployment instead of starting the embedded "
               "reference system; ws(s):// URLs are derived.", "URL", secret=True),
    # browsers
    OptionSpec("browsers", parse_engines, ENGINES,
               "Browser engines of the matrix, comma-separated.", ",".join(ENGINES)),
    OptionSpec("devices", parse_devices, ("Desktop Chrome",),
               "Devices of the matrix: Playwright device names or the aliases desktop, tablet, "
               "mobile, comma-separated.", "NAMES"),
    OptionSpec("browser_executables", parse_executables, {},
               "Browser binaries to use per engine, e.g. firefox=/usr/bin/firefox-esr.",
               "ENGINE=PATH,..."),
    OptionSpec("matrix_min_success", parse_percent, None,
               "Fail the session when fewer than this share of the browser matrix cells pass.",
               "PERCENT"),
    OptionSpec("headed", parse_bool, False, "Show browser windows.", "BOOL"),
    OptionSpec("trace", parse_choice(TRACE_MODES), "dom",
               "What the Playwright trace of every browser context records (kept for failures): "
               "dom (DOM snapshots of every action), full (also a screenshot per action; about "
               "1.9x slower runs in Firefox), off.", "|".join(TRACE_MODES)),
    # faults
    OptionSpec("toxiproxy", parse_url(("http", "https")), None,
               "Run fault_proxy proxies on this Toxiproxy server (its HTTP API, e.g. "
               "http://127.0.0.1:8474) instead of in process.", "URL"),
)

_BY_NAME = {spec.name: spec for spec in OPTIONS}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved settings of this process; see ``pytest --help`` group ``roo``."""

    report_json: Path | None = None
    report_html: Path | None = None
    output: Path = Path("roo-output")
    progress: str = "auto"
    profile: str = "standard"
    confidence: float = 0.95
    max_generator_cpu: float = 0.90
    load_hosts: tuple[str, ...] = ()
    baseline_dir: Path = Path(".roo/baselines")
    baseline_save: str | None = None
    baseline_compare: str | None = None
    regression: tuple[Any, ...] | None = None
    services: str = "auto"
    postgres_url: str | None = None
    redis_url: str | None = None
    postgres_isolation: str = "database"
    postgres_bin: Path | None = None
    redis_bin: Path | None = None
    service_user: str = "postgres"
    postgres_image: str = "postgres:16.4-alpine"
    redis_image: str = "redis:7.4.1-alpine"
    target: str | None = None
    browsers: tuple[str, ...] = ENGINES
    devices: tuple[str, ...] = ("Desktop Chrome",)
    browser_executables: Mapping[str, str] = dataclasses.field(default_factory=dict)
    matrix_min_success: float | None = None
    headed: bool = False
    trace: str = "dom"
    toxiproxy: str | None = None
    # where each value came from: "cli", "env", "ini" or "default"
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        # shown in tracebacks with --showlocals/--fulltrace: never the secrets of URLs
        fields = ", ".join(f"{k}={v!r}" for k, v in self.public().items())
        return f"Settings({fields})"

    def validate(self) -> None:
        """Checks across settings and on the file system, made when pytest starts (not at the end).

        Raises :class:`SettingsError`.
        """
        for name, want_dir in (("report_json", False), ("report_html", False), ("output", True)):
            path = getattr(self, name)
            if path is None:
                continue
            problem = _writable_path_problem(Path(path), want_dir)
            if problem:
                spec = _BY_NAME[name]
                label = {"env": spec.env, "ini": spec.ini}.get(self.sources.get(name, ""), spec.cli)
                raise SettingsError(
                    f"pytest-roo: {label}={str(path)!r} cannot be written: {problem}"
                )
        if self.baseline_compare is not None:
            from pytest_roo.baseline.store import BaselineError, load

            try:
                load(self.baseline_dir, self.baseline_compare)
            except BaselineError as exc:
                raise SettingsError(f"pytest-roo: {self._label('baseline_compare')}="
                                    f"{self.baseline_compare!r}: {exc}") from None
        if self.regression is not None and self.baseline_compare is None \
                and self.sources.get("regression") == "cli":
            # (from env or ini it may be a project-wide setting for the runs that compare)
            raise SettingsError("pytest-roo: --roo-regression judges a run against a baseline: "
                                "give --roo-baseline-compare NAME as well")
        if self.baseline_save is not None:
            problem = _writable_path_problem(Path(self.baseline_dir), True)
            if problem:
                raise SettingsError(f"pytest-roo: {self._label('baseline_dir')}="
                                    f"{str(self.baseline_dir)!r} cannot hold the baseline to "
                                    f"save: {problem}")
        if self.services == "external" and not (self.postgres_url or self.redis_url):
            raise SettingsError(
                "pytest-roo: --roo-services=external needs --roo-postgres-url and/or "
                "--roo-redis-url (or ROO_POSTGRES_URL / ROO_REDIS_URL)"
            )
        if self.services in ("local", "docker"):
            given = [_BY_NAME[n].cli for n in ("postgres_url", "redis_url") if getattr(self, n)]
            if given:
                raise SettingsError(
                    f"pytest-roo: {given[0]} is only used by --roo-services=external (or auto), "
                    f"but --roo-services={self.services} starts its own servers; drop one of them"
                )

    def _label(self, name: str) -> str:
        """How the user gave setting ``name``: its CLI option, env var or ini key."""
        spec = _BY_NAME[name]
        return {"env": spec.env, "ini": spec.ini}.get(self.sources.get(name, ""), spec.cli)

    def public(self) -> dict[str, Any]:
        """The settings as JSON-ready values, with secrets (URLs with passwords) masked."""
        out: dict[str, Any] = {}
        for spec in OPTIONS:
            value = getattr(self, spec.name)
            if spec.secret and value and isinstance(value, tuple):
                value = [mask_url(str(v)) for v in value]
            elif spec.secret and value:
                value = mask_url(str(value))
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            out[spec.name] = value
        return out




class SettingsError(ValueError):
    """A setting's value is not valid; the message names the source, the value and the forms."""


#: (source, label, raw value or None) for one setting, in precedence order
Lookup = Callable[[OptionSpec], Sequence[tuple[str, str, Any]]]


def resolve(lookup: Lookup) -> Settings:
    """Resolve every setting from the candidates ``lookup`` gives (first non-empty one wins).

    An empty ini key or env var counts as unset; an empty CLI value is an error. Raises
    :class:`SettingsError`.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in OPTIONS:
        for source, label, raw in lookup(spec):
            if raw is None or (source != "cli" and raw == ""):
                continue
            try:
                values[spec.name] = spec.parse(str(raw))
            except ValueError as exc:
                shown = mask_url(str(raw)) if spec.secret else repr(raw)
                if spec.secret and shown == str(raw):
                    shown = "***"
                raise SettingsError(f"pytest-roo: {label}={shown} is not valid: {exc}") from None
            sources[spec.name] = source
            break
        else:
            values[spec.name] = spec.default
            sources[spec.name] = "default"
    settings = Settings(**values, sources=sources)
    settings.validate()
    return settings


def _writable_path_problem(path: Path, want_dir: bool) -> str | None:
    """Why ``path`` cannot be written as a file (or a directory), checked without creating it."""
    if path.exists():
        if want_dir and not path.is_dir():
            return "it exists and is not a directory"
        if not want_dir and path.is_dir():
            return "it is a directory; give a file path such as report/roo-report.json"
        probe = path if want_dir else path.parent
    else:
        probe = path.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory, so nothing can be created under it"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None
