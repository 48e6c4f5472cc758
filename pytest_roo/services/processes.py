"""Starting, bounding and reaping server processes: each in its own process group with
``PR_SET_PDEATHSIG`` (Linux) so the kernel signals it when the thread that spawned it dies,
optionally as an unprivileged user, with every external command bounded in time.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "RunAs",
    "free_port",
    "kill_group",
    "process_start_time",
    "reap",
    "reap_later",
    "reap_pid",
    "remove_postgres_segment",
    "rmtree",
    "run_as_for",
    "run_bounded",
    "spawn",
]

PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


@dataclass(frozen=True)
class RunAs:
    """The account a server runs as: ``None`` fields mean "this process's own account"."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...] = ()

    @property
    def switches(self) -> bool:
        """True when the servers run as another user than this process."""
        return self.uid != os.geteuid()


def run_as_for(service_user: str) -> RunAs:
    """As root: the unprivileged ``service_user``. Otherwise: the current user.

    Raises LookupError naming the user and how to create it when root and the user is missing.
    """
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)
    try:
        entry = pwd.getpwnam(service_user)
    except KeyError:
        raise LookupError(
            f"pytest runs as root and PostgreSQL refuses to; the unprivileged user "
            f"{service_user!r} that would run the servers does not exist. Create it "
            f"(`useradd --system --no-create-home {service_user}`) or name another one with "
            f"--roo-service-user"
        ) from None
    if entry.pw_uid == 0:
        raise LookupError(f"--roo-service-user={service_user!r} is root; name an unprivileged user")
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it is gone.

    (pid, start time) names a process uniquely even when pids are reused.
    """
    if not sys.platform.startswith("linux"):
        try:
            import psutil

            return repr(psutil.Process(pid).create_time())
        except Exception:
            return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _preexec(run_as: RunAs | None, death_signal: int) -> Callable[[], None]:
    libc = _load_libc()
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec
        if run_as is not None and run_as.switches:
            os.setgroups(list(run_as.groups))
            os.setgid(run_as.gid)
            os.setuid(run_as.uid)
        # after the uid change: changing credentials clears the parent-death signal
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
            if os.getppid() != parent:
                os.kill(os.getpid(), death_signal)

    return preexec


def spawn(
    args: Sequence[str],
    *,
    run_as: RunAs | None = None,
    death_signal: int = signal.SIGKILL,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    stderr: int | IO[bytes] | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own session with a parent-death signal, optionally as ``run_as``.

    Started from a thread other than the main one, the fork happens in the keeper thread
    (:mod:`pytest_roo.services.keeper`): the death signal follows the thread that forked."""
    from pytest_roo.services import keeper

    return keeper.call(
        subprocess.Popen,
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_preexec(run_as, death_signal),
        close_fds=True,
    )


def run_bounded(
    args: Sequence[str],
    *,
    timeout: float,
    run_as: RunAs | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[int, str]:
    """Run a short external command to completion within ``timeout`` seconds.

    Returns (exit status, stdout and stderr together). A command still running at the deadline
    is killed with its whole process group (a shell it started, that shell's children) and a
    ServiceError names the command and the limit; so does a command that cannot be started.
    """
    from pytest_roo.services.models import ServiceError

    shown = shlex.join(str(a) for a in args)
    try:
        proc = spawn(args, run_as=run_as, env=env, cwd=cwd,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        raise ServiceError(f"`{shown}` could not be started: {exc}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException as exc:  # the deadline, or Ctrl-C meanwhile: nothing stays behind
        kill_group(proc.pid, signal.SIGKILL)
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a member escaped the group and holds the pipe
            if proc.stdout is not None:
                proc.stdout.close()
            reap(proc)
        if isinstance(exc, subprocess.TimeoutExpired):
            raise ServiceError(
                f"`{shown}` did not finish within {timeout:g} s; it was stopped (its process "
                f"group killed)") from None
        raise
    return proc.returncode, out.decode(errors="replace")


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just assigned on ``host``; callers retry when a server loses the race."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group ``pid`` leads and to ``pid`` itself; what is gone already
    (or not ours to signal) is skipped."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


#: Seconds a killed child gets to be reaped before its group is sent SIGKILL (again).
REAP_TIMEOUT = 5.0


def reap(proc: subprocess.Popen[bytes], timeout: float = REAP_TIMEOUT) -> int | None:
    """Collect the exit status of ``proc`` after it was signalled, within bounds.

    A child that was killed but never waited for stays a zombie (a process table entry) for as
    long as this process lives, which under a long pytest session, or a test process that runs
    sessions inside itself, is until the end. So: wait up to ``timeout`` s, then SIGKILL its
    group and wait one more second; a process that even SIGKILL has not ended by then (stuck in
    the kernel) is left to a background thread. Returns the exit status, or None in that case.
    """
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    kill_group(proc.pid, signal.SIGKILL)
    try:
        return proc.wait(1.0)
    except subprocess.TimeoutExpired:
        reap_later(proc)
        return None


def reap_pid(pid: int, timeout: float = REAP_TIMEOUT) -> None:
    """:func:`reap` for a child known only by its pid; a pid that is not our child (or is
    already reaped) is left alone."""
    import time

    deadline = time.monotonic() + timeout
    killed = False
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done == pid:
            return
        if time.monotonic() >= deadline:
            if killed:
                threading.Thread(target=_waitpid_quietly, args=(pid,), name="roo-reap",
                                 daemon=True).start()
                return
            kill_group(pid, signal.SIGKILL)
            killed = True
            deadline = time.monotonic() + 1.0
        time.sleep(0.005)


def _waitpid_quietly(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def reap_later(proc: subprocess.Popen[bytes]) -> None:
    """Collect the exit status of a process just killed without waiting for it here (only for
    a process that did not end within :func:`reap`'s bounds)."""
    threading.Thread(target=proc.wait, name="roo-reap", daemon=True).start()


def remove_postgres_segment(data_dir: str | os.PathLike[str]) -> None:
    """Remove the System V segment a killed postmaster leaves behind (line 7 of
    postmaster.pid: key and id); a postmaster that exits normally removes it itself."""
    try:
        fields = Path(data_dir, "postmaster.pid").read_text().splitlines()[6].split()
        shmid = int(fields[1])
    except (OSError, IndexError, ValueError):
        return
    libc = _load_libc()
    if libc is not None and shmid > 0:
        libc.shmctl(shmid, 0, None)  # IPC_RMID


def rmtree(path: str | os.PathLike[str]) -> None:
    """Remove a directory tree, ignoring what is already gone or cannot be removed."""
    shutil.rmtree(path, ignore_errors=True)
