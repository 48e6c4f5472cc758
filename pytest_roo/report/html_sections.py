"""The sections of the HTML report, each rendered from the report document to escaped HTML:
summary, criteria, one per load result, the browser matrix and the host.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_roo import units
from pytest_roo.report import figures
from pytest_roo.report.capacity_curve import capacity_html
from pytest_roo.results.verdict import format_value

_STATUS_TEXT = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}


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
    if figs.get("capacity"):
        parts.append(capacity_html(info.get("capacity")))
        charts.append(("capacity:throughput", "Capacity: achieved against offered rate, per s"))
        charts.append(("capacity:latency", "Capacity: latency per step by offered rate, ms"))
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
