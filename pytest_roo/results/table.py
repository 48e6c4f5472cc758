"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["render_table"]


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    max_width: int = 60,
    cut_left: Sequence[int] = (),
) -> str:
    """Columns padded to their widest cell (cells longer than ``max_width`` are cut with ``...``:
    at the end, or at the start for the columns in ``cut_left``, such as test ids, whose end
    (the test name and its parameters) tells them apart).

    >>> print(render_table(["a", "bb"], [["1", "2"]]))
    a  bb
    -  --
    1  2
    """
    def cut(cell: str, left: bool) -> str:
        cell = " ".join(str(cell).split())
        if len(cell) <= max_width:
            return cell
        return "..." + cell[-(max_width - 3):] if left else cell[: max_width - 3] + "..."

    body = [[cut(c, i in cut_left) for i, c in enumerate(row)] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in body]
    return "\n".join(lines)
