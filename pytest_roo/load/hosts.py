"""Load workers on other hosts: execnet gateways (pytest-xdist's transport).

``--roo-load-hosts popen,ssh=loadgen1//python=python3`` runs every load call's workers over
those gateways instead of on this machine alone: each spec is one worker process (``3*spec``
three, and ``processes=N`` N per spec; ``processes="auto"`` as many as that host has usable
cores). The gateway's Python needs pytest-roo's dependencies (``pip install pytest-roo`` there);
pytest-roo itself is shipped with each run (this process's own copy, zipped, put first on the
remote ``sys.path`` and removed when the worker ends), so controller and workers always run
the same engine. Custom scenarios must be importable there under the same module name.

The same worker loop as local workers runs on the channel
(:func:`pytest_roo.load.worker_main.serve`), and results come back as JSON with HdrHistogram
base64 payloads; the coordinator merges them exactly and the test's criteria are judged on the
merged result. Ssh gateways use the user's ssh configuration (keys, ``ssh_config=FILE``): no
password or key ever appears on a command line.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pytest_roo.load.host_specs import HOST_FORMS, parse_load_hosts
from pytest_roo.load.wire import ChannelTransport
from pytest_roo.load.workers import WorkerFailed, WorkerHandle, WorkerPool

__all__ = ["HOST_FORMS", "GatewayWorker", "parse_load_hosts", "serve_channel",
           "start_host_workers"]

# -- the remote side ------------------------------------------------------------------------

#: Runs first on the gateway (plain standard library): receives pytest-roo as a zip, puts it
#: first on sys.path, then serves the worker protocol on the channel.
BOOTSTRAP = r'''
import os, sys, tempfile
blob = channel.receive()
paths = channel.receive()
fd, path = tempfile.mkstemp(prefix="roo-load-", suffix=".zip")
with os.fdopen(fd, "wb") as out:
    out.write(blob)
sys.path.insert(0, path)
for extra in paths:
    if extra not in sys.path and os.path.isdir(extra):
        sys.path.append(extra)
try:
    from pytest_roo.load.hosts import serve_channel
    serve_channel(channel)
finally:
    try:
        os.unlink(path)
    except OSError:
        pass
'''


def serve_channel(channel: Any) -> None:
    """The worker loop on an execnet channel (what :data:`BOOTSTRAP` calls on the host)."""
    from pytest_roo.load.worker_main import serve

    serve(ChannelTransport(channel))


_ZIP_LOCK = threading.Lock()
_ZIP: bytes | None = None


def package_zip() -> bytes:
    """This process's pytest_roo package (its ``.py`` files), zipped once per process."""
    global _ZIP
    with _ZIP_LOCK:
        if _ZIP is None:
            import pytest_roo

            root = Path(pytest_roo.__file__).resolve().parent
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(root.rglob("*.py")):
                    if "__pycache__" in file.parts:
                        continue
                    archive.write(file, f"pytest_roo/{file.relative_to(root).as_posix()}")
            _ZIP = buf.getvalue()
        return _ZIP


# -- the coordinating side ------------------------------------------------------------------


class GatewayWorker(WorkerHandle):
    """A worker behind an execnet gateway (popen or ssh)."""

    def __init__(self, index: int, spec: str, group: Any) -> None:
        self.spec = spec
        self.group = group
        with _sigint_ignored():
            # a terminal's Ctrl-C must reach only this process, which stops the workers and
            # collects what they measured: the ssh client and the popen interpreter inherit
            # SIGINT ignored (both keep it so)
            self.gateway = group.makegateway(spec)
        channel = self.gateway.remote_exec(BOOTSTRAP)
        channel.send(package_zip())
        channel.send([p for p in sys.path if p and os.path.isabs(p)])
        super().__init__(f"worker {index + 1} ({_shown(spec)})", ChannelTransport(channel))
        self.where = _shown(spec)
        self.channel = channel

    def death(self) -> str:
        """The gateway's end, with the remote error if there is one."""
        error = None
        with contextlib.suppress(Exception):
            error = self.channel._getremoteerror()
        if error:
            text = str(error).strip().splitlines()[-6:]
            return "its gateway reported:\n    " + "\n    ".join(text)
        return f"the gateway {_shown(self.spec)} closed"

    def kill(self) -> None:
        """Exit the gateway (its process is killed by the group's terminate)."""
        with contextlib.suppress(Exception):
            self.gateway.exit()

    def close(self, timeout: float = 2.0) -> None:
        """``exit``, then the gateway ends."""
        self.send({"op": "exit"})
        with contextlib.suppress(Exception):
            self.channel.waitclose(timeout)
        self.kill()


class HostPool(WorkerPool):
    """A WorkerPool over execnet gateways; closing it terminates the whole gateway group."""

    def __init__(self, workers: Sequence[WorkerHandle], group: Any) -> None:
        super().__init__(workers)
        self.group = group

    def close(self) -> None:
        """The workers exit, then every gateway process is terminated and reaped."""
        try:
            super().close()
        finally:
            with contextlib.suppress(Exception):
                self.group.terminate(timeout=2.0)
            reap_gateways([w.gateway for w in self.workers if isinstance(w, GatewayWorker)])


def reap_gateways(gateways: Sequence[Any], timeout: float = 2.0) -> None:
    """Wait for the local process of each gateway (``popen`` python or the ``ssh`` client),
    killing it after ``timeout``. ``Group.terminate`` joins only the gateways still in the
    group, and ``exit()`` (how a worker ends) takes a gateway out of it: without this wait
    every such process would stay a zombie of this one until it exits."""
    deadline = time.monotonic() + timeout
    for gateway in gateways:
        popen = getattr(getattr(gateway, "_io", None), "popen", None)
        if popen is None:
            continue
        try:
            popen.wait(max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(5.0)


def _shown(spec: str) -> str:
    return spec.split("//")[0]


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start_host_workers(hosts: Sequence[str], processes: int | str,
                       clients: int) -> WorkerPool:
    """Workers on ``hosts`` (execnet specs): ``processes`` per spec, or "auto" as many as each
    host's usable cores; never more than ``clients`` in all. Every worker has said hello and
    had its clock measured when this returns."""
    try:
        import execnet
    except ImportError:  # pragma: no cover - execnet comes with the package
        raise ValueError("--roo-load-hosts needs execnet: pip install 'execnet==2.1.2'") from None
    from pytest_roo.load.split import check_processes

    check_processes(processes)
    group = execnet.Group()
    pool = HostPool([], group)
    try:
        per_spec = 1 if processes == "auto" else int(processes)
        plan = [spec for spec in hosts for _ in range(per_spec)][:clients]
        pool.add([_gateway_worker(i, spec, group) for i, spec in enumerate(plan)])
        pool.wait_hello()
        if processes == "auto":
            # one worker per host said how many cores it has: add the others
            more: list[str] = []
            for worker in list(pool.workers):
                assert isinstance(worker, GatewayWorker)
                cores = int(worker.hello.get("cores", 1))
                more += [worker.spec] * (cores - 1)
            more = more[: max(0, clients - len(pool))]
            if more:
                first = len(pool)
                indices = pool.add([_gateway_worker(first + i, spec, group)
                                    for i, spec in enumerate(more)])
                pool.wait_hello(indices)
    except BaseException:
        pool.close()
        raise
    return pool


def _gateway_worker(index: int, spec: str, group: Any) -> GatewayWorker:
    try:
        return GatewayWorker(index, spec, group)
    except Exception as exc:
        raise WorkerFailed(f"load host {_shown(spec)!r} did not start a worker: "
                           f"{type(exc).__name__}: {exc}") from exc
