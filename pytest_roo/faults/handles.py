"""What the Proxy API hands back: a handle per toxic, one per network profile, and the window
during which a timed fault was on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_roo.faults.toxics import Toxic
from pytest_roo.faults.windows import FaultWindow

if TYPE_CHECKING:
    from pytest_roo.faults.proxy import Proxy

__all__ = ["FaultWindow", "ProfileHandle", "ToxicHandle"]


class ToxicHandle:
    """A toxic on a proxy: change it while traffic flows, remove it, or use it as a block.

    Example::

        slow = proxy.add("latency", latency=100)
        slow.update(latency=300, jitter=50)   # takes effect on the next chunk of data
        slow.remove()
    """

    def __init__(self, proxy: Proxy, toxic: Toxic) -> None:
        self._proxy = proxy
        self.toxic = toxic

    @property
    def name(self) -> str:
        """The toxic's name on its proxy."""
        return self.toxic.name

    def update(self, *, toxicity: float | None = None, **attributes: Any) -> ToxicHandle:
        """Change the toxic's toxicity or attributes in place; returns this handle."""
        self.toxic = self._proxy.update(self.name, toxicity=toxicity, **attributes).toxic
        return self

    def remove(self) -> None:
        """Remove the toxic from its proxy."""
        self._proxy.remove(self.name)

    def __enter__(self) -> ToxicHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.name in self._proxy.toxics:
            self.remove()

    def __repr__(self) -> str:
        return f"<ToxicHandle {self.toxic.describe()}>"


class ProfileHandle:
    """The toxics a network profile added; ``remove()`` or leave the ``with`` block to undo."""

    def __init__(self, proxy: Proxy, name: str, handles: list[ToxicHandle]) -> None:
        self._proxy = proxy
        self.name = name
        self.handles = handles

    def remove(self) -> None:
        """Remove every toxic of the profile that is still there."""
        for handle in self.handles:
            if handle.name in self._proxy.toxics:
                handle.remove()

    def __enter__(self) -> ProfileHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
