"""Every option by CLI, ini and env; precedence; each rejected value is a usage error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_roo.settings import OPTIONS

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")

SHOW = """
import json

def test_show(roo_settings):
    print("SETTINGS=" + json.dumps({"values": roo_settings.public(), "sources": dict(roo_settings.sources)}))
"""

# option name -> (raw value, value as Settings.public() shows it)
VALID: dict[str, tuple[str, Any]] = {
    "report_json": ("out/report.json", "out/report.json"),
    "report_html": ("out/report.html", "out/report.html"),
    "output": ("evidence", "evidence"),
    "progress": ("on", "on"),
    "profile": ("smoke", "smoke"),
    "max_generator_cpu": ("80%", 0.8),
    "confidence": ("99%", 0.99),
    "services": ("local", "local"),
    "postgres_url": ("postgresql://u:hunter2@127.0.0.1:5432/db", "postgresql://u:***@127.0.0.1:5432/db"),
    "redis_url": ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    "postgres_isolation": ("truncate", "truncate"),
    "postgres_bin": ("/opt/pg/bin", "/opt/pg/bin"),
    "redis_bin": ("/opt/redis/redis-server", "/opt/redis/redis-server"),
    "service_user": ("nobody", "nobody"),
    "postgres_image": ("postgres:15.8-alpine", "postgres:15.8-alpine"),
    "redis_image": ("redis:7.2.5", "redis:7.2.5"),
    "target": ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    "browsers": ("firefox,chromium", ["firefox", "chromium"]),
    "devices": ("iPhone 13,Desktop Chrome", ["iPhone 13", "Desktop Chrome"]),
    "browser_executables": ("firefox=/usr/bin/firefox-esr", {"firefox": "/usr/bin/firefox-esr"}),
    "matrix_min_success": ("100%", 1.0),
    "headed": ("no", False),
    "toxiproxy": ("http://127.0.0.1:8474", "http://127.0.0.1:8474"),
    "trace": ("full", "full"),
    "baseline_dir": ("kept/baselines", "kept/baselines"),
    "baseline_save": ("main", "main"),
    "baseline_compare": ("main", "main"),  # test_option_by_source saves one to compare with
    "regression": ("p99:+2ms, throughput:-5%", ["p99:+2ms", "throughput:-5%"]),
    "load_hosts": ("2*popen,ssh=loadgen//python=python3",
                   ["popen", "popen", "ssh=loadgen//python=python3"]),
}

# option name -> rejected raw values and a piece of the accepted forms the error must name
REJECTED: list[tuple[str, str, str]] = [
    ("services", "dockr", "auto, docker, local, external"),
    ("progress", "loud", "auto, on, off"),
    ("profile", "Huge Profile!", "profile name"),
    ("max_generator_cpu", "0%", "above 0%"),
    ("confidence", "100%", "below 100%"),
    ("report_json", "/dev/null/report.json", "not a directory"),
    ("output", "/dev/null/sub", "not a directory"),
    ("max_generator_cpu", "150%", "percentage"),
    ("max_generator_cpu", "lots", "percentage"),
    ("postgres_url", "mysql://u@127.0.0.1/db", "postgresql://"),
    ("postgres_url", "postgresql:///db", "with a host"),
    ("redis_url", "http://127.0.0.1:6379", "redis://"),
    ("postgres_isolation", "rollback", "database, transaction, truncate"),
    ("target", "ftp://127.0.0.1", "http://host:port[/prefix] or https://"),
    ("target", "http://127.0.0.1:99999", "bad port"),
    ("target", "127.0.0.1:8080", "http://host:port[/prefix] or https://"),
    ("target", "http://127.0.0.1:8080/?token=abc", "no query or fragment"),
    ("browsers", "safari", "chromium, firefox, webkit"),
    ("browsers", ",", "comma-separated list"),
    ("devices", " , ", "device names"),
    ("browser_executables", "opera=/usr/bin/opera", "engine=/path/to/binary"),
    ("browser_executables", "firefox", "engine=/path/to/binary"),
    ("matrix_min_success", "101%", "percentage"),
    ("headed", "maybe", "true, false"),
    ("service_user", " ", "non-empty"),
    ("report_json", "", "path"),
    ("toxiproxy", "127.0.0.1:8474", "http:// or https://"),
    ("report_html", "", "path"),
    ("report_html", ".", "is a directory"),
    ("trace", "video", "dom, full, off"),
    ("regression", "p95:-10%", "a latency regresses upwards"),
    ("regression", "p95", "accepted forms: comma-separated"),
    ("baseline_save", "../main", "a name of letters, digits"),
    ("baseline_compare", "nope", "no baseline 'nope' in .roo/baselines"),
    ("baseline_dir", "/dev/null/sub", "not a directory"),
    ("load_hosts", "socket=127.0.0.1:8888", "popen or ssh="),
    ("load_hosts", "ssh=u:hunter2@h", "no password in a host spec"),
]


def settings_of(result: pytest.RunResult) -> dict[str, Any]:
    for line in result.outlines:
        if "SETTINGS=" in line:
            data: dict[str, Any] = json.loads(line.split("SETTINGS=", 1)[1])
            return data
    raise AssertionError("no SETTINGS line in:\n" + result.stdout.str())


def set_option(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, source: str, raw: str
) -> list[str]:
    """Give option ``name`` the value ``raw`` through ``source``; returns the CLI args to pass."""
    spec = next(s for s in OPTIONS if s.name == name)
    if source == "cli":
        return [f"{spec.cli}={raw}"]
    if source == "env":
        monkeypatch.setenv(spec.env, raw)
    else:
        pytester.makeini(f"[pytest]\n{spec.ini} = {raw}\n")
    return []


def test_every_option_is_covered() -> None:
    assert set(VALID) == {spec.name for spec in OPTIONS}
    assert {name for name, _, _ in REJECTED} <= set(VALID)


def test_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW)
    data = settings_of(pytester.runpytest("-s"))
    assert set(data["sources"].values()) == {"default"}
    values = data["values"]
    assert values["services"] == "auto"
    assert values["profile"] == "standard"
    assert values["browsers"] == ["chromium", "firefox", "webkit"]
    assert values["report_json"] is None


@pytest.mark.parametrize("name", sorted(VALID))
@pytest.mark.parametrize("source", ["cli", "env", "ini"])
def test_option_by_source(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    raw, shown = VALID[name]
    pytester.makepyfile(SHOW)
    if name in ("baseline_compare", "regression"):  # rules need a baseline to compare with
        from pytest_roo.baseline import save

        save(pytester.path / ".roo" / "baselines", "main", {})
        if name == "regression":
            monkeypatch.setenv("ROO_BASELINE_COMPARE", "main")
    args = set_option(pytester, monkeypatch, name, source, raw)
    data = settings_of(pytester.runpytest("-s", *args))
    assert data["values"][name] == shown
    assert data["sources"][name] == source


def test_precedence_cli_over_env_over_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(SHOW)
    pytester.makeini("[pytest]\nroo_profile = smoke\nroo_progress = on\nroo_services = local\n")
    monkeypatch.setenv("ROO_PROFILE", "full")
    monkeypatch.setenv("ROO_PROGRESS", "off")
    data = settings_of(pytester.runpytest("-s", "--roo-profile=standard"))
    assert data["values"]["profile"] == "standard" and data["sources"]["profile"] == "cli"
    assert data["values"]["progress"] == "off" and data["sources"]["progress"] == "env"
    assert data["values"]["services"] == "local" and data["sources"]["services"] == "ini"


def test_empty_env_and_ini_count_as_unset(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(SHOW)
    pytester.makeini("[pytest]\nroo_profile =\n")
    monkeypatch.setenv("ROO_SERVICES", "")
    data = settings_of(pytester.runpytest("-s"))
    assert data["sources"]["profile"] == "default" and data["sources"]["services"] == "default"


REJECTED_BY_SOURCE = [
    pytest.param(name, raw, accepted, source, id=f"{source}-{name}-{raw!r}")
    for name, raw, accepted in REJECTED
    for source in ("cli", "env", "ini")
    # an empty env var or ini key means unset (test_empty_env_and_ini_count_as_unset)
    if raw.strip() or source == "cli"
]


@pytest.mark.parametrize(("name", "raw", "accepted", "source"), REJECTED_BY_SOURCE)
def test_rejected_values(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, raw: str, accepted: str, source: str
) -> None:
    spec = next(s for s in OPTIONS if s.name == name)
    pytester.makepyfile(SHOW)
    if name == "baseline_dir":  # the directory is checked when a baseline is to be saved
        monkeypatch.setenv("ROO_BASELINE_SAVE", "main")
    label = {"cli": spec.cli, "env": spec.env, "ini": spec.ini}[source]
    result = pytester.runpytest(*set_option(pytester, monkeypatch, name, source, raw))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"{label}=" in err
    assert accepted in err
    if not spec.secret:
        assert repr(raw.strip() if source == "ini" else raw) in err


def test_secret_values_are_masked_in_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW)
    result = pytester.runpytest("--roo-postgres-url=mysql://u:hunter2@127.0.0.1/db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "hunter2" not in result.stderr.str() + result.stdout.str()


def test_external_backend_needs_a_url(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW)
    result = pytester.runpytest("--roo-services=external")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--roo-services=external needs --roo-postgres-url*"])


def test_help_lists_every_option_in_one_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    assert "pytest-roo: service levels, load, services, browser matrix" in text
    for spec in OPTIONS:
        assert spec.cli in text, spec.cli
        assert spec.ini in text, spec.ini
    result.stdout.fnmatch_lines(["*--roo-services=auto|docker|local|external*"])
