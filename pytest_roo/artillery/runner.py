"""Run ``artillery run`` on a scenario file as a bounded child process and read its report.

The node process runs in a session (process group) of its own with a parent-death signal, so
it cannot outlive the caller: the group is killed when the run exceeds its time bound, on
Ctrl-C and on SIGTERM (after which the signal goes on to the caller's own disposition), and if
the caller dies anyway the kernel kills the leader (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_roo.artillery.report import result_from_report
from pytest_roo.artillery.scenario import Scenario, load_scenario
from pytest_roo.results.metrics import LoadResult

__all__ = [
    "INSTALL_HINT",
    "Artillery",
    "ArtilleryFailed",
    "ArtilleryTimeout",
    "ArtilleryUnavailable",
    "find_artillery",
]

INSTALL_HINT = (
    "install it from the repository root with `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install` "
    "(package.json pins artillery; ci/bootstrap.sh does this), or pass binary= the path of an "
    "`artillery` executable; Node.js 18+ must be on PATH"
)
#: Seconds node and Artillery take to start and to write the report, on top of the phases.
STARTUP_ALLOWANCE = 60.0
_TAIL_LINES = 30


class ArtilleryUnavailable(RuntimeError):
    """No Artillery (or no node) to run: the message says how to install it."""


class ArtilleryFailed(RuntimeError):
    """Artillery ended without a report; ``exit_code`` and ``output`` (its last lines) say why."""

    def __init__(self, message: str, exit_code: int | None, output: str) -> None:
        super().__init__(message + (f"\n--- artillery output (last lines) ---\n{output}"
                                    if output else ""))
        self.exit_code = exit_code
        self.output = output


class ArtilleryTimeout(ArtilleryFailed):
    """The run exceeded its time bound; its process group was killed."""


def find_artillery(*near: str | Path) -> list[str]:
    """The command that runs Artillery: ``node_modules/.bin/artillery`` in one of ``near``'s
    directories or their parents, the current directory's, pytest-roo's checkout, or
    ``artillery`` on PATH. Raises ArtilleryUnavailable with the install hint."""
    if shutil.which("node") is None:
        raise ArtilleryUnavailable(f"Artillery needs node, which is not on PATH: {INSTALL_HINT}")
    starts = [Path(p).resolve() for p in near]
    starts += [Path.cwd(), Path(__file__).resolve().parents[2]]
    seen: set[Path] = set()
    for start in starts:
        directory = start if start.is_dir() else start.parent
        for folder in (directory, *directory.parents):
            if folder in seen:
                break
            seen.add(folder)
            candidate = folder / "node_modules" / ".bin" / "artillery"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return [str(candidate)]
    on_path = shutil.which("artillery")
    if on_path:
        return [on_path]
    raise ArtilleryUnavailable(f"Artillery is not installed here: {INSTALL_HINT}")


class _Terminated(BaseException):
    """SIGTERM arrived while Artillery ran (raised in the main thread by our handler)."""


class Artillery:
    """Runs Artillery scenario files; every run is bounded and returns a LoadResult.

    ``binary``: the ``artillery`` executable (default: see :func:`find_artillery`).
    ``max_generator_cpu``: above this share of one core (node's CPU over the run) the result is
    marked saturated, as for pytest-roo's own drivers. ``progress``: called with one line
    every ten seconds of a run. ``output_dir``: where reports and logs go (default: a fresh
    temporary directory per run, removed after the report was read unless ``keep=True``).
    """

    def __init__(
        self,
        *,
        binary: str | Path | None = None,
        max_generator_cpu: float = 0.90,
        progress: Callable[[str], None] | None = None,
        output_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not 0.0 < max_generator_cpu <= 4.0:
            raise ValueError(f"invalid max_generator_cpu={max_generator_cpu!r}: expected a "
                             "fraction of one core such as 0.9")
        self.binary = str(binary) if binary is not None else None
        self.max_generator_cpu = max_generator_cpu
        self.progress = progress
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.env = dict(env or {})
        #: process id (= process group id) of the latest Artillery process started
        self.last_pid: int | None = None

    def check(self, scenario: str | Path, *, target: str | None = None,
              overrides: Mapping[str, Any] | None = None) -> Scenario:
        """Read and check a scenario file without running it (ScenarioError: file and line)."""
        return load_scenario(scenario, overrides, target)

    def run(
        self,
        scenario: str | Path,
        *,
        target: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        name: str | None = None,
        keep: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> LoadResult:
        """Run ``scenario`` (a YAML file) and return Artillery's report as a LoadResult.

        ``target`` replaces ``config.target``; ``overrides`` is deep-merged into the file
        (Artillery's ``--overrides``, e.g. ``{"config": {"phases": [{"duration": 5,
        "arrivalRate": 20}]}}``); ``variables`` become ``{{ name }}`` values. ``timeout``:
        the run's bound in seconds (default: the phases' total + 60 s for node's start and the
        report); past it the process group is killed and ArtilleryTimeout raised.
        ``env`` adds environment variables for Artillery, read in the file as
        ``{{ $env.NAME }}``: the place for tokens and passwords, since ``target``,
        ``overrides`` and ``variables`` travel on Artillery's command line (which any local
        user can read in the process list).
        The file is checked first: a ScenarioError names the file and the line.
        """
        checked = load_scenario(scenario, overrides, target)
        if timeout is None:
            timeout = checked.phase_seconds + STARTUP_ALLOWANCE
        if not timeout > 0:
            raise ValueError(f"invalid timeout={timeout!r}: expected seconds > 0")
        command = [self.binary] if self.binary else find_artillery(checked.path)
        workdir = Path(tempfile.mkdtemp(prefix="roo-artillery-", dir=self.output_dir))
        report = workdir / "report.json"
        log = workdir / "artillery.log"
        argv = [*command, "run", "--output", str(report)]
        if target is not None:
            argv += ["--target", target]
        if overrides:
            argv += ["--overrides", json.dumps(overrides)]
        if variables:
            argv += ["--variables", json.dumps(dict(variables))]
        argv.append(str(checked.path))
        env = {**os.environ, "ARTILLERY_DISABLE_TELEMETRY": "true",
               "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1", "NO_COLOR": "1", **self.env,
               **(env or {})}
        label = name or f"artillery.{checked.path.stem}"
        terminated = False
        try:
            sampler = CpuSampler()
            exit_code, wall, cpu = self._execute(argv, env, log, timeout, label, sampler)
            output = _tail(log)
            if not report.is_file():
                raise ArtilleryFailed(
                    f"Artillery wrote no report for {checked.path} (exit code {exit_code})",
                    exit_code, output)
            result = result_from_report(report, name=label, info={
                "scenario_file": str(checked.path),
                "target": checked.target,
                "engines": list(checked.engines),
                "exit_code": exit_code,
            })
        except _Terminated:
            terminated = True
        finally:
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
        if terminated:
            # Artillery is gone and its files too; now let SIGTERM do what it would have done
            os.kill(os.getpid(), signal.SIGTERM)
            raise KeyboardInterrupt("terminated (SIGTERM) while Artillery ran")
        if keep:
            result.info["report_file"] = str(report)
            result.info["log_file"] = str(log)
        # node's start (several CPU seconds) is not load: judge the CPU of the measured window
        start, end = result.started_at, result.started_at + result.duration
        window_cpu = sampler.between(start, end)
        share = window_cpu / max(result.duration, 1e-6)
        result.generator.update({"cpu": share, "cpu_seconds": window_cpu,
                                 "wall_seconds": result.duration, "max_cpu": self.max_generator_cpu,
                                 "process_cpu_seconds": cpu, "process_wall_seconds": wall})
        if share > self.max_generator_cpu and result.duration >= 0.5:
            result.saturated = (
                f"load generator saturated: Artillery (node) used {share:.0%} of one core over "
                f"the run (limit {self.max_generator_cpu:.0%}); the figures measure the client, "
                "not the server. Lower the arrival rate, or run Artillery on its own core"
            )
        if exit_code != 0:
            result.info["artillery_output"] = output
        return result

    def _execute(self, argv: list[str], env: dict[str, str], log: Path, timeout: float,
                 label: str, sampler: CpuSampler) -> tuple[int, float, float]:
        """Run ``argv`` in its own process group; return (exit code, wall s, CPU s)."""
        from pytest_roo.services.procs import kill_group, spawn

        previous: Any = None
        handler_installed = False
        if threading.current_thread() is threading.main_thread():
            def on_sigterm(signum: int, frame: FrameType | None) -> None:
                raise _Terminated()

            previous = signal.signal(signal.SIGTERM, on_sigterm)
            handler_installed = True
        started = time.monotonic()
        try:
            with open(log, "wb") as out:
                proc = spawn(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        except OSError as exc:
            if handler_installed:
                signal.signal(signal.SIGTERM, previous)
            raise ArtilleryUnavailable(f"cannot start {argv[0]!r}: {exc}; {INSTALL_HINT}") from None
        pid = proc.pid
        self.last_pid = pid
        deadline = started + timeout
        next_progress = started + 10.0
        cpu = 0.0
        try:
            while True:
                reaped = _reap_group(pid, kill_group, block=False)
                if reaped is not None:
                    status, usage = reaped
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    cpu = usage.ru_utime + usage.ru_stime
                    break
                now = time.monotonic()
                if now >= deadline:
                    cpu = _stop_group(pid, kill_group)
                    proc.returncode = -signal.SIGKILL
                    raise ArtilleryTimeout(
                        f"{label}: Artillery ran past its bound of {timeout:g} s and its "
                        "process group was killed (raise timeout= or shorten the phases)",
                        None, _tail(log))
                sampler.sample(pid)
                if self.progress is not None and now >= next_progress:
                    self.progress(f"roo artillery {label}: {now - started:4.0f}s "
                                  f"(bound {timeout:.0f}s)")
                    next_progress += 10.0
                time.sleep(0.25)
        except (KeyboardInterrupt, _Terminated):
            _stop_group(pid, kill_group)
            proc.returncode = -signal.SIGKILL
            raise  # run() removes the run's files, then re-delivers a SIGTERM
        finally:
            if handler_installed:
                signal.signal(signal.SIGTERM, previous)
        return int(proc.returncode), time.monotonic() - started, cpu


class CpuSampler:
    """CPU seconds of a process tree over wall-clock time, sampled while it runs, so the CPU
    of a window (Artillery's first to last metric) can be told from node's start-up."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu: list[float] = []
        self._procs: dict[int, Any] = {}

    def sample(self, pid: int) -> None:
        import psutil

        try:
            leader = self._procs.get(pid) or self._procs.setdefault(pid, psutil.Process(pid))
            procs = [leader, *leader.children(recursive=True)]
            total = 0.0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc = self._procs.setdefault(proc.pid, proc)
                    times = proc.cpu_times()
                    total += times.user + times.system
        except psutil.Error:
            return
        if self.cpu and total < self.cpu[-1]:
            total = self.cpu[-1]  # a child ended between samples: never count backwards
        self.times.append(time.time())
        self.cpu.append(total)

    def between(self, start: float, end: float) -> float:
        """CPU seconds used between two epoch times (linear between samples)."""
        import numpy as np

        if len(self.times) < 2 or end <= start:
            return 0.0
        a, b = np.interp([start, end], self.times, self.cpu)
        return float(max(0.0, b - a))


def _stop_group(pid: int, kill_group: Callable[[int, int], None]) -> float:
    """SIGTERM to the group, SIGKILL after 3 s; reap the leader; return its CPU seconds."""
    kill_group(pid, signal.SIGTERM)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        reaped = _reap_group(pid, kill_group, block=False)
        if reaped is not None:
            return float(reaped[1].ru_utime + reaped[1].ru_stime)
        time.sleep(0.05)
    kill_group(pid, signal.SIGKILL)
    reaped = _reap_group(pid, kill_group, block=True)
    return 0.0 if reaped is None else float(reaped[1].ru_utime + reaped[1].ru_stime)


def _reap_group(pid: int, kill_group: Callable[[int, int], None],
                block: bool) -> tuple[int, Any] | None:
    """Once the leader has exited, SIGKILL what node left in its group, then reap the leader.

    The group is killed while the leader is still a zombie: its pid, and so the group id, cannot
    be reused until it is reaped, so the signal cannot reach an unrelated process group.
    Returns (wait status, rusage), or None while the leader runs (or if it is already gone).
    """
    flags = os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG)
    try:
        exited = os.waitid(os.P_PID, pid, flags)
    except ChildProcessError:
        return None
    if exited is None:
        return None
    kill_group(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage


def _tail(log: Path, lines: int = _TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
