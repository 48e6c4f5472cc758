"""Real Chromium and Firefox: launch, device emulation, the pinned Playwright, evidence."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from pytest_roo.browser.contexts import ContextFactory
from pytest_roo.browser.devices import all_devices, resolve_device, snapshot_version
from pytest_roo.browser.pool import BrowserPool, EngineUnavailable

from .conftest import browser_or_skip

pytestmark = pytest.mark.integration

PINNED = "1.64.1"


def test_installed_playwright_is_the_pinned_one() -> None:
    """Playwright 1.65 breaks Firefox ESR over BiDi (new_context: setMediaFeaturesOverride)."""
    pyproject = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    pins = re.findall(r'"playwright==([0-9.]+)"', pyproject)
    assert pins == [PINNED], f"pyproject pins playwright {pins}, tests were run against {PINNED}"
    assert importlib.metadata.version("playwright") == PINNED
    assert snapshot_version() == PINNED


def test_device_snapshot_is_playwrights_list(pool: BrowserPool) -> None:
    live = pool.playwright.devices
    assert set(live) == set(all_devices())
    assert live["iPhone 13"] == all_devices()["iPhone 13"]


def test_firefox_esr_new_context_and_page_work(pool: BrowserPool) -> None:
    """Fails when a Playwright upgrade speaks BiDi commands Firefox ESR does not know."""
    browser = browser_or_skip(pool, "firefox")
    context = browser.new_context(**resolve_device("iPhone 13").context_args())
    try:
        page = context.new_page()
        page.set_content("<button id=b onclick=\"this.textContent='Welcome alice'\">login</button>")
        page.click("#b")
        assert page.text_content("#b") == "Welcome alice"
        assert page.evaluate("innerWidth") == 390
        # what Firefox does not emulate, as the matrix notes say
        assert page.evaluate("navigator.maxTouchPoints") == 0
    finally:
        context.close()


def test_chromium_emulates_a_phone(pool: BrowserPool) -> None:
    browser = browser_or_skip(pool, "chromium")
    context = browser.new_context(**resolve_device("mobile").context_args())
    try:
        page = context.new_page()
        page.set_content('<meta name="viewport" content="width=device-width"><p>x</p>')
        assert page.evaluate("[innerWidth, navigator.maxTouchPoints > 0, devicePixelRatio]") == [
            390, True, 3,
        ]
        assert page.evaluate("matchMedia('(pointer: coarse)').matches") is True
    finally:
        context.close()


def test_an_unavailable_engine_raises_with_its_reason(pool: BrowserPool) -> None:
    if pool.engines["webkit"].available:
        pytest.skip("webkit is installed here; its absence cannot be tested")
    with pytest.raises(EngineUnavailable, match="playwright install --with-deps webkit"):
        pool.get("webkit")


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_failure_evidence_is_a_screenshot_and_a_trace(
    pool: BrowserPool, engine: str, tmp_path: Path
) -> None:
    factory = ContextFactory(browser_or_skip(pool, engine), resolve_device("desktop").context_args(),
                             title="evidence")
    try:
        page = factory().new_page()
        page.set_content("<h1>broken dashboard</h1>")
        paths = factory.capture(tmp_path / "iteration-1", iteration=True)
        assert [Path(p).name for p in paths] == ["context-1-page-1.png", "context-1.trace.zip"]
        assert Path(paths[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with zipfile.ZipFile(paths[1]) as trace:
            assert any(name.endswith(".trace") for name in trace.namelist())
        assert factory.contexts == []  # the failing iteration's context is closed
        kept = factory.make(fixture_owned=True)
        kept.new_page().set_content("<p>second</p>")
        again = factory.capture(tmp_path / "final")
        assert [Path(p).name for p in again] == ["context-2-page-1.png", "context-2.trace.zip"]
    finally:
        factory.close_all()
    assert factory.contexts == []


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_trace_modes_record_what_they_say(pool: BrowserPool, engine: str, tmp_path: Path) -> None:
    """``--roo-trace``: dom keeps DOM snapshots without screenshots, full adds the screenshots,
    off writes no trace at all (the failure screenshot is still taken)."""
    browser = browser_or_skip(pool, engine)
    contents: dict[str, list[str]] = {}
    for mode in ("dom", "full", "off"):
        factory = ContextFactory(browser, {}, title="modes", trace=mode)
        try:
            page = factory().new_page()
            page.set_content("<button onclick='this.textContent=\"done\"'>go</button>")
            page.click("button")
            paths = factory.capture(tmp_path / mode)
        finally:
            factory.close_all()
        names = [Path(p).name for p in paths]
        assert names[0] == "context-1-page-1.png"
        if mode == "off":
            assert names == ["context-1-page-1.png"]
            continue
        with zipfile.ZipFile(paths[1]) as trace:
            events = "".join(trace.read(n).decode("utf-8", "replace")
                             for n in trace.namelist() if n.endswith(".trace"))
            contents[mode] = trace.namelist()
        assert '"frame-snapshot"' in events, mode
        screencast = '"screencast-frame"' in events
        assert screencast == (mode == "full"), (mode, sorted(set(contents[mode]))[:10])
    with pytest.raises(ValueError, match="invalid trace='films': expected 'dom', 'full' or 'off'"):
        ContextFactory(browser, {}, trace="films")


LEAVES_NOTHING = """
import os
from pytest_roo.browser.engines import discover_all
from pytest_roo.browser.pool import BrowserPool
with BrowserPool(discover_all(["chromium"]), {"headless": True}) as pool:
    browser = pool.get("chromium")
    for _ in range(3):  # a test's own context, closed while tracing
        context = browser.new_context()
        context.tracing.start(snapshots=True)
        context.new_page().set_content("<p>x</p>")
        context.close()
    print("DURING", *sorted(os.listdir(os.environ["TMPDIR"])), flush=True)
"""


def test_the_pool_leaves_nothing_in_the_temporary_directory(pool: BrowserPool) -> None:
    """Playwright leaves a directory behind for every context closed while tracing, unless
    the browser has a traces directory: the pool gives it one, and removes it."""
    browser_or_skip(pool, "chromium")
    # short: Chromium's socket in it must fit in 107 bytes
    scratch = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))
    try:
        env = {**os.environ, "TMPDIR": str(scratch),
               "PYTHONPATH": str(Path(__file__).parents[3])}
        run = subprocess.run([sys.executable, "-c", LEAVES_NOTHING], env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        during = run.stdout.split("DURING", 1)[1].split()
        assert [name for name in during if name.startswith("roo-traces-")], during
        assert not [name for name in during if name.startswith("playwright-tracing-")], during
        assert not list(scratch.iterdir())  # and gone with the pool
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
