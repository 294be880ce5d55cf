"""The release supervisor: batches in schedule order, one task group per batch, one task per FU.

An FU starts when its own and its batch's in-release dependencies are complete (external ones
are assumed complete); `strict_batches` adds "every earlier batch is complete". Slots enforce
the parallel and high-risk limits across the release. One writer task owns the status file.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import anyio
import structlog
from anyio.streams.memory import MemoryObjectSendStream

from orchestrator.adapters.status_store import StatusWriter, open_event_channel
from orchestrator.core.reducer import initial_status
from orchestrator.core.scheduling import candidates, prerequisites
from orchestrator.engine.api import AgentApi
from orchestrator.engine.fu_task import FuDriver
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.slots import SlotPool
from orchestrator.models.events import (
    BatchChanged,
    FuFinished,
    FuPlanEntry,
    ReleaseFinished,
    ReleaseStarted,
    StatusEvent,
)
from orchestrator.models.release import Batch, ReleasePlan
from orchestrator.models.status import BatchStatus, FuStatus, ReleaseStatus, StatusFile

log = structlog.get_logger("orchd.release")

StatusWriterHook = Callable[[StatusFile], None]

_RESUME_SAME_ATTEMPT = {FuStatus.LAUNCHING.value, FuStatus.RUNNING.value, FuStatus.STALE.value}


@dataclass
class _FuState:
    status: FuStatus = FuStatus.PENDING
    done: anyio.Event = field(default_factory=anyio.Event)

    def finish(self, status: FuStatus) -> None:
        self.status = status
        self.done.set()


@dataclass(frozen=True)
class ReleaseOutcome:
    status: ReleaseStatus
    snapshot: StatusFile
    peak_running: int
    peak_high_risk: int


class Supervisor:
    def __init__(
        self,
        plan: ReleasePlan,
        api: AgentApi,
        settings: EngineSettings,
        status_path: Path,
        *,
        existing: StatusFile | None = None,
        orchestrator_id: str | None = None,
        writer_hook: StatusWriterHook | None = None,
    ) -> None:
        self.plan = plan
        self.api = api
        self.settings = settings
        self.status_path = status_path
        self.existing = existing if existing and existing.release_id == plan.release_id else None
        started = settings.now()
        self.orchestrator_id = orchestrator_id or f"orchd_{int(started.timestamp() * 1000)}"
        self.slots = SlotPool(
            max_parallel=plan.limits.effective_parallel,
            max_high_risk=plan.limits.max_high_risk_in_parallel,
        )
        self._cands = candidates(plan)
        self._fus: dict[str, _FuState] = {unit.id: _FuState() for unit in plan.feature_units}
        self._batch_done: dict[Decimal, anyio.Event] = {
            b.batch_id: anyio.Event() for b in plan.batches
        }
        self._batch_started: set[Decimal] = set()
        self._aborted = False
        self._scope: anyio.CancelScope | None = None
        self._writer_hook = writer_hook
        self._send: MemoryObjectSendStream[StatusEvent] | None = None
        self.log = log.bind(release_id=plan.release_id)

    def abort(self) -> None:
        """Stop launching, cancel every active run, finish with status `aborted`."""
        self._aborted = True
        if self._scope is not None:
            self._scope.cancel()

    async def run(self) -> ReleaseOutcome:
        send, receive = open_event_channel()
        snapshot = self.existing or initial_status(self.plan.release_id, self.orchestrator_id)
        writer = StatusWriter(
            self.status_path,
            snapshot,
            coalesce_s=self.settings.coalesce_s,
            on_change=self._writer_hook,
        )
        async with anyio.create_task_group() as outer:
            outer.start_soon(writer.run, receive)
            async with send:
                self._send = send
                self._emit(self._started_event())
                self.log.info(
                    "release.started",
                    batches=len(self.plan.batches),
                    fus=len(self._cands),
                    status_file=str(self.status_path),
                )
                self._mark_known_outcomes()
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    if self._aborted:
                        scope.cancel()
                    async with anyio.create_task_group() as batches:
                        for index, batch in enumerate(self.plan.batches):
                            batches.start_soon(self._run_batch, index, batch)
                status = self._final_status()
                counts = Counter(state.status.value for state in self._fus.values())
                self._emit(
                    ReleaseFinished(at=self.settings.now(), status=status, summary=dict(counts))
                )
                self.log.info("release.finished", status=status.value, **dict(counts))
        return ReleaseOutcome(
            status=status,
            snapshot=writer.snapshot,
            peak_running=self.slots.peak_running,
            peak_high_risk=self.slots.peak_high_risk,
        )

    def _emit(self, event: StatusEvent) -> None:
        """Queue an event for the writer; never blocks (the channel is unbounded)."""
        if self._send is None:
            raise RuntimeError("supervisor is not running")
        self._send.send_nowait(event)

    def _started_event(self) -> ReleaseStarted:
        batches = tuple(
            (
                batch.batch_id,
                tuple(
                    FuPlanEntry(
                        fu_id=fu_id,
                        priority=self.plan.fu(fu_id).priority.value,
                        risk_level=self.plan.fu(fu_id).risk_level.value,
                    )
                    for fu_id in batch.feature_units
                    if fu_id in self._fus
                ),
            )
            for batch in self.plan.batches
        )
        return ReleaseStarted(
            at=self.settings.now(),
            orchestrator_id=self.orchestrator_id,
            pid=os.getpid(),
            batches=batches,
        )

    def _mark_known_outcomes(self) -> None:
        """FUs that will not run in this process: done before, deferred, or in no batch."""
        now = self.settings.now()
        done_before = set(self.existing.completed_fus) if self.existing else set()
        for unit in self.plan.feature_units:
            entry = self.existing.fu_entry(unit.id) if self.existing else None
            if unit.id in done_before or (entry and entry.status == FuStatus.COMPLETED.value):
                self._fus[unit.id].finish(FuStatus.COMPLETED)
            elif unit.id in self.plan.deferred:
                self._fus[unit.id].finish(FuStatus.SKIPPED)
                self._emit(
                    FuFinished(
                        at=now,
                        fu_id=unit.id,
                        status=FuStatus.SKIPPED,
                        error="deferred by the manifest",
                    )
                )
            elif unit.id not in self._cands:
                self._fus[unit.id].finish(FuStatus.SKIPPED)

    async def _run_batch(self, index: int, batch: Batch) -> None:
        if self.settings.strict_batches and index > 0:
            await self._batch_done[self.plan.batches[index - 1].batch_id].wait()
        async with anyio.create_task_group() as group:
            for fu_id in batch.feature_units:
                if fu_id in self._cands and not self._fus[fu_id].done.is_set():
                    group.start_soon(self._run_fu, batch, fu_id)
        statuses = [self._fus[f].status for f in batch.feature_units if f in self._cands]
        ok = all(s is FuStatus.COMPLETED for s in statuses)
        self._emit(
            BatchChanged(
                at=self.settings.now(),
                batch_id=batch.batch_id,
                status=BatchStatus.COMPLETED if ok else BatchStatus.FAILED,
            )
        )
        self.log.info("batch.completed" if ok else "batch.failed", batch_id=str(batch.batch_id))
        self._batch_done[batch.batch_id].set()

    async def _run_fu(self, batch: Batch, fu_id: str) -> None:
        state = self._fus[fu_id]
        prereqs = prerequisites(self.plan, fu_id)
        for dep in prereqs:
            await self._fus[dep].done.wait()
        failed = [
            f"{dep} is {self._fus[dep].status.value}"
            for dep in prereqs
            if self._fus[dep].status is not FuStatus.COMPLETED
        ]
        if failed:
            message = "blocked: dependency " + ", ".join(failed)
            self.log.warning("fu.blocked", fu_id=fu_id, reason=message)
            self._emit(
                FuFinished(
                    at=self.settings.now(), fu_id=fu_id, status=FuStatus.BLOCKED, error=message
                )
            )
            state.finish(FuStatus.BLOCKED)
            return
        if batch.batch_id not in self._batch_started:
            self._batch_started.add(batch.batch_id)
            self._emit(
                BatchChanged(
                    at=self.settings.now(), batch_id=batch.batch_id, status=BatchStatus.RUNNING
                )
            )
        driver = FuDriver(
            plan=self.plan,
            unit=self.plan.fu(fu_id),
            candidate=self._cands[fu_id],
            api=self.api,
            settings=self.settings,
            slots=self.slots,
            emit=self._emit,
            first_attempt=self._first_attempt(fu_id),
        )
        try:
            state.finish(await driver.drive())
        except anyio.get_cancelled_exc_class():
            state.finish(FuStatus.CANCELLED)
            raise

    def _first_attempt(self, fu_id: str) -> int:
        """Resume: an active attempt is adopted (same agentId → 409 → adopt); else the next."""
        entry = self.existing.fu_entry(fu_id) if self.existing else None
        if entry is None or entry.attempts < 1:
            return 1
        return entry.attempts if entry.status in _RESUME_SAME_ATTEMPT else entry.attempts + 1

    def _final_status(self) -> ReleaseStatus:
        if self._aborted:
            return ReleaseStatus.ABORTED
        scheduled = [self._fus[fu_id].status for fu_id in self._cands]
        if all(s is FuStatus.COMPLETED for s in scheduled):
            return ReleaseStatus.COMPLETED
        return ReleaseStatus.FAILED
