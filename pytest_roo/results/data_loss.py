"""The data-loss window of a backup (its recovery point objective, RPO), from the writes a
system acknowledged and the ones the backup holds.

A backup's recovery point is the moment up to which every acknowledged write is in it: the
instant just before the first acknowledged write it does not hold. A disaster at ``destroyed``
loses what was acknowledged from there on, so ``destroyed - recovery point`` is the window of
data lost (0 when the backup holds every write acknowledged before the disaster). Writes
acknowledged after the disaster began are not part of it. Pure logic, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Hashable, Iterable

__all__ = ["LossWindow", "loss_window"]


@dataclasses.dataclass(frozen=True)
class LossWindow:
    """``seconds`` of acknowledged writes lost; ``first_missing`` is the write that opens the
    window (None when nothing was lost), ``missing`` how many writes fall inside it, of
    ``acknowledged`` (those before the disaster)."""

    seconds: float
    first_missing: Hashable | None
    missing: int
    acknowledged: int


def loss_window(acknowledged: Iterable[tuple[Hashable, float]], kept: Collection[Hashable],
                destroyed: float) -> LossWindow:
    """The window of acknowledged writes a restore of ``kept`` loses.

    Args:
        acknowledged: (write, when it was acknowledged) pairs, any order, on the clock of
            ``destroyed``.
        kept: the writes the backup holds.
        destroyed: when the data was destroyed.

    >>> loss_window([("a", 1.0), ("b", 2.0), ("c", 3.0)], {"a"}, destroyed=5.0)
    LossWindow(seconds=3.0, first_missing='b', missing=2, acknowledged=3)
    """
    before = sorted(((at, i, write) for i, (write, at) in enumerate(acknowledged)
                     if at < destroyed), key=lambda item: (item[0], item[1]))
    lost = [(at, write) for at, _, write in before if write not in kept]
    if not lost:
        return LossWindow(0.0, None, 0, len(before))
    at, write = lost[0]
    return LossWindow(destroyed - at, write, len(lost), len(before))
