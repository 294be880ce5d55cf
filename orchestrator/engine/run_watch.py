"""Follow one run to a terminal status, with the timeout and staleness watchdogs.

Signals come from the run's SSE stream when available (heartbeats, tool calls, status), else
from polling `GET …/runs/{id}`. Staleness is a cancel scope whose deadline moves on every
progress signal (hypercorn's idle timeout); when it fires, a fresh GET decides: a changed or
finished run is alive, an unchanged one is stale. The timeout is a fixed deadline over the
whole attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum

import anyio
import structlog

from orchestrator.adapters.cursor.errors import CursorError, StreamExpired
from orchestrator.adapters.cursor.models import Run, StreamEvent
from orchestrator.core.progress import RunFacts
from orchestrator.engine.api import AgentApi

log = structlog.get_logger("orchd.run")

_LIVENESS_EVENTS = frozenset(
    {"heartbeat", "tool_call", "assistant", "thinking", "interaction_update", "result", "status"}
)


_STREAM_REFUSED = frozenset({401, 403, 404})  # the stream is not for us: poll instead


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
    """Yields 'something happened' signals for one run, streaming or polling."""

    def __init__(
        self,
        api: AgentApi,
        run: Run,
        *,
        poll_interval_s: float,
        use_stream: bool,
        on_change: Callable[[Run], None],
        on_signal: Callable[[str], None],
    ) -> None:
        self.api = api
        self.run = run
        self.poll_interval_s = poll_interval_s
        self.use_stream = use_stream
        self._on_change = on_change
        self._on_signal = on_signal
        self._facts = facts_of(run)
        self._last_event_id: str | None = None
        self._stream: AsyncIterator[StreamEvent] | None = None
        self._stream_failures = 0

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
        self.run, self._facts = run, facts
        if changed:
            self._on_change(run)
        return changed

    async def wait_for_signal(self) -> None:
        """Return at the next progress signal; the caller checks `run.status`."""
        while self.use_stream:
            try:
                await self._next_stream_signal()
                self._stream_failures = 0
                return
            except StreamExpired:
                log.info("run.stream_expired", run_id=self.run.id)
                self.use_stream = False
            except CursorError as exc:
                await self.close()
                self._stream_failures += 1
                if exc.status in _STREAM_REFUSED:
                    log.info("run.stream_unavailable", run_id=self.run.id, error=exc.code)
                    self.use_stream = False
                else:
                    # A dropped, cut or silent stream: poll once, then resume from the last
                    # event id. Never give up on it: polling alone cannot tell alive from hung.
                    log.info("run.stream_dropped", run_id=self.run.id, error=exc.code)
                    pause = self.poll_interval_s * 2 ** min(self._stream_failures - 1, 3)
                    await anyio.sleep(pause)
                    if await self.refresh():
                        return
            await self.close()
        while True:
            await anyio.sleep(self.poll_interval_s)
            if await self.refresh():
                return

    async def _next_stream_signal(self) -> None:
        while True:
            if self._stream is None:
                self._stream = aiter(
                    self.api.stream_run(
                        self.run.agent_id, self.run.id, last_event_id=self._last_event_id
                    )
                )
            try:
                event = await anext(self._stream)
            except StopAsyncIteration:
                self._stream = None
                await self.refresh()
                if self.run.status.is_terminal:
                    return
                await anyio.sleep(self.poll_interval_s)
                continue
            if event.id is not None:
                self._last_event_id = event.id
            if event.event in {"done", "error", "status", "result"}:
                await self.refresh()
                self._on_signal(event.event)
                return
            if event.event in _LIVENESS_EVENTS:
                self._on_signal(event.event)
                return

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
    try:
        with anyio.move_on_after(max_duration_s) as timeout:
            while not watcher.run.status.is_terminal:
                with anyio.move_on_after(stale_after_s) as idle:
                    while not watcher.run.status.is_terminal:
                        await watcher.wait_for_signal()
                        idle.deadline = anyio.current_time() + stale_after_s
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
