"""A container that was started, and waiting for it to be ready: a container that exits at
start is noticed within a quarter of a second, with its exit code and last log lines (the
password masked)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_roo.services.models import ServiceError

READY_TIMEOUT = 60.0
STATE_EVERY = 0.25  # how often a container that is not ready yet is asked whether it exited
LOG_LINES = 20


@dataclass
class Started:
    """A container the backend started: its image, the host and port it is reached on, and the
    secret every log line shown from it is masked for."""

    container: Any
    image: str
    host: str
    port: int
    secret: str

    def state(self) -> dict[str, Any]:
        """The container's Docker ``State`` (status, exit code, error), reloaded from the engine."""
        self.container.reload()
        state: dict[str, Any] = self.container.attrs.get("State") or {}
        return state

    def crashed(self) -> ServiceError | None:
        """An error naming the exit code and the last log lines if the container has exited."""
        state = self.state()
        if state.get("Status") not in ("exited", "dead"):
            return None
        return exit_error(self.container, self.image, state, self.secret)


def exit_error(container: Any, image: str, state: Mapping[str, Any],
                secret: str) -> ServiceError:
    """The ServiceError for a container that exited at start: its image, exit code, the engine's
    error and its last log lines, ``secret`` masked."""
    try:
        logs = container.logs(tail=LOG_LINES).decode(errors="replace")
    except Exception as exc:  # the engine may have removed it already
        logs = f"(no logs: {exc})"
    if secret:
        logs = logs.replace(secret, "***")
    lines = "\n".join("    " + line for line in logs.rstrip().splitlines()) or "    (none)"
    detail = f" ({state['Error']})" if state.get("Error") else ""
    return ServiceError(f"Docker: the {image} container exited at start with code "
                        f"{state.get('ExitCode')}{detail}; its last log lines:\n{lines}")


def poll(check: Callable[[], str], started: Started, what: str) -> str:
    """Retry ``check`` until it answers; stop at once if the container exits."""
    deadline = time.monotonic() + READY_TIMEOUT
    next_state = time.monotonic() + STATE_EVERY
    while True:
        try:
            return check()
        except Exception as exc:
            now = time.monotonic()
            if now >= next_state:
                crashed = started.crashed()
                if crashed is not None:
                    raise crashed from None
                next_state = now + STATE_EVERY
            if now > deadline:
                raise ServiceError(f"{what} was not ready after {READY_TIMEOUT:.0f} s: "
                                   f"{exc}") from None
        time.sleep(0.02)
