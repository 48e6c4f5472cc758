"""Processes and directories that must not outlive the test session.

Three layers, so a server never outlives the pytest process that started it:

1. every server runs in its own session/process group with ``PR_SET_PDEATHSIG`` (Linux): the
   kernel signals it when the pytest thread that spawned it dies, whatever killed pytest;
2. a watchdog process holds a pipe to pytest; on EOF (pytest exited or was killed, SIGKILL
   included) it kills the registered process groups and removes the registered directories;
3. each session keeps its data under a runtime directory with an ``owner`` file (pid + process
   start time); the next session sweeps directories whose owner is dead, never a live one's.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "RunAs",
    "SessionDir",
    "Watchdog",
    "free_port",
    "process_start_time",
    "reap",
    "run_as_for",
    "run_bounded",
    "runtime_base",
    "spawn",
    "sweep_stale",
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
    """Start ``args`` in its own session with a parent-death signal, optionally as ``run_as``."""
    return subprocess.Popen(
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
    shutil.rmtree(path, ignore_errors=True)


# --- runtime directories ------------------------------------------------------------------------


def runtime_base() -> Path:
    """``/dev/shm/pytest-roo-<uid>`` when tmpfs is there (servers then never touch a disk)."""
    env = os.environ.get("ROO_RUNTIME_DIR")
    if env:
        return Path(env)
    shm = Path("/dev/shm")
    root = shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else Path(tempfile.gettempdir())
    return root / f"pytest-roo-{os.geteuid()}"


OWNER_FILE = "owner"
PIDS_FILE = "pids"


class SessionDir:
    """This process's runtime directory: ``<base>/<pid>-<random>`` with an owner file.

    Servers that register here are listed in ``pids`` (pid and start time), so a later session
    can kill them if both this process and its watchdog died without cleaning up.
    """

    def __init__(self, base: Path | None = None) -> None:
        self.base = base or runtime_base()
        self.base.mkdir(mode=0o711, parents=True, exist_ok=True)
        # servers may run as another user: they must be able to traverse to their own dirs
        os.chmod(self.base, 0o711)
        sweep_stale(self.base)
        self.path = self.base / f"{os.getpid()}-{secrets.token_hex(3)}"
        self.path.mkdir(mode=0o711)
        (self.path / OWNER_FILE).write_text(f"{os.getpid()} {process_start_time(os.getpid())}\n")
        self._lock = threading.Lock()

    def subdir(self, name: str, owner: RunAs | None = None) -> Path:
        """Create the private directory ``name`` in the session's directory, owned by ``owner`` if
        given."""
        path = self.path / name
        path.mkdir(mode=0o700)
        if owner is not None and owner.switches:
            os.chown(path, owner.uid, owner.gid)
        return path

    def register_pid(self, pid: int) -> None:
        """Note ``pid`` and its start time in the session's directory: a later session stops what a
        killed one left running."""
        with self._lock, open(self.path / PIDS_FILE, "a") as fh:
            fh.write(f"{pid} {process_start_time(pid)}\n")

    def remove(self) -> None:
        """Remove the session's directory."""
        rmtree(self.path)


def sweep_stale(base: Path) -> list[Path]:
    """Remove session directories (and kill their servers) whose owner process is dead."""
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        owner = entry / OWNER_FILE
        try:
            pid_text, start = owner.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            # a directory being created right now has no owner file yet: leave it alone
            # unless it is clearly old
            try:
                import time

                if time.time() - entry.stat().st_mtime < 60:
                    continue
            except OSError:
                continue
            pid, start = -1, ""
        if pid > 0 and process_start_time(pid) == start:
            continue  # a live session
        with contextlib.suppress(OSError, ValueError):
            for line in (entry / PIDS_FILE).read_text().splitlines():
                spid_text, sstart = line.split()
                spid = int(spid_text)
                if process_start_time(spid) == sstart:
                    kill_group(spid)
        for pidfile in entry.glob("*/postmaster.pid"):
            remove_postgres_segment(pidfile.parent)
        rmtree(entry)
        removed.append(entry)
    return removed


# --- the watchdog -------------------------------------------------------------------------------

_WATCHDOG = r"""
import json, os, shutil, signal, subprocess, sys
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
def start(pid):
    try:
        with open('/proc/%d/stat' % pid) as fh:
            return fh.read().rsplit(')', 1)[1].split()[19]
    except OSError:
        return None
pids, dirs, runs = {}, [], []
for line in sys.stdin.buffer:
    cmd, _, arg = line.decode().strip().partition(' ')
    if cmd == 'pid':
        pid, st = arg.split()
        pids[int(pid)] = st
    elif cmd == 'unpid':
        pids.pop(int(arg), None)
    elif cmd == 'dir':
        dirs.append(arg)
    elif cmd == 'undir' and arg in dirs:
        dirs.remove(arg)
    elif cmd == 'run':
        runs.append(json.loads(arg))
    elif cmd == 'unrun':
        runs[:] = [r for r in runs if r != json.loads(arg)]
for pid, st in pids.items():
    if start(pid) == st:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
for argv in runs:
    try:
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
    except Exception:
        pass
def segments(d):
    import ctypes, glob
    for pidfile in glob.glob(os.path.join(d, '*', 'postmaster.pid')):
        try:
            with open(pidfile) as fh:
                shmid = int(fh.read().splitlines()[6].split()[1])
            ctypes.CDLL(None).shmctl(shmid, 0, None)
        except Exception:
            pass
for d in dirs:
    segments(d)
    for _ in range(50):
        shutil.rmtree(d, ignore_errors=True)
        if not os.path.exists(d):
            break
        import time; time.sleep(0.02)
"""


class Watchdog:
    """A separate process that cleans up after this one when the pipe between them closes."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _WATCHDOG],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal must not reach it
            close_fds=True,
        )
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The watchdog process's pid."""
        return self._proc.pid

    def _send(self, line: str) -> None:
        stdin = self._proc.stdin
        if stdin is None:
            return
        with self._lock, contextlib.suppress(OSError, ValueError):
            stdin.write(line.encode() + b"\n")
            stdin.flush()

    def watch_pid(self, pid: int) -> None:
        """Have the watchdog kill ``pid``'s process group if pytest dies."""
        self._send(f"pid {pid} {process_start_time(pid)}")

    def forget_pid(self, pid: int) -> None:
        """The process ended normally: the watchdog stops watching ``pid``."""
        self._send(f"unpid {pid}")

    def watch_dir(self, path: str | os.PathLike[str]) -> None:
        """Have the watchdog remove ``path`` if pytest dies."""
        self._send(f"dir {os.fspath(path)}")

    def run_on_exit(self, argv: Sequence[str]) -> None:
        """Run ``argv`` (e.g. ``docker rm -f ID``) if this process dies before ``cancel_run``."""
        import json

        self._send("run " + json.dumps(list(argv)))

    def cancel_run(self, argv: Sequence[str]) -> None:
        """The command ended normally: the watchdog no longer runs ``argv`` when pytest dies."""
        import json

        self._send("unrun " + json.dumps(list(argv)))

    def close(self, timeout: float | None = 5.0) -> None:
        """Close the pipe: the watchdog cleans what is still registered and exits.
        ``timeout=None`` does not wait for it (its exit status is collected in a thread)."""
        stdin = self._proc.stdin
        if stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                stdin.close()
        if timeout is None:
            reap_later(self._proc)
            return
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            reap(self._proc, 1.0)
