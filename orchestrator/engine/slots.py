"""Run slots: at most `max_parallel` FUs running across the release, `max_high_risk` high-risk.

Waiters are granted in priority order by the pure `choose_grants`; a slot is held for one
attempt and released during retry backoff so other work proceeds. FUs woken by one event (a
batch landing wakes all its dependants) reach the pool one after another within a few
milliseconds: an arrival waits `settle_s` before free slots are handed out, so the decision is
made over all of them (P0 first, longest remaining critical path next), not first come.

When the Cursor account refuses another active agent, the pool lowers its limit to what is
running (the account's real capacity) and the refused FU waits for a slot to free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio

from orchestrator.core.scheduling import Candidate, choose_grants


class SlotPool:
    def __init__(self, *, max_parallel: int, max_high_risk: int, settle_s: float = 0.05) -> None:
        self.max_parallel = max_parallel
        self.settle_s = settle_s
        self.max_high_risk = max_high_risk
        self._waiting: dict[str, tuple[Candidate, anyio.Event]] = {}
        self._running: dict[str, Candidate] = {}
        self.peak_running = 0
        self.peak_high_risk = 0
        self._freed = anyio.Event()
        self._tails: Mapping[str, float] = {}

    @property
    def running(self) -> tuple[str, ...]:
        return tuple(self._running)

    @asynccontextmanager
    async def slot(self, cand: Candidate) -> AsyncIterator[None]:
        granted = anyio.Event()
        self._waiting[cand.fu_id] = (self.ranked(cand), granted)
        try:
            if self.settle_s > 0 and len(self._running) < self.max_parallel:
                await anyio.sleep(self.settle_s)  # let the others woken with it arrive
            self._dispatch()
            await granted.wait()
        except BaseException:
            self._waiting.pop(cand.fu_id, None)
            if self._running.pop(cand.fu_id, None) is not None:
                self._dispatch()
            raise
        try:
            yield
        finally:
            self._running.pop(cand.fu_id, None)
            self._dispatch()

    def capacity_freed(self) -> None:
        """One of orchd's agents gave its account slot back (archived): waiters try again."""
        self._freed.set()
        self._freed = anyio.Event()

    def capacity_refused(self) -> int:
        """The account is full: run no more FUs at once than run now (at least one). Called
        outside the refused FU's slot; returns the new limit."""
        lowered = max(1, len(self._running))
        if lowered < self.max_parallel:
            self.max_parallel = lowered
        return self.max_parallel

    async def wait_for_capacity(self, timeout_s: float) -> None:
        """Until one of orchd's agents frees its account slot, or `timeout_s` (agents orchd does
        not own may be the ones holding the account's slots)."""
        freed = self._freed
        with anyio.move_on_after(timeout_s):
            await freed.wait()

    def rerank(self, tails_h: Mapping[str, float]) -> None:
        """Rank waiters by these remaining critical paths from now on (learned durations)
        instead of the ones their candidates were made with."""
        self._tails = tails_h
        for fu_id, (cand, granted) in self._waiting.items():
            self._waiting[fu_id] = (self.ranked(cand), granted)

    def ranked(self, cand: Candidate) -> Candidate:
        """The candidate as the pool ranks it now."""
        tail = self._tails.get(cand.fu_id)
        return cand if tail is None else replace(cand, tail_h=tail)

    def _dispatch(self) -> None:
        grants = choose_grants(
            (cand for cand, _ in self._waiting.values()),
            tuple(self._running.values()),
            max_parallel=self.max_parallel,
            max_high_risk=self.max_high_risk,
        )
        for fu_id in grants:
            cand, event = self._waiting.pop(fu_id)
            self._running[fu_id] = cand
            event.set()
        self.peak_running = max(self.peak_running, len(self._running))
        high = sum(1 for c in self._running.values() if c.high_risk)
        self.peak_high_risk = max(self.peak_high_risk, high)
