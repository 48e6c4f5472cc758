"""Scenarios the benches hand to worker processes (workers import them by module and name, so
they live here, not in a bench script's ``__main__``)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

#: work per iteration of :func:`spin`: about what a Python client spends per request
_BLOCK = b"x" * 1024


async def spin(session: Any) -> None:
    """Client-side work only, no server: 16 SHA-256 digests of 1 KB, then a yield to the loop.
    With nothing else to wait for, the generator's own CPU is the only limit."""
    for _ in range(16):
        hashlib.sha256(_BLOCK).digest()
    await asyncio.sleep(0)
