"""Run several blocking Playwright flows at once in one thread, on one browser.

Playwright's sync API drives its browsers from one thread: every call parks the calling
greenlet, switches to the dispatcher greenlet that runs Playwright's event loop, and is
switched back when the answer came. Playwright itself runs its route and event handlers that
way, each in a greenlet of its own started from the dispatcher, so that they can make sync
calls while other code waits. :func:`run_interleaved` does the same for whole flows: each
function runs in its own greenlet, started from the dispatcher, and while one waits for its
browser the others go on. Several contexts of one browser are then busy at once, which is
where the time of a browser flow goes (round trips to the browser, the page's own work), not
the Python code.

What this relies on (``_loop``, ``_dispatcher_fiber`` of a sync API object and
``playwright._impl._greenlets.wait_for_future``) is internal to Playwright, which is pinned
(docs/browser.md); ``tests/integration/browser/test_interleave.py`` runs it on the engines here.

Everything stays in one thread: no locks are needed, and a function that blocks without
Playwright (an HTTP call with urllib, ``time.sleep``) holds up the others for that long.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["run_interleaved"]


def run_interleaved(anchor: Any, functions: Sequence[Callable[[], None]]) -> None:
    """Call every function of ``functions`` at once, each in a greenlet of its own, and return
    when all have returned.

    ``anchor`` is any object of Playwright's sync API (a ``Browser``, say): its event loop and
    dispatcher are the ones the functions' calls go through, so every function must use objects
    of that same Playwright instance. An exception a function raises ends that function only;
    the first one (in the order they were raised) is raised here once all have ended. Call it
    from the thread (and the greenlet) the Playwright instance was started in.
    """
    import greenlet  # type: ignore[import-untyped]  # no stubs; installed with Playwright
    from playwright._impl._greenlets import wait_for_future

    loop = getattr(anchor, "_loop", None)
    dispatcher = getattr(anchor, "_dispatcher_fiber", None)
    if loop is None or dispatcher is None:
        raise TypeError(
            f"run_interleaved needs an object of Playwright's sync API (a Browser, a "
            f"BrowserContext...) to find its event loop, got {type(anchor).__name__}")
    if not functions:
        return
    done = loop.create_future()
    remaining = [len(functions)]
    errors: list[BaseException] = []

    def start(function: Callable[[], None]) -> None:
        # called by the event loop, i.e. in the dispatcher: the new greenlet's parent is the
        # dispatcher, which it returns to when it parks in a sync call and when it ends
        def body() -> None:
            try:
                function()
            except greenlet.GreenletExit:
                raise  # the greenlet is being collected (the wait below was abandoned)
            except BaseException as exc:  # handed to the caller below
                errors.append(exc)
            finally:
                remaining[0] -= 1
                if remaining[0] == 0 and not done.done():
                    done.set_result(None)

        greenlet.greenlet(body).switch()

    for function in functions:
        loop.call_soon(start, function)
    # park this greenlet like any sync call until the last function ended
    wait_for_future(loop, dispatcher, done)
    if errors:
        raise errors[0]
