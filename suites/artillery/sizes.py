"""Sizes of the Artillery suite per profile (``--roo-profile``): the phase that replaces the
scenario files' own, as seconds of arrivals and new virtual users per second.

Each HTTP user hashes a password twice (register, sign in: about 16 ms of the app's CPU), so
the API journey stays at a few users per second on a 2-core machine shared with the generator.
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["ARTILLERY", "ArtillerySizes"]


@dataclasses.dataclass(frozen=True)
class ArtillerySizes:
    """Every size the Artillery suite reads."""

    http_duration: float  # seconds of arrivals, API journey (refapp_http.yml)
    http_arrival_rate: float  # new virtual users per second
    ws_duration: float  # seconds of arrivals, WebSocket echo (refapp_ws.yml)
    ws_arrival_rate: float
    sio_duration: float  # seconds of arrivals, live logs over Socket.IO (refapp_socketio.yml)
    sio_arrival_rate: float


ARTILLERY = SuiteProfiles(
    "artillery",
    # smoke: 30 Socket.IO users, 210 acks
    smoke=ArtillerySizes(http_duration=4, http_arrival_rate=4, ws_duration=4, ws_arrival_rate=5,
                         sio_duration=5, sio_arrival_rate=6),
    # standard: at least 299 operations per scenario, the fewest that can show error_rate < 1%
    # (Socket.IO: five log lines written per user, 300 requests; 420 acks, so that a p95 is
    # not decided by the slowest few)
    standard=ArtillerySizes(http_duration=6, http_arrival_rate=10, ws_duration=10,
                            ws_arrival_rate=30, sio_duration=6, sio_arrival_rate=10),
    full=ArtillerySizes(http_duration=30, http_arrival_rate=8, ws_duration=30,
                        ws_arrival_rate=20, sio_duration=30, sio_arrival_rate=10),
)
