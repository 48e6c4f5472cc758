"""The verdict table as GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from pytest_roo.report.store import Store
from pytest_roo.results.verdict import verdict_cell

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(store: Store) -> str:
    """The verdicts as Markdown for the GitHub job summary; empty when nothing was judged."""
    passed, failed = store.verdict_counts
    if passed + failed == 0:
        return ""
    icon = "✅" if failed == 0 else "❌"
    lines = [
        f"### {icon} pytest-roo: {passed} of {passed + failed} criteria met",
        "",
        "| test | result | criterion | measured | limit | verdict | samples |",
        "|---|---|---|---|---|---|---|",
    ]
    for nodeid, entry in store.tests.items():
        for v in entry.verdicts:
            verdict = verdict_cell(v)
            if not v["passed"]:
                verdict = f"**{verdict}**"
            result = v["result"] + (f" / {v['metric']}" if v.get("metric") else "")
            cells = [nodeid, result, v["criterion"], v["measured_text"], v["limit_text"], verdict,
                     f"{v['samples']:,}"]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
