"""One thread that lives as long as the process, for starting servers from any thread.

Linux sends a child's parent-death signal (``PR_SET_PDEATHSIG``) when the *thread* that forked
it ends, not the process. A server started again from a short-lived thread (a restart scheduled
in the background while a load run blocks the test's thread) would be killed the moment that
thread returns. :func:`call` runs such a start in the keeper thread instead, which ends only
with the interpreter: the death signal then means what it is meant to mean.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["call"]

T = TypeVar("T")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a thread that outlives the caller: at once in the main
    thread (which lives as long as the process), else in the keeper thread."""
    global _executor
    if threading.current_thread() is threading.main_thread():
        return fn(*args, **kwargs)
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(1, thread_name_prefix="roo-keeper")
        executor = _executor
    return executor.submit(fn, *args, **kwargs).result()
