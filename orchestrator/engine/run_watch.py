"""Follow one run to a terminal status, with the timeout and staleness watchdogs.

Progress is the agent's own activity: `assistant`, `thinking`, `tool_call`,
`interaction_update` and `result` events on the run's SSE stream, a status change (streamed or
polled), or anything else a `GET …/runs/{id}` shows changed. A `heartbeat` only proves the
connection is alive (a stuck agent behind a healthy stream still gets them), and the `status`
event the stream replays at the top of every connection proves nothing unless the status moved.

Staleness is a cancel scope whose deadline moves on every progress signal (hypercorn's idle
timeout); when it fires, a fresh GET decides: a changed or finished run is alive, an unchanged
one is stale. A verdict needs a liveness signal, which only the stream gives: a polled run shows
nothing while it works (`updatedAt` does not move while RUNNING). So while the stream is refused
(410 `stream_expired`, 401/403/404, …), keeps failing to connect, or is switched off, the run is
polled and never judged stale: orchd says so once, the timeout stays the bound, and the stream
is retried with capped exponential backoff; once it is back, the staleness clock starts afresh.
A stream that cannot be opened at all (`StreamsExhausted`: every stream slot taken, or out of
file descriptors) is back-pressure: the run is polled at once, and its stream tried again later.
The timeout is a fixed deadline over the whole attempt.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import anyio
import structlog

from orchestrator.adapters.cursor.errors import CursorError, StreamExpired, StreamsExhausted
from orchestrator.adapters.cursor.models import Run, StreamEvent
from orchestrator.core.backoff import BackoffPolicy, next_delay
from orchestrator.core.progress import RunFacts

log = structlog.get_logger("orchd.run")

# The agent's own activity; `status` counts only when it changes, `heartbeat` never does.
_ACTIVITY_EVENTS = frozenset({"assistant", "thinking", "tool_call", "interaction_update", "result"})
_BLIND_AFTER = 3  # stream attempts in a row that deliver no event: the stream is unavailable
_RETRY_CAP_POLLS = 8  # stream retries back off up to this many poll intervals
_MIN_RETRY_S = 0.05


class RunSource(Protocol):
    """What following a run needs from the API (a part of `engine.api.AgentApi`)."""

    async def get_run(self, agent_id: str, run_id: str) -> Run: ...

    def stream_run(
        self, agent_id: str, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[StreamEvent]: ...


_TICK_S = 1e-6  # a clock may land a hair before a deadline it slept to (fake time rounds)


def _reached(deadline: float) -> bool:
    """`deadline` has come. Without the tolerance a sleep that wakes a rounding error early
    would be followed by a sleep too short to move the clock: a busy loop."""
    return anyio.current_time() >= deadline - _TICK_S


class WatchEnd(StrEnum):
    TERMINAL = "terminal"
    TIMEOUT = "timeout"
    STALE = "stale"


@dataclass(frozen=True)
class WatchResult:
    end: WatchEnd
    run: Run


def facts_of(run: Run) -> RunFacts:
    branch = next((b.branch for b in run.branches if b.branch), None)
    return RunFacts(
        status=run.status.value,
        updated_at=run.updated_at.isoformat(),
        branch=branch,
        pr_url=run.pr_url,
        duration_ms=run.duration_ms,
    )


class RunWatcher:
    """Waits for progress signals of one run, streaming when it can, polling meanwhile.

    `blind` is True while there is no liveness signal (no usable stream): `watch_run` then
    suspends the staleness watchdog.
    """

    def __init__(
        self,
        api: RunSource,
        run: Run,
        *,
        poll_interval_s: float,
        use_stream: bool,
        on_change: Callable[[Run], None],
        on_signal: Callable[[str], None],
        on_note: Callable[[str], None] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.api = api
        self.run = run
        self.poll_interval_s = poll_interval_s
        self.use_stream = use_stream
        self.blind = not use_stream
        self._on_change = on_change
        self._on_signal = on_signal
        self._on_note = on_note or on_signal  # what a person should know about the run
        self._rand = rand
        self._facts = facts_of(run)
        self._status = run.status.value  # the last status the stream or a GET told
        self._last_event_id: str | None = None
        self._stream: AsyncIterator[StreamEvent] | None = None
        self._stream_heard = False  # the open connection delivered an event
        self._failures = 0  # stream attempts in a row that ended without a connection's event
        self._retry_at = -math.inf  # loop time of the next stream attempt
        self._next_poll_at = math.inf  # loop time of the next GET (inf: not polling)
        self._said_blind = False
        first = max(poll_interval_s, _MIN_RETRY_S)
        self._retry_policy = BackoffPolicy(
            max_attempts=sys.maxsize,
            initial_delay_s=first,
            multiplier=2.0,
            max_delay_s=first * _RETRY_CAP_POLLS,
            max_total_s=math.inf,
            jitter_ratio=0.2,
        )

    async def refresh(self) -> bool | None:
        """GET the run; True when anything about it changed (a progress signal), None when
        the API could not say."""
        try:
            run = await self.api.get_run(self.run.agent_id, self.run.id)
        except CursorError as exc:
            if not exc.retryable:
                raise
            # The client already retried; a flaky API is not a dead agent: the stale
            # watchdog decides that, so this poll just saw nothing new.
            log.info("run.poll_failed", run_id=self.run.id, error=exc.code)
            return None
        facts = facts_of(run)
        changed = facts != self._facts
        self.run, self._facts, self._status = run, facts, run.status.value
        if changed:
            self._on_change(run)
        return changed

    async def wait_for_signal(self) -> None:
        """Return at the next progress signal or when `blind` flips; the caller checks
        `run.status` and `blind`."""
        if self.blind and not self.use_stream:
            self._say_blind("the stream is switched off")
        was_blind = self.blind
        while True:
            if self.use_stream and (self._stream is not None or _reached(self._retry_at)):
                try:
                    if await self._next_stream_signal():
                        return
                except CursorError as exc:
                    await self.close()
                    self._stream_failed(exc)
                if self.blind != was_blind:
                    return
                continue
            if await self._poll_when_due():
                return

    async def _poll_when_due(self) -> bool:
        """Sleep to the next poll (or stream retry, if sooner); poll if due; True on a change."""
        now = anyio.current_time()
        if self._next_poll_at == math.inf:
            # a random phase, then every interval: runs launched together (thousands, at a
            # release's start) do not poll in lockstep, in bursts orchd and the API must absorb
            self._next_poll_at = now + self.poll_interval_s * (0.5 + 0.5 * self._rand())
        wake = min(self._next_poll_at, self._retry_at if self.use_stream else math.inf)
        if wake > now:
            await anyio.sleep(wake - now)
        if not _reached(self._next_poll_at):
            return False
        self._next_poll_at = anyio.current_time() + self.poll_interval_s
        return bool(await self.refresh())

    async def _next_stream_signal(self) -> bool:
        """Read the stream; True at a progress signal or when liveness is back, False when the
        stream ended without either (a retry is scheduled)."""
        if self._stream is None:
            self._stream_heard = False
            self._stream = aiter(
                self.api.stream_run(
                    self.run.agent_id, self.run.id, last_event_id=self._last_event_id
                )
            )
        while True:
            try:
                event = await anext(self._stream)
            except StopAsyncIteration:
                self._stream = None
                self._schedule_retry(retry_after_s=None)
                return bool(await self.refresh()) or self.run.status.is_terminal
            back = self._heard()
            if event.id is not None:
                self._last_event_id = event.id
            if await self._is_progress(event) or back:
                return True

    def _heard(self) -> bool:
        """A connection's first event: the stream works. True when liveness is back."""
        if self._stream_heard:
            return False
        self._stream_heard = True
        self._failures = 0
        self._next_poll_at = math.inf
        if not self.blind:
            return False
        self.blind = False
        log.info("run.liveness_back", run_id=self.run.id)
        return True

    async def _is_progress(self, event: StreamEvent) -> bool:
        kind = event.event
        if kind == "status":
            status = event.data.get("status") if isinstance(event.data, dict) else None
            if status is None or status == self._status:
                return False  # replayed at the top of every connection: proves nothing
            self._status = str(status)
            await self.refresh()
            return True
        if kind in {"done", "error"}:
            changed = await self.refresh()
            return bool(changed) or self.run.status.is_terminal
        if kind in _ACTIVITY_EVENTS:
            if kind == "result":
                await self.refresh()
            self._on_signal(kind)
            return True
        return False  # heartbeat (the connection is alive, not the agent) or unknown

    def _stream_failed(self, exc: CursorError) -> None:
        if exc.status == 400 and exc.code == "invalid_last_event_id" and self._last_event_id:
            # The server will not resume from our id: start over from the top, at once.
            log.info("run.stream_resume_refused", run_id=self.run.id)
            self._last_event_id = None
            self._retry_at = anyio.current_time()
            return
        delay = self._schedule_retry(retry_after_s=exc.retry_after_s)
        if isinstance(exc, StreamsExhausted):
            log.info("run.stream_deferred", run_id=self.run.id, retry_in_s=round(delay, 3))
            self._say_blind("no stream could be opened: polling meanwhile", quiet=True)
            return
        event = (
            "run.stream_expired"
            if isinstance(exc, StreamExpired)
            else "run.stream_dropped"
            if exc.retryable
            else "run.stream_unavailable"
        )
        log.info(event, run_id=self.run.id, error=exc.code, retry_in_s=round(delay, 3))
        if not exc.retryable:
            answer = f"{exc.status} {exc.code}" if exc.status else exc.code
            self._say_blind(f"the stream answers {answer}")
        elif self._failures >= _BLIND_AFTER:
            self._say_blind(f"the stream failed {self._failures} times in a row ({exc.code})")

    def _schedule_retry(self, *, retry_after_s: float | None) -> float:
        """The next stream attempt after one that failed or ended: capped exponential backoff
        (an attempt that got events resets it), never sooner than the server asked."""
        if not self._stream_heard:
            self._failures += 1
        self._stream_heard = False
        delay = next_delay(
            max(self._failures, 1),
            elapsed_s=0.0,
            retry_after_s=retry_after_s,
            policy=self._retry_policy,
            rand=self._rand(),
        )
        delay = self._retry_policy.max_delay_s if delay is None else delay
        self._retry_at = anyio.current_time() + delay
        return delay

    def _say_blind(self, why: str, *, quiet: bool = False) -> None:
        """No liveness signal: told once per run (the log at info when `quiet`: the daemon
        already warned once for all runs, e.g. that streams are limited)."""
        self.blind = True
        if self._said_blind:
            return
        self._said_blind = True
        (log.info if quiet else log.warning)(
            "run.no_liveness",
            run_id=self.run.id,
            reason=why,
            detail="polling; staleness is not judged, the run's max duration still bounds it",
        )
        self._on_note(f"no liveness signal ({why}): not judged stale, max duration applies")

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await aclose()


async def watch_run(
    watcher: RunWatcher, *, max_duration_s: float, stale_after_s: float
) -> WatchResult:
    """Drive `watcher` until the run is terminal, times out, or is verified stale."""

    def stale_deadline() -> float:
        return math.inf if watcher.blind else anyio.current_time() + stale_after_s

    try:
        with anyio.move_on_after(max_duration_s) as timeout:
            while not watcher.run.status.is_terminal:
                with anyio.CancelScope(deadline=stale_deadline()) as idle:
                    while not watcher.run.status.is_terminal:
                        await watcher.wait_for_signal()
                        idle.deadline = stale_deadline()
                if idle.cancelled_caught:
                    await watcher.close()
                    changed = await watcher.refresh()
                    # unknown (API down) is no verdict: watch on, the next deadline asks again
                    if changed is False and not watcher.run.status.is_terminal:
                        return WatchResult(WatchEnd.STALE, watcher.run)
            return WatchResult(WatchEnd.TERMINAL, watcher.run)
        if timeout.cancelled_caught:
            return WatchResult(WatchEnd.TIMEOUT, watcher.run)
        return WatchResult(WatchEnd.TERMINAL, watcher.run)  # pragma: no cover - loop exits above
    finally:
        await watcher.close()
