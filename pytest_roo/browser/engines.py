"""Where each browser engine comes from: a configured binary, Playwright's build, or the system.

Discovery only looks at the file system (no browser and no Playwright driver is started), so it
runs at collection time and an unavailable engine becomes a skip with the reason and the install
hint, in the test report and in the matrix summary.

Order, per engine:

1. a binary named in ``--roo-browser-executables`` (``firefox=/usr/bin/firefox-esr``);
2. the build ``playwright install <engine>`` put into Playwright's registry directory;
3. a known system browser: Debian/Ubuntu ``chromium`` and ``firefox-esr``. Firefox builds that are
   not Playwright's own are driven over WebDriver BiDi (``channel="moz-firefox"``).

Playwright's WebKit is a patched build with no system package; without ``playwright install
webkit`` the engine is unavailable.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ENGINES",
    "SYSTEM_CANDIDATES",
    "Engine",
    "discover",
    "discover_all",
    "playwright_package_dir",
    "registry_dir",
]

ENGINES = ("chromium", "firefox", "webkit")

#: System browsers tried when Playwright's own build is not installed, in order.
SYSTEM_CANDIDATES: Mapping[str, tuple[str, ...]] = {
    # /usr/bin/chromium is a shell wrapper that adds its own flags; drive the binary itself.
    "chromium": (
        "/usr/lib/chromium/chromium",
        "/usr/lib/chromium-browser/chromium-browser",
        "/opt/google/chrome/chrome",
    ),
    "firefox": ("/usr/bin/firefox-esr", "/usr/lib/firefox-esr/firefox-esr"),
    "webkit": (),
}

INSTALL_HINTS: Mapping[str, str] = {
    "chromium": "install it with `playwright install chromium`, or the system package "
    "(`apt-get install chromium`), or name a binary with "
    "--roo-browser-executables chromium=/path/to/chrome",
    "firefox": "install it with `playwright install firefox`, or the system package "
    "(`apt-get install firefox-esr`, driven over WebDriver BiDi), or name a binary with "
    "--roo-browser-executables firefox=/path/to/firefox",
    "webkit": "install Playwright's WebKit build with `playwright install --with-deps webkit` "
    "(no system package provides it)",
}

# Directory names under the registry, per engine, in order of preference (headless first).
_REGISTRY_NAMES: Mapping[str, tuple[str, ...]] = {
    "chromium": ("chromium_headless_shell", "chromium"),
    "firefox": ("firefox",),
    "webkit": ("webkit",),
}
_BROWSERS_JSON_NAMES: Mapping[str, str] = {
    "chromium_headless_shell": "chromium-headless-shell",
    "chromium": "chromium",
    "firefox": "firefox",
    "webkit": "webkit",
}


@dataclasses.dataclass(frozen=True)
class Engine:
    """An engine of the matrix and how to launch it, or why it cannot run here.

    ``source`` is ``"configured"``, ``"playwright"``, ``"system"`` or ``"missing"``.
    """

    name: str
    available: bool
    source: str
    executable: str | None = None
    channel: str | None = None
    reason: str = ""
    hint: str = ""

    def launch_args(self) -> dict[str, Any]:
        """The engine-specific keyword arguments of ``BrowserType.launch``."""
        args: dict[str, Any] = {}
        if self.executable and self.source != "playwright":
            args["executable_path"] = self.executable
        if self.channel:
            args["channel"] = self.channel
        return args

    @property
    def skip_reason(self) -> str:
        """The text of the skip of every cell of this engine."""
        return f"{self.name} unavailable: {self.reason}; {self.hint}"

    def describe(self) -> str:
        """One line: where the engine comes from, or why it is unavailable."""
        if not self.available:
            return f"{self.name}: unavailable ({self.reason})"
        via = f" over WebDriver BiDi ({self.channel})" if self.channel else ""
        return f"{self.name}: {self.source} {self.executable or ''}{via}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        """The engine as plain data for the JSON report."""
        return dataclasses.asdict(self)


def playwright_package_dir() -> Path | None:
    """The installed ``playwright`` package directory, found without importing it."""
    spec = importlib.util.find_spec("playwright")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def registry_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``playwright install`` puts browsers (honours ``PLAYWRIGHT_BROWSERS_PATH``)."""
    env = os.environ if environ is None else environ
    configured = env.get("PLAYWRIGHT_BROWSERS_PATH", "")
    if configured == "0":
        package = playwright_package_dir()
        base = package / "driver" / "package" if package else Path.cwd()
        return base / ".local-browsers"
    if configured:
        return Path(configured).expanduser().resolve()
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ms-playwright"


def _revisions() -> dict[str, str]:
    package = playwright_package_dir()
    if package is None:
        return {}
    path = package / "driver" / "package" / "browsers.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(entry["name"]): str(entry["revision"]) for entry in data.get("browsers", [])}


def _managed_build(name: str, registry: Path, revisions: Mapping[str, str]) -> Path | None:
    for dirname in _REGISTRY_NAMES[name]:
        revision = revisions.get(_BROWSERS_JSON_NAMES[dirname])
        if revision is None:
            continue
        directory = registry / f"{dirname}-{revision}"
        if (directory / "INSTALLATION_COMPLETE").exists():
            return directory
    return None


def _executable(path: str) -> str | None:
    candidate = Path(path).expanduser()
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(path)
    return found


def discover(
    name: str,
    executables: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    system_candidates: Mapping[str, Sequence[str]] | None = None,
) -> Engine:
    """Find how to run engine ``name`` here. Never raises for a missing browser.

    Args:
        name: ``chromium``, ``firefox`` or ``webkit``.
        executables: binaries named by the user, by engine (``--roo-browser-executables``).
        environ: the environment to read ``PLAYWRIGHT_BROWSERS_PATH`` from (default: os.environ).
        system_candidates: system paths to try (default: :data:`SYSTEM_CANDIDATES`).
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")
    hint = INSTALL_HINTS[name]
    if playwright_package_dir() is None:
        return Engine(name, False, "missing", reason="the playwright package is not installed",
                      hint="install it with `pip install 'pytest-roo[browser]'`")
    bidi = "moz-firefox" if name == "firefox" else None
    configured = (executables or {}).get(name)
    if configured:
        found = _executable(configured)
        if found is None:
            return Engine(name, False, "missing", reason=(
                f"the configured executable {configured!r} does not exist or is not executable"
            ), hint="fix --roo-browser-executables")
        return Engine(name, True, "configured", executable=found, channel=bidi)
    registry = registry_dir(environ)
    build = _managed_build(name, registry, _revisions())
    if build is not None:
        return Engine(name, True, "playwright", executable=str(build))
    candidates = SYSTEM_CANDIDATES if system_candidates is None else system_candidates
    tried = list(candidates.get(name, ()))
    for path in tried:
        found = _executable(path)
        if found is not None:
            return Engine(name, True, "system", executable=found, channel=bidi)
    where = f"no Playwright build in {registry}"
    if tried:
        where += f" and none of {', '.join(tried)}"
    return Engine(name, False, "missing", reason=where, hint=hint)


def discover_all(
    names: Sequence[str], executables: Mapping[str, str] | None = None
) -> dict[str, Engine]:
    """:func:`discover` for each engine name, in order."""
    return {name: discover(name, executables) for name in names}
