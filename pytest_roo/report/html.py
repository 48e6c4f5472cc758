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
import html
import json
import math
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_roo import units
from pytest_roo.report import figures
from pytest_roo.report.assets import UPLOT_VERSION
from pytest_roo.report.assets import read as read_asset
from pytest_roo.results.verdict import format_value

__all__ = ["host_facts", "main", "render_html", "result_figures", "write_html"]

_STATUS_TEXT = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _format(kind: str | None, value: Any) -> str:
    """A base-unit value in the verdict's own unit (as the terminal table prints it)."""
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format_value(kind or "count", value)


def _margin_text(share: float | None) -> str:
    if share is None:
        return "-"
    if share >= 0:
        return f"{share:.1%} headroom"
    if share <= -1:  # an upper limit exceeded at least twice over: say how many times
        ratio = 1 - share
        return f"{ratio:,.0f}x the limit" if ratio >= 100 else f"{ratio:.3g}x the limit"
    return f"{-share:.1%} past the limit"


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(_STATUS_TEXT.get(status, status.upper()))}</span>'


# --- data for the charts ------------------------------------------------------------------------


def result_figures(result: Mapping[str, Any], max_points: int = figures.MAX_POINTS) -> dict[str, Any]:
    """Every chart series of one LoadResult document (the part of the page's data it needs)."""
    from pytest_roo.results.metrics import LatencyMetric

    histograms = {}
    for name, body in (result.get("metrics") or {}).items():
        encoded = body.get("hdr") if isinstance(body, Mapping) else None
        if encoded:
            unit = str(body.get("unit") or "us")
            histograms[name] = LatencyMetric.decode(name, encoded, unit).microsecond_histogram()
    info = result.get("info") or {}
    resources = info.get("resources") if isinstance(info, Mapping) else None
    timeline = figures.downsample_timeline(result.get("timeline") or [], max_points)
    # a result compared against a baseline: the baseline drawn beside it (see roo-baseline)
    overlay = info.get("baseline") if isinstance(info, Mapping) else None
    if isinstance(overlay, Mapping):
        label = f"baseline {overlay.get('name', '')}"
        body = overlay.get("metric")
        if isinstance(body, Mapping) and body.get("hdr"):
            name = f"{overlay.get('primary')} ({label})"
            histograms[name] = _microsecond_histogram(name, body)
        figures.overlay_baseline(timeline, overlay.get("timeline") or [], label, max_points)
    return {
        "timeline": timeline,
        "spectrum": figures.spectrum(histograms),
        "histogram": figures.latency_histogram(histograms),
        "resources": (
            None if resources is None
            else figures.resource_timeline(resources, float(result.get("started_at") or 0),
                                           max_points)
        ),
    }


def _microsecond_histogram(name: str, body: Mapping[str, Any]) -> Any:
    """A metric document's histogram in microseconds, as the charts draw every metric."""
    from pytest_roo.results.metrics import LatencyMetric

    unit = str(body.get("unit") or "us")
    metric = LatencyMetric.decode(name, body["hdr"], *([unit] if unit != "us" else []))
    to_microseconds = getattr(metric, "microsecond_histogram", None)
    return metric.histogram if to_microseconds is None else to_microseconds()


