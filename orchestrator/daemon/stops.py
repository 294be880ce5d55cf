"""Signals become data: SIGTERM/SIGINT ask for an abort, SIGUSR1 for a detach, and `Stops`
turns the answer into `abort()` / `detach()` on the supervisor.

Separate from the run so the only code that installs signal handlers sits in one place;
tests pass their own trigger instead (hypercorn's `shutdown_trigger`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from enum import StrEnum

import anyio
import structlog

from orchestrator.adapters.sd_notify import ServiceNotifier
from orchestrator.engine.supervisor import Supervisor
from orchestrator.errors import ExitCode

log = structlog.get_logger("orchd.daemon")


class Stop(StrEnum):
    """What a shutdown trigger asks for."""

    ABORT = "abort"  # cancel every active run, exit 3
    DETACH = "detach"  # leave every agent running for the next start, exit 5


# returns when orchd should stop, saying how (None: abort)
ShutdownTrigger = Callable[[], Awaitable[Stop | None]]


async def signal_trigger() -> Stop:
    """Return at the first SIGTERM/SIGINT (abort) or SIGUSR1 (detach); from then on a
    SIGTERM/SIGINT exits the process at once and a SIGUSR1 is ignored."""
    stop = Stop.ABORT
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGUSR1) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if signum == signal.SIGUSR1:
                stop = Stop.DETACH
                log.warning("release.detach_requested", signal=name)
            else:
                log.warning("release.abort_requested", signal=name)
            break
    # Keep listening in a thread-free way: a second signal forces exit (with what the first
    # asked for: a detach cut short still leaves the agents running).
    code = ExitCode.DETACHED if stop is Stop.DETACH else ExitCode.ABORTED
    signal.signal(signal.SIGINT, _force_exit(code))
    signal.signal(signal.SIGTERM, _force_exit(code))
    # its default action would kill orchd mid-way (a handler, not SIG_IGN: children inherit that)
    signal.signal(signal.SIGUSR1, _ignore)
    return stop


def _force_exit(code: ExitCode) -> Callable[[int, object], None]:
    def handler(signum: int, frame: object) -> None:
        os._exit(int(code))

    return handler


def _ignore(signum: int, frame: object) -> None:
    """Already stopping: nothing more to do."""


class Stops:
    """Turns the shutdown trigger into `abort()` / `detach()` on the supervisor, also when it
    fires before the supervisor exists (kept, then applied)."""

    def __init__(self, trigger: ShutdownTrigger | None) -> None:
        self._trigger = trigger
        self._asked: Stop | None = None
        self._supervisor: Supervisor | None = None

    async def listen(self, service: ServiceNotifier) -> None:
        if self._trigger is None:
            return
        self._asked = await self._trigger() or Stop.ABORT
        if self._asked is Stop.DETACH:
            service.stopping("detaching: every agent keeps running")
        else:
            service.stopping("aborting: cancelling every active run")
        self._apply()

    def attach(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor
        self._apply()

    def _apply(self) -> None:
        if self._supervisor is None or self._asked is None:
            return
        if self._asked is Stop.DETACH:
            self._supervisor.detach()
        else:
            self._supervisor.abort()
