"""A child process with a known memory behaviour, for the monitor's integration tests.

    python memory_child.py leak 8 30   # keeps 8 MiB more every second, exits after 30 s
    python memory_child.py flat 8 30   # allocates 8 MiB a second and frees it again
    python memory_child.py sockets 3 30  # opens 3 listening sockets on 127.0.0.1, then idles
    python memory_child.py burst 40 30   # idles 1 s, holds 40 MiB for 1 s, frees it, idles

Prints READY once it runs; always exits by itself after the given seconds.
"""

from __future__ import annotations

import socket
import sys
import time

STEP = 0.05  # seconds between allocations


def main() -> None:
    mode, amount, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    deadline = time.monotonic() + seconds
    kept: list[bytes] = []
    held: list[socket.socket] = []
    if mode == "sockets":
        for _ in range(int(amount)):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen()
            held.append(s)
    chunk = int(amount * 2**20 * STEP)
    print("READY", flush=True)
    if mode == "burst":
        time.sleep(1.0)
        burst = b"\x01" * int(amount * 2**20)  # one large block: freed back to the system
        time.sleep(1.0)
        del burst
    while time.monotonic() < deadline:
        if mode == "leak":
            kept.append(b"\x01" * chunk)  # written, so the pages are resident
        elif mode == "flat":
            scratch = b"\x01" * chunk
            del scratch
        time.sleep(STEP)


if __name__ == "__main__":
    main()
