"""The responsiveness score on real pages in Chromium and Firefox, with axe-core offline."""

from __future__ import annotations

import pytest

from pytest_roo.browser.devices import resolve_device
from pytest_roo.browser.pool import BrowserPool
from pytest_roo.browser.responsiveness import responsiveness

from .conftest import browser_or_skip

pytestmark = pytest.mark.integration

GOOD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Dashboard</title>
<style>body{font:16px sans-serif;margin:0} main{padding:8px} button{min-height:44px;min-width:44px}
</style></head><body><main><h1>Deployments</h1><p>All systems go.</p>
<button type="button">Start</button> <a href="#logs" style="display:inline-block;padding:12px">Logs</a>
</main></body></html>"""

BAD = """<html><head><title>x</title></head><body>
<div style="width:1400px;font-size:9px">wide table of deployments</div>
<a href="#a" style="font-size:9px">a</a><a href="#b" style="font-size:9px">b</a>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
</body></html>"""


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_good_page_scores_high_and_bad_page_low(pool: BrowserPool, engine: str) -> None:
    browser = browser_or_skip(pool, engine)
    context = browser.new_context(**resolve_device("mobile").context_args())
    try:
        page = context.new_page()
        page.set_content(GOOD)
        good = responsiveness(page)
        assert good.score >= 90, str(good)
        assert good.measurements["axe"]["version"]
        page.set_content(BAD)
        bad = responsiveness(page)
        checks = {finding.check for finding in bad.findings}
        assert {"overflow", "viewport_meta", "tap_targets", "text_size", "accessibility"} <= checks
        assert bad.score < 50, str(bad)
        axe_rules = bad.measurements["axe"]["violations"]
        assert "html-has-lang" in axe_rules
        assert "image-alt" in axe_rules
        quick = responsiveness(page, axe=False)
        assert quick.measurements["axe"] is None
        assert quick.score > bad.score
    finally:
        context.close()
