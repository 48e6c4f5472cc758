"""The session report as one self-contained HTML file (``--roo-report-html PATH``).

Input is the report document of :meth:`pytest_roo.report.store.Store.to_dict` (schema
``pytest-roo/report/v1``). Tables are rendered here; charts are drawn in the browser by uPlot
(inlined, with its licence) from series computed in :mod:`pytest_roo.report.figures`. Nothing is
fetched over the network: the script, the styles and the data are in the file, and its Content
Security Policy forbids any other source. Screenshots and traces of the browser matrix are
linked, relative to the report's directory.

No pytest import.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_roo.report import figures
from pytest_roo.report.assets import UPLOT_VERSION
from pytest_roo.report.assets import read as read_asset
from pytest_roo.report.html_data import host_facts, result_figures
from pytest_roo.report.html_sections import (
    _criteria_html,
    _e,
    _host_html,
    _matrix_html,
    _result_html,
    _summary_html,
)

__all__ = ["host_facts", "main", "render_html", "result_figures", "write_html"]

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)


def _script_json(data: Any) -> str:
    """JSON that cannot end its <script> element early (every ``<`` escaped)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def render_html(
    report: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    host: Mapping[str, Any] | None = None,
    max_points: int = figures.MAX_POINTS,
) -> str:
    """The whole page. ``base_dir`` is where the file goes (evidence links are made relative to
    it); ``host`` the facts of the machine (default: this one, now)."""
    summary = figures.summarize(report)
    host = host_facts() if host is None else host
    results_html: list[str] = []
    chart_data: list[dict[str, Any]] = []
    for test in report.get("tests", []):
        for result in test.get("results", []):
            figs = result_figures(result, max_points)
            results_html.append(_result_html(len(chart_data), str(test.get("nodeid")), result, figs))
            chart_data.append(figs)
    sections = report.get("sections") or {}
    matrix = sections.get("matrix")
    created = report.get("created_at") or dt.datetime.now(dt.timezone.utc).isoformat(
        timespec="seconds")
    title = f"pytest-roo report {created}"
    exit_status = report.get("exit_status")
    body = [
        f"<header><h1>pytest-roo report</h1><p>{_e(created)} &middot; pytest-roo "
        f"{_e(report.get('pytest_roo_version', ''))} &middot; exit status "
        f"{_e('-' if exit_status is None else exit_status)}</p>"
        '<nav><a href="#summary">summary</a> <a href="#criteria">criteria</a> '
        '<a href="#results">results</a> <a href="#matrix">browser matrix</a> '
        '<a href="#host">host</a></nav></header>',
        _summary_html(report, summary),
        _criteria_html(report),
        '<section id="results"><h2>Results</h2>'
        + ("\n".join(results_html) if results_html else "<p>No load result was recorded.</p>")
        + "</section>",
        _matrix_html(matrix, base_dir) if isinstance(matrix, Mapping) else "",
        _host_html(report, host),
        f"<footer>Charts: uPlot {UPLOT_VERSION} &copy; Leon Sorokin, MIT licence (below).</footer>",
    ]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(title)}</title>",
        f"<style>{read_asset('uPlot.min.css')}</style>",
        f"<style>{read_asset('report.css')}</style>",
        "</head><body>",
        *body,
        f'<script type="application/json" id="roo-data">{_script_json({"results": chart_data})}'
        "</script>",
        f"<!--\nuPlot {UPLOT_VERSION}\n{_e(read_asset('uPlot.LICENSE')).replace('--', '- -')}-->",
        f"<script>{read_asset('uPlot.iife.min.js')}</script>",
        f"<script>{read_asset('report.js')}</script>",
        "</body></html>",
        "",
    ])


def write_html(path: str | os.PathLike[str], report: Mapping[str, Any], **kwargs: Any) -> Path:
    """Render ``report`` into ``path`` (parents created, replaced atomically); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("base_dir", target.parent.resolve())
    text = render_html(report, **kwargs)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target



def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_roo.report.html REPORT.json [-o REPORT.html]``: the page of a JSON
    report written earlier (by ``--roo-report-json``, e.g. a CI artifact)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m pytest_roo.report.html",
        description="Render a pytest-roo JSON report as a self-contained HTML page.",
    )
    parser.add_argument("report", type=Path, help="the JSON report (--roo-report-json)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="the HTML file to write (default: the report's name with .html)")
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read {str(args.report)!r}: {exc}")
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != "pytest-roo/report/v1":
        parser.error(f"{str(args.report)!r} is not a pytest-roo report: schema {schema!r}, "
                     "expected 'pytest-roo/report/v1'")
    out = write_html(args.output or args.report.with_suffix(".html"), data)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