def host_facts() -> dict[str, Any]:
    """Facts of the machine that writes the report (the one that ran the session)."""
    facts: dict[str, Any] = {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        facts["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not on every platform
        pass
    return facts


# --- sections -----------------------------------------------------------------------------------


def _summary_html(report: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    counts = summary["counts"]
    total = summary["criteria"]
    met = counts["pass"]
    state = "fail" if counts["fail"] or any(
        f["status"] in ("fail", "failed", "error", "interrupted") for f in summary["failures"]
    ) else ("inconclusive" if counts["inconclusive"] else "pass")
    outcomes = ", ".join(f"{n} {name}" for name, n in sorted(summary["outcomes"].items()))
    parts = [
        f'<section id="summary" class="summary {state}">',
        f"<h2>{met} of {total} criteria met</h2>" if total else "<h2>No criteria judged</h2>",
        '<div class="tiles">',
        f'<div class="tile pass"><b>{counts["pass"]}</b> passed</div>',
        f'<div class="tile fail"><b>{counts["fail"]}</b> failed</div>',
        f'<div class="tile inconclusive"><b>{counts["inconclusive"]}</b> inconclusive</div>',
        f'<div class="tile"><b>{summary["results"]}</b> results</div>',
        f'<div class="tile"><b>{len(report.get("tests", []))}</b> tests'
        + (f"<small>{_e(outcomes)}</small>" if outcomes else "") + "</div>",
    ]
    matrix = (report.get("sections") or {}).get("matrix")
    if isinstance(matrix, Mapping) and matrix.get("cells"):
        rate = matrix.get("success_rate")
        parts.append(
            f'<div class="tile"><b>{_e(units.format_percent(rate))}</b> browser cells passed'
            f'<small>{matrix.get("passed", 0)} passed, {matrix.get("failed", 0)} failed, '
            f'{matrix.get("skipped", 0)} skipped</small></div>'
        )
    parts.append("</div>")
    if summary["failures"]:
        parts.append("<h3>What failed and why</h3><ul class=\"failures\">")
        for item in summary["failures"]:
            verdict = item.get("verdict")
            if verdict:
                text = (
                    f"{_badge(item['status'])} <code>{_e(verdict.get('criterion'))}</code> on "
                    f"{_e(verdict.get('result'))}: measured {_e(verdict.get('measured_text'))}, "
                    f"limit {_e(verdict.get('limit_text'))}"
                    + (f" &mdash; {_e(verdict.get('reason'))}" if verdict.get("reason") else "")
                )
            else:
                text = f"{_badge(str(item['status']))} {_e(item.get('message') or '')}"
            parts.append(f'<li>{text} <span class="test">{_e(item["test"])}</span></li>')
        parts.append("</ul>")
    if summary["worst"]:
        parts.append(
            "<h3>Tightest margins</h3><table><thead><tr><th>verdict</th><th>criterion</th>"
            "<th>test</th><th>measured</th><th>limit</th><th>margin</th></tr></thead><tbody>"
        )
        for row in summary["worst"]:
            v = row["verdict"]
            parts.append(
                f"<tr><td>{_badge(row['status'])}</td><td><code>{_e(v.get('criterion'))}</code>"
                f"</td><td class=\"test\">{_e(row['test'])}</td>"
                f"<td>{_e(v.get('measured_text'))}</td><td>{_e(v.get('limit_text'))}</td>"
                f"<td class=\"{'neg' if (row['margin'] or 0) < 0 else 'pos'}\">"
                f"{_e(_margin_text(row['margin']))}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def _criteria_html(report: Mapping[str, Any]) -> str:
    rows = []
    for test in report.get("tests", []):
        for v in test.get("verdicts", []):
            status = figures.status_of(v)
            result = str(v.get("result", "")) + (f" / {v['metric']}" if v.get("metric") else "")
            bound = v.get("bound")
            confidence = v.get("confidence")
            bound_text = _format(v.get("kind"), bound) if bound is not None else "-"
            if bound is not None and isinstance(confidence, (int, float)):
                bound_text += f" ({confidence:.0%})"
            rows.append(
                f'<tr class="{_e(status)}"><td>{_badge(status)}</td>'
                f"<td><code>{_e(v.get('criterion'))}</code></td><td>{_e(result)}</td>"
                f"<td>{_e(v.get('measured_text'))}</td><td>{_e(v.get('limit_text'))}</td>"
                f"<td>{_e(bound_text)}</td><td class=\"num\">{_e(_count(v.get('samples')))}</td>"
                f"<td class=\"test\">{_e(test.get('nodeid'))}</td>"
                f"<td>{_e(v.get('reason') or '')}</td></tr>"
            )
    if not rows:
        return ""
    return (
        '<section id="criteria"><h2>Criteria</h2><table class="criteria"><thead><tr>'
        "<th>verdict</th><th>criterion</th><th>result / metric</th><th>measured</th>"
        "<th>limit</th><th>bound</th><th>samples</th><th>test</th><th>reason</th></tr></thead>"
        "<tbody>" + "\n".join(rows) + "</tbody></table></section>"
    )


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else _format("count", value)


def _result_html(index: int, nodeid: str, result: Mapping[str, Any], figs: Mapping[str, Any]) -> str:
    name = str(result.get("name", "result"))
    errors = result.get("errors") or {}
    stats = [
        ("duration", units.format_duration(result.get("duration"))),
        ("operations", _count(result.get("operations"))),
        ("error rate", units.format_percent(result.get("error_rate"))),
        ("throughput", units.format_rate(result.get("throughput"))),
    ]
    generator = result.get("generator") or {}
    if "cpu" in generator:
        stats.append(("generator CPU", units.format_percent(generator["cpu"]) + " of one core"))
    parts = [
        f'<section class="result" id="result-{index}">',
        f"<h3>{_e(name)} <span class=\"test\">{_e(nodeid)}</span></h3>",
        '<dl class="stats">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in stats)
        + "</dl>",
    ]
    if result.get("saturated"):
        parts.append(f'<p class="warning">{_e(result["saturated"])}</p>')
    info = result.get("info") or {}
    for key in ("stopped", "aborted", "interrupted"):
        if info.get(key):
            parts.append(f'<p class="warning">{_e(key)}: {_e(info[key])}</p>')
    metrics = result.get("metrics") or {}
    if metrics:
        heads = ["count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"]
        parts.append(
            '<table class="metrics"><thead><tr><th>metric</th>'
            + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>"
        )
        for metric, body in metrics.items():
            summary = body.get("summary", {}) if isinstance(body, Mapping) else {}
            cells = [_count(summary.get("count"))] + [
                units.format_duration(summary.get(h)) for h in heads[1:]
            ]
            primary = " (primary)" if metric == result.get("primary") else ""
            parts.append(
                f"<tr><td>{_e(metric)}{primary}</td>"
                + "".join(f'<td class="num">{_e(c)}</td>' for c in cells) + "</tr>"
            )
        parts.append("</tbody></table>")
    charts = []
    timeline = figs["timeline"]
    if timeline["t"]:
        bucket = timeline["bucket"]
        per = "per second" if bucket == 1 else f"per second, averaged over {bucket} s buckets"
        if timeline["latency_ms"]:
            worst = "" if bucket == 1 else f" (largest second of each {bucket} s bucket)"
            charts.append(("latency", f"Latency over time, ms{worst}"))
        charts.append(("throughput", f"Operations and errors over time, {per}"))
    if figs["spectrum"]["x"]:
        charts.append(("spectrum", "Latency by percentile, ms (HdrHistogram spectrum)"))
    if figs["histogram"]["x"]:
        charts.append(("histogram", "Latency histogram: samples per bin, log-spaced ms"))
    resources = figs.get("resources")
    if resources:
        for group in resources["groups"]:
            label = {"memory": "MB", "cpu": "% of one core"}.get(group, "")
            charts.append((f"resources:{group}", f"Resources: {group}" + (f", {label}" if label else "")))
    if charts:
        parts.append('<div class="charts">')
        for kind, title in charts:
            parts.append(
                f'<figure><figcaption>{_e(title)}</figcaption>'
                f'<div class="chart" data-result="{index}" data-chart="{_e(kind)}"></div></figure>'
            )
        parts.append("</div>")
    tables = []
    if errors:
        total = sum(int(n) for n in errors.values()) or 1
        tables.append(
            "<table><thead><tr><th>error kind</th><th>count</th><th>share</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td>{_e(kind)}</td><td class=\"num\">{_count(int(n))}</td>"
                f"<td class=\"num\">{_e(units.format_percent(int(n) / total))}</td></tr>"
                for kind, n in sorted(errors.items(), key=lambda kv: -int(kv[1]))
            ) + "</tbody></table>"
        )
    counters = result.get("counters") or {}
    if counters:
        tables.append(
            "<table><thead><tr><th>counter</th><th>value</th></tr></thead><tbody>"
            + "".join(f"<tr><td>{_e(k)}</td><td class=\"num\">{_e(_count(v))}</td></tr>"
                      for k, v in sorted(counters.items())) + "</tbody></table>"
        )
    if tables:
        parts.append('<div class="tables">' + "".join(tables) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _href(path: str, base_dir: Path | None) -> str:
    target = Path(path)
    if base_dir is not None and target.is_absolute():
        try:
            return Path(os.path.relpath(target, base_dir)).as_posix()
        except ValueError:  # another drive on Windows
            return target.as_uri()
    return target.as_posix()


def _matrix_html(matrix: Mapping[str, Any], base_dir: Path | None) -> str:
    cells = [c for c in matrix.get("cells", []) if isinstance(c, Mapping)]
    if not cells:
        return ""
    columns = list(matrix.get("columns") or dict.fromkeys(c.get("cell") for c in cells))
    grid: dict[str, dict[str, Mapping[str, Any]]] = {}
    for cell in cells:
        grid.setdefault(str(cell.get("test")), {})[str(cell.get("cell"))] = cell
    rate = matrix.get("success_rate")
    head = (
        f"{matrix.get('passed', 0)} passed, {matrix.get('failed', 0)} failed, "
        f"{matrix.get('skipped', 0)} skipped of {len(cells)} cells; success rate "
        + ("n/a (no cell ran)" if rate is None else units.format_percent(rate))
    )
    minimum = matrix.get("min_success")
    if minimum is not None:
        met = "met" if matrix.get("meets_min_success") else "NOT MET"
        head += f" (minimum {units.format_percent(minimum)}: {met})"
    parts = [
        '<section id="matrix"><h2>Browser matrix</h2>', f"<p>{_e(head)}</p>",
        '<table class="matrix"><thead><tr><th>test</th>'
        + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr></thead><tbody>",
    ]
    for test, row in grid.items():
        tds = []
        for column in columns:
            entry = row.get(column)
            if entry is None:
                tds.append('<td class="none">-</td>')
                continue
            outcome = str(entry.get("outcome", ""))
            links = " ".join(
                f'<a href="{_e(_href(str(p), base_dir))}">'
                f'{_e("trace" if str(p).endswith(".zip") else "screenshot" if str(p).endswith(".png") else Path(str(p)).name)}</a>'
                for p in entry.get("evidence", [])
            )
            tds.append(
                f'<td class="{_e(outcome)}" title="{_e(entry.get("reason") or "")}">'
                f"{_e(outcome.upper() if outcome == 'fail' else outcome)}"
                + (f'<div class="evidence">{links}</div>' if links else "") + "</td>"
            )
        parts.append(f'<tr><td class="test">{_e(test)}</td>' + "".join(tds) + "</tr>")
    parts.append("</tbody></table>")
    notes: list[str] = []
    skips: dict[str, list[str]] = {}
    for cell in cells:
        if cell.get("outcome") == "fail":
            notes.append(f"<li>FAIL <span class=\"test\">{_e(cell.get('nodeid'))}</span>: "
                         f"{_e(cell.get('reason'))}</li>")
        elif cell.get("outcome") == "skip":
            skips.setdefault(str(cell.get("reason") or "skipped"), []).append(str(cell.get("cell")))
    for reason, skipped in skips.items():
        notes.append(f"<li>skip {_e(', '.join(dict.fromkeys(skipped)))}: {_e(reason)}</li>")
    engines = matrix.get("engines") or {}
    for name, engine in engines.items():
        if not isinstance(engine, Mapping):
            continue
        if engine.get("available"):
            via = f" over WebDriver BiDi ({engine['channel']})" if engine.get("channel") else ""
            described = f"{engine.get('source', '')} {engine.get('executable') or ''}{via}"
        else:
            described = f"unavailable: {engine.get('reason', '')}; {engine.get('hint', '')}"
        notes.append(f"<li>engine {_e(name)}: {_e(described.strip())}</li>")
    if notes:
        parts.append("<ul>" + "".join(notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _host_html(report: Mapping[str, Any], host: Mapping[str, Any]) -> str:
    rows = []
    recorded = (report.get("sections") or {}).get("host") or report.get("host")
    facts = dict(recorded) if isinstance(recorded, Mapping) else {}
    label = "recorded" if facts else "when the report was written"
    for key, value in {**host, **facts}.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value
        rows.append(f"<tr><th>{_e(key.replace('_', ' '))}</th><td>{_e(shown)}</td></tr>")
    generator_rows = []
    for test in report.get("tests", []):
        for result in test.get("results", []):
            gen = result.get("generator") or {}
            if not gen:
                continue
            generator_rows.append(
                f"<tr><td>{_e(result.get('name'))}</td><td class=\"test\">{_e(test.get('nodeid'))}"
                f"</td><td class=\"num\">{_e(units.format_percent(gen.get('cpu')))}</td>"
                f"<td class=\"num\">{_e(units.format_percent(gen.get('max_cpu')))}</td>"
                f"<td class=\"num\">{_e(units.format_duration(gen.get('loop_lag_max')))}</td>"
                f"<td>{'SATURATED' if result.get('saturated') else 'ok'}</td></tr>"
            )
    settings = report.get("settings") or {}
    parts = [f'<section id="host"><h2>Host</h2><p>Facts {label}.</p><table class="facts">'
             + "".join(rows) + "</table>"]
    if generator_rows:
        parts.append(
            "<h3>Load generator</h3><table><thead><tr><th>result</th><th>test</th>"
            "<th>CPU (one core)</th><th>saturation limit</th><th>event-loop lag max</th>"
            "<th>state</th></tr></thead><tbody>" + "".join(generator_rows) + "</tbody></table>"
        )
    if settings:
        parts.append(
            "<h3>Settings</h3><table class=\"facts\">" + "".join(
                f"<tr><th>{_e(k)}</th><td>{_e(json.dumps(v) if not isinstance(v, str) else v)}"
                "</td></tr>" for k, v in settings.items()
            ) + "</table>"
        )
    parts.append("</section>")
    return "\n".join(parts)


# --- the page -----------------------------------------------------------------------------------


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
