"""Raw TCP servers on 127.0.0.1 that misbehave on purpose: one that accepts and never answers,
one whose accept queue is full (connects time out), one that answers with fixed bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: An answer to a WebSocket upgrade that is no HTTP at all; the secret in it must not be shown.
GARBAGE = b"\x00\x01\xffSSH-2.0-not-http password=hunter2-garbage\r\n\r\n"
#: 101 Switching Protocols with a Sec-WebSocket-Accept that answers no key.
WRONG_ACCEPT = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBvbmU=\r\n\r\n")


@contextmanager
def raw_server(answer: bytes | None = None) -> Iterator[int]:
    """A server on 127.0.0.1; yields its port. ``answer=None``: accept every connection and
    never send a byte; else read the request and send ``answer``, then keep the socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            if answer is not None:
                try:
                    conn.settimeout(5)
                    conn.recv(65536)
                    conn.sendall(answer)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, name="raw-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(5)
        for conn in held:
            conn.close()


@contextmanager
def full_backlog_server() -> Iterator[int]:
    """A listening port whose accept queue is full: the kernel drops further SYNs, so a new
    connection neither succeeds nor is refused (a connect timeout, on loopback)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):  # the queue holds one or two, depending on the kernel
            filler = socket.socket()
            filler.settimeout(0.3)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except OSError:
                break  # this one was not taken: the queue is full
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def closed_port() -> int:
    """A port nothing listens on (just released by the kernel)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
