"""Start the system under test as a child process the way pytest-roo starts its own servers.

:func:`start_process` gives a :class:`~pytest_roo.target.Target` for any command (a node
server, a compiled binary, ``python -m app``): the command runs in its own process group with a
parent-death signal and a watchdog (so it dies with pytest, also when pytest is killed), its
output goes to a log file whose tail is shown when it fails to start, readiness is an HTTP
health URL or a callable, and :meth:`Target.stop` ends the whole group. Secrets belong in
``env``, never in ``cmd`` (a command line is visible to every user of the machine in ``ps``).

Example, a conftest for your own system::

    from pytest_roo.launch import start_process

    def pytest_roo_start_target(config, settings, output_dir):
        return start_process(
            ["node", "server.js"],
            health="http://127.0.0.1:8080/health",
            env={"PORT": "8080", "DATABASE_URL": os.environ["MY_DB_URL"]},
            log_path=output_dir / "server.log",
        )
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_roo.target import Target, TargetError, kill_groups, tail, wait_healthy

__all__ = ["StartError", "start_process"]


class StartError(RuntimeError):
    """The process did not become ready; the message holds its exit status and log tail."""


def start_process(
    cmd: Sequence[str] | str,
    *,
    health: str | Callable[[], bool],
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
    info: Mapping[str, Any] | None = None,
    stop_grace: float = 5.0,
) -> Target:
    """Start ``cmd`` and wait until it is ready; return its Target.

    Args:
        cmd: the command, as a list (or a string split like a shell would, without a shell).
        health: a URL that answers 2xx when the system is ready, or a callable returning True
            when it is (called every 20 ms).
        base_url: the target's base URL; default: scheme and host of ``health`` when it is a URL.
        env: variables for the process (added to pytest's environment unless
            ``inherit_env=False``); the place for passwords and tokens.
        cwd: working directory.
        log_path: file for the process's stdout and stderr; default: a temporary file, removed
            when the target is stopped (or fails to start: its last lines are in the error),
            or when the process that started it dies (by the watchdog that stops the target).
        timeout: seconds to become ready before the start fails.
        info: facts for suites (``Target.info``); URLs in it are masked in reports.
        stop_grace: seconds between SIGTERM and SIGKILL of the group when stopping.

    Returns:
        A :class:`Target` whose ``stop()`` ends the process group (also called at exit of the
        pytest process by the watchdog if pytest dies first).

    Raises:
        StartError: the process exited or was not ready in time (exit status and log tail in
            the message); nothing it started is left running.
        TargetError: a bad argument, naming it.
    """
    from pytest_roo.services import procs

    argv = shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]
    if not argv:
        raise TargetError(f"start_process: empty command {cmd!r}; expected e.g. ['node', 'server.js']")
    if timeout <= 0:
        raise TargetError(f"start_process: timeout={timeout!r}; expected seconds > 0")
    if base_url is None:
        if not isinstance(health, str):
            raise TargetError("start_process: give base_url= when health is a callable")
        parts = urlsplit(health)
        base_url = f"{parts.scheme}://{parts.netloc}"
    child_env = dict(os.environ) if inherit_env else {}
    child_env.update({str(k): str(v) for k, v in (env or {}).items()})
    watchdog = procs.Watchdog()
    scratch: Path | None = None  # the temporary log's own directory
    try:
        if log_path is None:
            # in a directory the watchdog removes when this process dies, SIGKILL included
            scratch = Path(tempfile.mkdtemp(prefix="roo-target-"))
            watchdog.watch_dir(scratch)
            log = scratch / "output.log"
        else:
            log = Path(log_path)
            log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            try:
                proc = procs.spawn(argv, env=child_env, cwd=cwd, stdout=out, stderr=out)
            except OSError as exc:
                raise StartError(f"could not start {argv[0]!r}: {exc}") from None
    except BaseException:
        watchdog.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    watchdog.watch_pid(proc.pid)
    pids = (proc.pid,)

    def alive() -> bool:
        return proc.poll() is None

    def stop() -> None:
        kill_groups(pids, grace=stop_grace)
        procs.reap(proc)  # its exit status, so that it does not stay a zombie
        watchdog.forget_pid(proc.pid)
        watchdog.close()  # it removes the temporary log's directory
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)  # were the watchdog gone already

    started = time.monotonic()
    try:
        if isinstance(health, str):
            wait_healthy(health, timeout=timeout, interval=0.02, alive=alive)
        else:
            _wait_callable(health, timeout, alive)
    except BaseException as exc:
        status = proc.poll()  # before stop(): what it did by itself, not what stopping did
        last = tail(_read(log), 30)  # before stop() removes a temporary log
        stop()
        if isinstance(exc, (TimeoutError, RuntimeError)):
            how = (f"exited with status {status}" if status is not None
                   else "was still running and has been stopped")
            where = "its output" if log_path is None else str(log)
            raise StartError(
                f"{shlex.join(argv)!s:.200} was not ready ({exc}); it {how}. "
                f"Last lines of {where}:\n{last}"
            ) from None
        raise
    return Target(
        base_url=base_url,
        pids=pids,
        log_path=log,
        startup_seconds=time.monotonic() - started,
        info=dict(info or {}),
        stop_callback=stop,
    )


def _wait_callable(ready: Callable[[], bool], timeout: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    last = "not ready"
    while True:
        if not alive():
            raise RuntimeError(f"the process exited ({last})")
        try:
            if ready():
                return
        except Exception as exc:  # a probe that fails means: not ready yet
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout:g} s ({last})")
        time.sleep(0.02)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


