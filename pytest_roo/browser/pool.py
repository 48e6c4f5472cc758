"""One browser per engine per process, launched on first use and closed at the end.

Playwright starts every browser in its own process group under its driver; when the Python
process ends (normally, on Ctrl-C or killed) the driver's pipe closes and the driver kills the
browsers it launched, so none is left behind. :meth:`BrowserPool.close` closes them explicitly.

The browsers keep their traces in a directory of the pool (``traces_dir``), removed by
:meth:`BrowserPool.close`: without one, Playwright leaves a directory in the system's temporary
directory for every context closed while it was tracing (a test's own ``context.close()``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_roo.browser.engines import Engine

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserType, Playwright

__all__ = ["BrowserPool", "EngineUnavailable"]


class EngineUnavailable(RuntimeError):
    """The engine cannot run here; the message holds the reason and the install hint."""


class BrowserPool:
    """Lazily launched browsers by engine, sharing one Playwright driver.

    Args:
        engines: the discovered engines (:func:`pytest_roo.browser.engines.discover_all`).
        launch_args: keyword arguments for every ``BrowserType.launch`` (``headless``,
            ``slow_mo``, ``args``...); the engine's own ``executable_path``/``channel`` win.
        launch_timeout: seconds a launch may take.
        playwright: a running Playwright instance to use (and not stop); by default the pool
            starts its own. Playwright's sync API allows one instance per thread, so a process
            that also runs pytest-playwright shares that plugin's instance.

    Example::

        with BrowserPool(discover_all(["chromium"])) as pool:
            page = pool.get("chromium").new_page()
    """

    def __init__(
        self,
        engines: Mapping[str, Engine],
        launch_args: Mapping[str, Any] | None = None,
        *,
        launch_timeout: float = 60.0,
        playwright: Playwright | None = None,
    ) -> None:
        self.engines = dict(engines)
        self.launch_args = dict(launch_args or {})
        self.launch_timeout = launch_timeout
        self._playwright: Playwright | None = playwright
        self._manager: Any = None
        self._traces: str | None = None
        self._browsers: dict[str, Browser] = {}
        self._failed: dict[str, str] = {}
        #: seconds each launch took, by engine
        self.launch_seconds: dict[str, float] = {}

    @property
    def playwright(self) -> Playwright:
        """The Playwright instance (its driver starts on first use)."""
        if self._playwright is None:
            from playwright.sync_api import sync_playwright

            self._manager = sync_playwright()
            self._playwright = self._manager.start()
        return self._playwright

    def get(self, name: str) -> Browser:
        """The browser of engine ``name``, launched now if not yet. Raises EngineUnavailable."""
        browser = self._browsers.get(name)
        if browser is not None and browser.is_connected():
            return browser
        engine = self.engines.get(name)
        if engine is None:
            raise EngineUnavailable(f"{name} is not an engine of this run")
        if not engine.available:
            raise EngineUnavailable(engine.skip_reason)
        if name in self._failed:
            raise EngineUnavailable(self._failed[name])
        kwargs = {**self.launch_args, **engine.launch_args()}
        kwargs.setdefault("timeout", self.launch_timeout * 1000)
        if "traces_dir" not in kwargs:
            if self._traces is None:
                self._traces = tempfile.mkdtemp(prefix="roo-traces-")
            kwargs["traces_dir"] = self._traces
        started = time.perf_counter()
        try:
            browser_type: BrowserType = getattr(self.playwright, name)
            browser = browser_type.launch(**kwargs)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self._failed[name] = (
                f"{engine.describe()} failed to launch: {first}; {engine.hint or 'check the binary'}"
            )
            raise EngineUnavailable(self._failed[name]) from exc
        self.launch_seconds[name] = time.perf_counter() - started
        self._browsers[name] = browser
        return browser

    def launched(self) -> dict[str, Browser]:
        """The browsers launched so far, by engine."""
        return dict(self._browsers)

    def close(self) -> None:
        """Close every browser and stop the driver. Safe to call twice."""
        for browser in list(self._browsers.values()):
            try:
                browser.close()
            except Exception:  # the browser may already be gone; the driver reaps it
                pass
        self._browsers.clear()
        if self._manager is not None:
            try:
                self._manager.__exit__(None, None, None)
            finally:
                self._manager = None
                self._playwright = None
        if self._traces is not None:
            shutil.rmtree(self._traces, ignore_errors=True)
            self._traces = None

    def __enter__(self) -> BrowserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
