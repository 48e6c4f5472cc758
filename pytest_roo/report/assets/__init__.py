"""Files the HTML report inlines: uPlot (vendored from its npm package) and the report's own
script and styles.

:data:`UPLOT_VERSION` is the pin: the repository's package.json names the same version, and a
test checks that the vendored files are byte-identical to that npm package's (after
``npm install``).
"""

from __future__ import annotations

from importlib import resources

__all__ = ["UPLOT_FILES", "UPLOT_VERSION", "read"]

UPLOT_VERSION = "1.6.32"
#: vendored file name -> its path inside the npm package ``uplot``
UPLOT_FILES = {
    "uPlot.iife.min.js": "dist/uPlot.iife.min.js",
    "uPlot.min.css": "dist/uPlot.min.css",
    "uPlot.LICENSE": "LICENSE",
}


def read(name: str) -> str:
    """The text of one asset file shipped in this package."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
