"""Named network profiles: sets of toxics that stand for a kind of network.

A TCP proxy cannot drop single packets (TCP would retransmit them anyway): what a lossy link
does to an application is extra and uneven delay, a capped rate and connections that die. So a
profile is latency with jitter on each direction, a bandwidth cap per direction, and optionally
a share of connections that are reset after some seconds.

The round-trip figure is split evenly between the two directions. Bandwidth is in Toxiproxy's
KB/s (1 KB = 1000 bytes; 1 KB/s = 8 kbit/s). The mobile figures are of the order of the
throttling presets browsers and Lighthouse use for 3G and slow 4G; they are inputs to a test,
not measurements of a real network.
"""

from __future__ import annotations

import dataclasses

__all__ = ["PROFILES", "NetworkProfile", "get_profile"]


@dataclasses.dataclass(frozen=True)
class NetworkProfile:
    """A network as figures: round trip, jitter per direction, rates, and a share of resets."""

    name: str
    rtt_ms: int
    jitter_ms: int
    down_kbps: int  # KB/s (1000 bytes), 0 = no cap
    up_kbps: int  # KB/s, 0 = no cap
    reset_share: float = 0.0  # probability per connection
    reset_after_ms: int = 0
    about: str = ""

    def toxics(self) -> list[tuple[str, str, float, dict[str, int]]]:
        """``(type, stream, toxicity, attributes)`` of every toxic the profile adds."""
        half = self.rtt_ms // 2
        out: list[tuple[str, str, float, dict[str, int]]] = []
        for stream in ("upstream", "downstream"):
            if half or self.jitter_ms:
                out.append(("latency", stream, 1.0,
                            {"latency": half, "jitter": min(self.jitter_ms, half)}))
        if self.up_kbps:
            out.append(("bandwidth", "upstream", 1.0, {"rate": self.up_kbps}))
        if self.down_kbps:
            out.append(("bandwidth", "downstream", 1.0, {"rate": self.down_kbps}))
        if self.reset_share:
            out.append(("reset_peer", "downstream", self.reset_share,
                        {"timeout": self.reset_after_ms}))
        return out


PROFILES: dict[str, NetworkProfile] = {
    profile.name: profile
    for profile in (
        NetworkProfile("slow-3g", rtt_ms=400, jitter_ms=50, down_kbps=50, up_kbps=50,
                       about="edge of coverage: 400 kbit/s each way"),
        NetworkProfile("3g", rtt_ms=300, jitter_ms=30, down_kbps=94, up_kbps=31,
                       about="750 kbit/s down, 250 kbit/s up"),
        NetworkProfile("4g", rtt_ms=150, jitter_ms=20, down_kbps=200, up_kbps=94,
                       about="1.6 Mbit/s down, 750 kbit/s up"),
        NetworkProfile("lossy-wifi", rtt_ms=40, jitter_ms=20, down_kbps=625, up_kbps=250,
                       reset_share=0.05, reset_after_ms=3000,
                       about="busy Wi-Fi: uneven delay, 5 Mbit/s down, 2 Mbit/s up, 5 % of "
                             "connections reset after 3 s"),
        NetworkProfile("intercontinental", rtt_ms=150, jitter_ms=5, down_kbps=0, up_kbps=0,
                       about="Europe <-> US West over fibre: long, steady round trip"),
        NetworkProfile("satellite", rtt_ms=600, jitter_ms=50, down_kbps=250, up_kbps=62,
                       about="geostationary link: 2 Mbit/s down, 500 kbit/s up"),
    )
}


def get_profile(name: str) -> NetworkProfile:
    """The profile ``name``; ValueError lists the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown network profile {name!r}; accepted: {', '.join(PROFILES)}"
        ) from None
