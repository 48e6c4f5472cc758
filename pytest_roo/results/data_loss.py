"""The data-loss window of a backup (its recovery point objective, RPO), from the writes a
system acknowledged and the ones the backup holds.

The backup's recovery point is the newest acknowledged write it holds. A disaster at
``destroyed`` loses what was acknowledged after that point, so when any such write is missing
``destroyed - recovery point`` is the window of data lost; 0 when none is. Writes missing from
before the point are holes, not part of the window (whether a restore brings back what the
backup holds is another check). A backup holding none of the writes loses everything since the
first one (a lower bound of the window: its true recovery point is older still). Writes
acknowledged after the disaster began are left out. Pure logic, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Hashable, Iterable

__all__ = ["LossWindow", "loss_window"]


@dataclasses.dataclass(frozen=True)
class LossWindow:
    """``seconds`` of acknowledged writes lost; ``recovery_point`` is when the newest write
    the backup holds was acknowledged (None when it holds none), ``lost`` how many writes
    acknowledged after it are missing, ``holes`` how many before it are, of ``acknowledged``
    (those before the disaster)."""

    seconds: float
    recovery_point: float | None
    lost: int
    holes: int
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
    LossWindow(seconds=4.0, recovery_point=1.0, lost=2, holes=0, acknowledged=3)
    """
    before = [(at, write) for write, at in acknowledged if at < destroyed]
    held = [at for at, write in before if write in kept]
    if not held:
        first = min((at for at, _ in before), default=destroyed)
        return LossWindow(destroyed - first, None, len(before), 0, len(before))
    point = max(held)
    lost = sum(1 for at, write in before if at > point and write not in kept)
    holes = sum(1 for at, write in before if at <= point and write not in kept)
    return LossWindow(destroyed - point if lost else 0.0, point, lost, holes, len(before))
