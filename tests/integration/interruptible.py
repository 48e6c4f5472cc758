"""Children that a test interrupts with SIGINT start with its default disposition.

An ignored signal survives ``exec`` (a handled one is reset), and a Python interpreter that
starts with SIGINT ignored never raises KeyboardInterrupt. Under the test tier's parallel
workers, the Ctrl-C tests of a pytest session and of an Artillery run have now and then hung
until their timeout, as a child that ignores SIGINT would; alone they pass. A child started
with ``preexec_fn=interruptible`` finds SIGINT as an interactive shell leaves it, so the test
checks what Ctrl-C does to pytest-roo, whatever the test runner's process carries.
"""

from __future__ import annotations

import signal


def interruptible() -> None:
    """``preexec_fn`` for a child the test interrupts: SIGINT back to its default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
