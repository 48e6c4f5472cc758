"""Which toxics apply to one proxied connection, and where the slicer cuts: the pure parts of the
in-process proxy (no sockets, no event loop).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from pytest_roo.faults.toxics import STREAMS, Toxic

__all__ = ["build_chains", "roll", "slice_offsets"]


def roll(toxicity: float, rng: random.Random) -> bool:
    """Whether a toxic applies to one connection: Toxiproxy's ``rand < toxicity``."""
    return rng.random() < toxicity


def build_chains(toxics: Mapping[str, Toxic], rolls: Mapping[str, bool]) -> dict[str, list[Toxic]]:
    """The toxics that apply to one connection, per stream, in the order they were added."""
    chains: dict[str, list[Toxic]] = {stream: [] for stream in STREAMS}
    for toxic in toxics.values():
        if rolls.get(toxic.name):
            chains[toxic.stream].append(toxic)
    return chains


def slice_offsets(size: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Toxiproxy's slicer cut points for ``size`` bytes: ``[0, a, b, ..., size]``.

    A piece within ``variation`` of ``average`` (or smaller) is kept; a larger one is split near
    its middle, moved by up to +/- ``variation``, and both halves are cut again.
    """
    cuts = [0]
    stack = [(0, size)]
    while stack:
        start, end = stack.pop()
        if (end - start) - average <= variation:
            cuts.append(end)
            continue
        shift = rng.randint(-variation, variation - 1) if variation else 0
        mid = min(max(start + (end - start) // 2 + shift, start + 1), end - 1)
        stack.append((mid, end))
        stack.append((start, mid))
    return cuts
