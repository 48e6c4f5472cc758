"""Redis command loops: one command, named commands in turn, or a pipeline per operation,
each on its own connection with a watchdog instead of a timer per reply."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pytest_roo.load.correction import correct_when_started
from pytest_roo.load.executor import OperationFailed, drive, is_counted, mark_counted
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.redis_client import (
    NOTHING,
    Command,
    Vu,
    classify_redis,
    close,
    connect,
    error_text,
    matches,
    resolve,
)
from pytest_roo.load.workload import Workload

__all__ = ["OneFactory", "command_loop", "commands_op", "pipeline_op"]

#: builds ``one(vu, intended_ns)`` for a run, given its recorder
OneFactory = Callable[[Recorder], Callable[[Vu, int], Awaitable[None]]]


def commands_op(items: Sequence[tuple[str, Command]], checks: Sequence[Any],
                per_name: bool, static: bool) -> OneFactory:
    """Operation ``k`` sends the ``k mod n``-th named command and checks its reply."""

    def make_one(rec: Recorder) -> Callable[[Vu, int], Awaitable[None]]:
        import redis.exceptions as rex

        buf = rec.batch("command")
        named_bufs = [rec.batch(name) if per_name else buf for name, _ in items]
        pc = time.perf_counter_ns
        counter = [0]
        n = len(items)
        response_error = rex.ResponseError

        async def one(vu: Vu, intended: int) -> None:
            k = counter[0]
            counter[0] = k + 1
            index = k % n
            conn = vu.conn
            if static:
                if vu.packed is None:
                    vu.packed = [conn.pack_command(*resolve(spec, 0)) for _, spec in items]
                packed = vu.packed[index]
            else:
                packed = conn.pack_command(*resolve(items[index][1], k))
            await conn.send_packed_command(packed, check_health=False)
            try:
                reply = await conn.read_response()
            except response_error as exc:
                rec.error("redis")
                rec.result.info.setdefault("first_error", error_text(exc))
                raise mark_counted(exc) from None
            us = (pc() - intended) // 1000
            check = checks[index]
            if check is not NOTHING and not matches(reply, check):
                rec.error("mismatch")
                rec.result.info.setdefault(
                    "first_mismatch", f"{items[index][0]}: got {reply!r:.120}")
                raise mark_counted(OperationFailed("mismatch"))
            buf.append(us)
            if per_name:
                named_bufs[index].append(us)

        return one


    return make_one


def pipeline_op(specs: Sequence[Command], expect: Sequence[Any] | None) -> OneFactory:
    """Each operation sends every command in one write and reads every reply."""
    size = len(specs)
    static = not any(callable(spec) for spec in specs)

    def make_one(rec: Recorder) -> Callable[[Vu, int], Awaitable[None]]:
        import redis.exceptions as rex

        buf = rec.batch("pipeline")
        pc = time.perf_counter_ns
        counter = [0]
        counters = rec.result.counters
        response_error = rex.ResponseError

        async def one(vu: Vu, intended: int) -> None:
            k = counter[0]
            counter[0] = k + 1
            conn = vu.conn
            if static:
                if vu.packed is None:
                    vu.packed = conn.pack_commands(specs)
                packed = vu.packed
            else:
                packed = conn.pack_commands([resolve(spec, k) for spec in specs])
            await conn.send_packed_command(packed, check_health=False)
            failed: BaseException | None = None
            wrong = -1
            read = conn.read_response
            # every reply is read, also after an error one: the connection stays in step
            for i in range(size):
                try:
                    reply = await read()
                except response_error as exc:
                    failed = failed or exc
                    continue
                if expect is not None and wrong < 0 and expect[i] is not None and \
                        not matches(reply, expect[i]):
                    wrong = i
                    rec.result.info.setdefault(
                        "first_mismatch", f"commands[{i}]: got {reply!r:.120}")
            us = (pc() - intended) // 1000
            counters["commands"] += size
            if failed is not None:
                rec.error("redis")
                rec.result.info.setdefault("first_error", error_text(failed))
                raise mark_counted(OperationFailed("redis"))
            if wrong >= 0:
                rec.error("mismatch")
                raise mark_counted(OperationFailed("mismatch"))
            buf.append(us)

        return one

    return make_one


async def command_loop(url: str, rec: Recorder, wl: Workload, make_one: OneFactory,
                       primary: str, timeout: float) -> None:
    """Drive ``make_one(rec)`` under ``wl`` over one connection per client; a reply that does
    not come within ``timeout`` is a ``timeout`` and its connection is dropped (reconnected by
    the next command)."""
    timeout_ns = int(timeout * 1e9)
    inner = make_one(rec)
    vus: list[Vu] = []
    pc = time.perf_counter_ns
    current_task = asyncio.current_task

    async def one(vu: Vu, intended: int) -> None:
        vu.task = current_task()
        vu.since = pc()
        try:
            await inner(vu, intended)
        except asyncio.CancelledError:
            if not vu.timed_out:
                raise  # the run is ending
            # the watchdog gave up on this reply (and counted the timeout): the
            # connection is out of step, so drop it; the next command reconnects
            vu.timed_out = False
            uncancel = getattr(vu.task, "uncancel", None)
            if uncancel is not None:
                uncancel()
            vu.packed = None
            await vu.conn.disconnect(nowait=True)
            raise mark_counted(TimeoutError("no reply within the timeout")) from None
        except Exception as exc:
            if not is_counted(exc):
                rec.error(classify_redis(exc))
                rec.result.info.setdefault("first_error", error_text(exc))
                mark_counted(exc)
            raise
        finally:
            vu.since = 0

    async def setup(i: int) -> Vu:
        client = await connect(url, rec, timeout, socket_timeout=0)
        vu = Vu(client)
        vus.append(vu)
        return vu

    async def teardown(vu: Vu) -> None:
        await close(vu.client)

    async def watchdog() -> None:
        # one scan every 100 ms instead of a timer per reply (see Watchdog in executor)
        while True:
            await asyncio.sleep(0.1)
            limit = pc() - timeout_ns
            for vu in vus:
                if vu.since and vu.since < limit and vu.task is not None:
                    vu.since = 0
                    vu.timed_out = True
                    rec.error("timeout")
                    vu.task.cancel()

    watch = asyncio.ensure_future(watchdog())
    refine = None
    if not wl.open:
        refine = asyncio.ensure_future(correct_when_started(rec, primary, wl.think))
    try:
        if not wl.open:
            rec.result.info["corrected"] = primary
        await drive(rec, wl, one, setup_vu=setup, teardown_vu=teardown,
                    timeout=timeout, grace=timeout)
    finally:
        for task in (watch, refine):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
