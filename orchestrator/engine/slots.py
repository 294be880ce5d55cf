"""Run slots: at most `max_parallel` FUs running across the release, `max_high_risk` high-risk.

Waiters are granted in priority order by the pure `choose_grants`; a slot is held for one
attempt and released during retry backoff so other work proceeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from orchestrator.core.scheduling import Candidate, choose_grants


class SlotPool:
    def __init__(self, *, max_parallel: int, max_high_risk: int) -> None:
        self.max_parallel = max_parallel
        self.max_high_risk = max_high_risk
        self._waiting: dict[str, tuple[Candidate, anyio.Event]] = {}
        self._running: dict[str, Candidate] = {}
        self.peak_running = 0
        self.peak_high_risk = 0

    @property
    def running(self) -> tuple[str, ...]:
        return tuple(self._running)

    @asynccontextmanager
    async def slot(self, cand: Candidate) -> AsyncIterator[None]:
        granted = anyio.Event()
        self._waiting[cand.fu_id] = (cand, granted)
        self._dispatch()
        try:
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
