"""Learning FU durations while the release runs, and re-ranking the waiting FUs with them.

Watches the supervisor's events: a run known (`FuRunning`) starts an FU's clock, a delivered
branch (`FuDelivered`) stops it (both on orchd's clock; a run adopted after a restart counts
from its adoption). When enough FUs have finished (see `refit_due`), the pure
fit in `core.learned_durations` predicts the rest and the slot pool ranks its waiters by the
remaining critical path those predictions give. A restart starts learning from the finished
FUs its status file records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import structlog

from orchestrator.core.learned_durations import learned_hours, refit_due
from orchestrator.core.release_timing import WORK_DONE, agent_time_s
from orchestrator.core.scheduling import tails_h
from orchestrator.engine.slots import SlotPool
from orchestrator.models.events import FuDelivered, FuRunning, StatusEvent
from orchestrator.models.release import ReleasePlan
from orchestrator.models.status import StatusFile

_HOUR_S = 3600.0


class DurationLearner:
    """Observes the events the supervisor emits; re-ranks the slot pool's waiters."""

    def __init__(
        self,
        plan: ReleasePlan,
        estimates_h: Mapping[str, float],
        slots: SlotPool,
        existing: StatusFile | None = None,
        now: datetime | None = None,
    ) -> None:
        self._plan = plan
        self._estimates = dict(estimates_h)
        self._slots = slots
        self._started: dict[str, datetime] = {}
        self.observed_h: dict[str, float] = {}
        self._fitted = 0
        self.log = structlog.get_logger("orchd.scheduling")
        if existing is not None and now is not None:
            for batch in existing.batches:
                for fu in batch.feature_units:
                    seconds = agent_time_s(fu, now)
                    if fu.status in WORK_DONE and fu.fu_id in self._estimates and seconds > 0:
                        self.observed_h[fu.fu_id] = seconds / _HOUR_S
            self._refit()

    def observe(self, event: StatusEvent) -> None:
        match event:
            case FuRunning(fu_id=fu_id, at=at):  # orchd's clock at both ends
                self._started[fu_id] = at
            case FuDelivered(fu_id=fu_id, at=at) if fu_id in self._started:
                seconds = (at - self._started.pop(fu_id)).total_seconds()
                # the first delivery is the FU's work; a later one answers a conflict
                if fu_id in self._estimates and fu_id not in self.observed_h and seconds >= 0:
                    self.observed_h[fu_id] = seconds / _HOUR_S
                    self._refit()
            case _:
                pass

    def _refit(self) -> None:
        if not refit_due(len(self.observed_h), self._fitted):
            return
        hours = learned_hours(self._estimates, self.observed_h)
        if hours is None:
            return
        self._fitted = len(self.observed_h)
        tails = {f: round(t, 6) for f, t in tails_h(self._plan, hours).items()}
        self._slots.rerank(tails)
        self.log.debug("scheduling.refit", finished=self._fitted)
