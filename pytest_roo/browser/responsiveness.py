"""A 0-100 responsiveness score of the page as it is laid out now, with the findings behind it.

Checks and weights (points lost, 100 in total):

========================  ======  ===========================================================
check                     weight  how the points are lost
========================  ======  ===========================================================
horizontal overflow        30     all 30 when the document is wider than the viewport
viewport meta              15     all 15 without ``<meta name="viewport" content="width=device-width">``
tap targets                20     20 x the share of visible links/buttons/inputs smaller than
                                  24 x 24 CSS px (WCAG 2.2 target size, minimum)
text size                  15     15 x the share of visible text elements below 12 CSS px
accessibility (axe-core)   20     per violated rule: critical 10, serious 6, moderate 3,
                                  minor 1; at most 20
========================  ======  ===========================================================

The page checks run in the page (one ``page.evaluate``); axe-core comes bundled with
``axe-playwright-python`` (no network). Works in Chromium and Firefox (WebDriver BiDi).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["WEIGHTS", "Finding", "Responsiveness", "responsiveness", "score"]

WEIGHTS: dict[str, float] = {
    "overflow": 30.0,
    "viewport_meta": 15.0,
    "tap_targets": 20.0,
    "text_size": 15.0,
    "accessibility": 20.0,
}
MIN_TAP_PX = 24
MIN_TEXT_PX = 12
AXE_IMPACT_POINTS = {"critical": 10.0, "serious": 6.0, "moderate": 3.0, "minor": 1.0}

_PAGE_CHECKS = """
([minTap, minText]) => {
  const doc = document.documentElement;
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const label = (el) => {
    const r = el.getBoundingClientRect();
    const id = el.id ? '#' + el.id : '';
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim();
    return `${el.tagName.toLowerCase()}${id} ${Math.round(r.width)}x${Math.round(r.height)}`
      + (text ? ` "${text.slice(0, 30)}"` : '');
  };
  const meta = document.querySelector('meta[name="viewport"]');
  const metaContent = meta ? (meta.getAttribute('content') || '') : '';
  const tappable = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [role=button], [onclick]'
  )].filter(visible);
  const smallTaps = tappable.filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width < minTap || r.height < minTap;
  });
  const texts = [];
  const walker = document.createTreeWalker(document.body || doc, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim()) continue;
    if (['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
    seen.add(el);
    if (visible(el)) texts.push(el);
  }
  const smallTexts = texts.filter((el) => parseFloat(getComputedStyle(el).fontSize) < minText);
  return {
    viewportWidth: window.innerWidth,
    scrollWidth: Math.max(doc.scrollWidth, document.body ? document.body.scrollWidth : 0),
    clientWidth: doc.clientWidth,
    viewportMeta: metaContent,
    tappable: tappable.length,
    smallTaps: smallTaps.slice(0, 20).map(label),
    smallTapCount: smallTaps.length,
    texts: texts.length,
    smallTexts: smallTexts.slice(0, 20).map((el) =>
      `${el.tagName.toLowerCase()} ${getComputedStyle(el).fontSize}`
      + ` "${el.textContent.trim().slice(0, 30)}"`),
    smallTextCount: smallTexts.length,
    devicePixelRatio: window.devicePixelRatio,
    maxTouchPoints: navigator.maxTouchPoints,
    coarsePointer: matchMedia('(pointer: coarse)').matches,
  };
}
"""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem found, the points it cost and examples of where."""

    check: str
    points: float
    message: str
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain data for the JSON report."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Responsiveness:
    """The score (0-100), the findings that lowered it, and the raw measurements."""

    score: float
    findings: tuple[Finding, ...]
    measurements: dict[str, Any]

    def __str__(self) -> str:
        lost = ", ".join(f"-{f.points:g} {f.check}" for f in self.findings)
        lines = [f"responsiveness {self.score:.0f}/100" + (f" ({lost})" if lost else "")]
        lines += [f"  -{f.points:.1f} {f.check}: {f.message}" for f in self.findings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Score, findings and measurements as plain data for the JSON report."""
        return {
            "score": self.score,
            "findings": [finding.to_dict() for finding in self.findings],
            "measurements": self.measurements,
        }


def score(measurements: dict[str, Any], violations: list[dict[str, Any]] | None) -> Responsiveness:
    """Turn page measurements and axe violations into a :class:`Responsiveness` (pure logic).

    ``violations`` is axe-core's ``violations`` list, or None when axe was not run (the
    accessibility weight is then not charged, and ``measurements["axe"]`` says so).
    """
    findings: list[Finding] = []
    scroll, client = measurements["scrollWidth"], measurements["clientWidth"]
    if scroll > client + 1:
        findings.append(Finding(
            "overflow", WEIGHTS["overflow"],
            f"the page is {scroll}px wide in a {client}px viewport (horizontal scrolling)",
        ))
    meta = str(measurements.get("viewportMeta") or "")
    if "width=device-width" not in meta.replace(" ", ""):
        message = (f"viewport meta is {meta!r}, without width=device-width" if meta
                   else 'no <meta name="viewport" content="width=device-width, ...">')
        findings.append(Finding("viewport_meta", WEIGHTS["viewport_meta"], message))
    tappable, small_taps = measurements["tappable"], measurements["smallTapCount"]
    if tappable and small_taps:
        findings.append(Finding(
            "tap_targets", round(WEIGHTS["tap_targets"] * small_taps / tappable, 2),
            f"{small_taps} of {tappable} tap targets are smaller than "
            f"{MIN_TAP_PX}x{MIN_TAP_PX} px", tuple(measurements.get("smallTaps", ())),
        ))
    texts, small_texts = measurements["texts"], measurements["smallTextCount"]
    if texts and small_texts:
        findings.append(Finding(
            "text_size", round(WEIGHTS["text_size"] * small_texts / texts, 2),
            f"{small_texts} of {texts} text elements are below {MIN_TEXT_PX}px",
            tuple(measurements.get("smallTexts", ())),
        ))
    if violations:
        points = sum(AXE_IMPACT_POINTS.get(str(v.get("impact")), 1.0) for v in violations)
        findings.append(Finding(
            "accessibility", min(WEIGHTS["accessibility"], points),
            f"{len(violations)} axe-core rule(s) violated",
            tuple(f"{v.get('id')} ({v.get('impact')}, {len(v.get('nodes', []))} nodes)"
                  for v in violations),
        ))
    total = max(0.0, 100.0 - sum(finding.points for finding in findings))
    return Responsiveness(round(total, 2), tuple(findings), dict(measurements))


def responsiveness(page: Page, *, axe: bool = True) -> Responsiveness:
    """Measure the page as it is now and score it (see the module docs for the weights).

    Args:
        page: a loaded Playwright page (sync API), in the device/viewport under test.
        axe: also run axe-core (about 0.3-0.9 s); False skips the accessibility check.

    Example::

        result = responsiveness(roo_page)
        assert result.score >= 90, str(result)
    """
    measurements: dict[str, Any] = page.evaluate(_PAGE_CHECKS, [MIN_TAP_PX, MIN_TEXT_PX])
    violations: list[dict[str, Any]] | None = None
    if axe:
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(page)
        violations = list(results.response.get("violations", []))
        measurements["axe"] = {
            "version": results.response.get("testEngine", {}).get("version"),
            "violations": [v.get("id") for v in violations],
        }
    else:
        measurements["axe"] = None
    return score(measurements, violations)
