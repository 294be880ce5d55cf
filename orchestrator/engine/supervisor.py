"""The release supervisor: batches in schedule order, one task group per batch, one task per FU.

An FU starts when its own and its batch's in-release dependencies are complete (external ones
are assumed complete); `strict_batches` adds "every earlier batch is complete". Slots enforce
the parallel and high-risk limits across the release. One writer task owns the status file.
After a batch's FUs finish, its integration tests run; a failed batch asks the decider
(retry / skip / abort), and a checkpoint holds later batches until someone says continue.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import anyio
import structlog
from anyio.streams.memory import MemoryObjectSendStream

from orchestrator.adapters.status_store import StatusWriter, open_event_channel
from orchestrator.core.reducer import initial_status
from orchestrator.core.scheduling import prerequisites
from orchestrator.engine.api import AgentApi
from orchestrator.engine.asking import Asker, Notify
from orchestrator.engine.batch_gate import run_batch_gate
from orchestrator.engine.deciders import Answer, Decider, PolicyDecider, Question
from orchestrator.engine.fu_outcomes import FuOutcomes
from orchestrator.engine.fu_task import FuDriver
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.slots import SlotPool
from orchestrator.models.events import (
    BatchChanged,
    ErrorRecorded,
    FuFinished,
    ReleaseFinished,
    StatusEvent,
)
from orchestrator.models.release import Batch, ReleasePlan
from orchestrator.models.status import BatchStatus, FuStatus, ReleaseStatus, StatusFile

log = structlog.get_logger("orchd.release")

StatusWriterHook = Callable[[StatusFile], None]


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
        decider: Decider | None = None,
        notifier: Notify | None = None,
        keep_siblings_on_failure: bool | None = None,
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
        self.decider: Decider = decider or PolicyDecider()
        if keep_siblings_on_failure is None:
            keep_siblings_on_failure = (
                isinstance(self.decider, PolicyDecider) and self.decider.on_batch_failure == "fail"
            )
        self.keep_siblings_on_failure = keep_siblings_on_failure
        self._fus = FuOutcomes(plan, self.existing)
        self._cands = self._fus.scheduled
        self._index = {batch.batch_id: i for i, batch in enumerate(plan.batches)}
        self._batch_done = {b.batch_id: anyio.Event() for b in plan.batches}
        checkpointed = {c.after_batch for c in plan.checkpoints}
        self._holds = {
            i: anyio.Event() for i, b in enumerate(plan.batches) if b.batch_id in checkpointed
        }
        self._batch_ok: dict[Decimal, bool] = {}
        self._batch_started: set[Decimal] = set()
        self._aborted = False
        self._full_suite_failure: str | None = None
        self._launched_none = True  # no batch had work to do in this process
        self._drivers: set[FuDriver] = set()
        self._scope: anyio.CancelScope | None = None
        self._writer_hook = writer_hook
        self._send: MemoryObjectSendStream[StatusEvent] | None = None
        self.asker = Asker(self.decider, self._emit, settings.now, notifier)
        self.log = log.bind(release_id=plan.release_id)

    # --- public -------------------------------------------------------------------------------

    def abort(self) -> None:
        """Stop launching, cancel every active run, finish with status `aborted`."""
        self._aborted = True
        for driver in self._drivers:
            driver.hurry(self.settings.cancel_grace_s)
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
                self._emit(
                    self._fus.started_event(self.settings.now(), self.orchestrator_id, os.getpid())
                )
                self.log.info(
                    "release.started",
                    batches=len(self.plan.batches),
                    fus=len(self._cands),
                    status_file=str(self.status_path),
                )
                for event in self._fus.settle_known(self.settings.now()):
                    self._emit(event)
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    if self._aborted:
                        scope.cancel()
                    async with anyio.create_task_group() as batches:
                        for index, batch in enumerate(self.plan.batches):
                            batches.start_soon(self._run_batch, index, batch)
                    await self._full_suite()
                if self._aborted:
                    for event in self._fus.close_unstarted(self.settings.now()):
                        self._emit(event)
                status = self._fus.release_status(
                    aborted=self._aborted, full_suite_failed=bool(self._full_suite_failure)
                )
                counts = self._fus.counts()
                self._emit(ReleaseFinished(at=self.settings.now(), status=status, summary=counts))
                self.log.info("release.finished", status=status.value, **counts)
                self.asker.notify(
                    "release.finished",
                    f"{self.plan.release_id}: release {status.value}",
                    status=status.value,
                    summary=counts,
                )
        return ReleaseOutcome(
            status=status,
            snapshot=writer.snapshot,
            peak_running=self.slots.peak_running,
            peak_high_risk=self.slots.peak_high_risk,
        )

    # --- events -------------------------------------------------------------------------------

    def _emit(self, event: StatusEvent) -> None:
        """Queue an event for the writer; never blocks (the channel is unbounded)."""
        if self._send is None:
            raise RuntimeError("supervisor is not running")
        self._send.send_nowait(event)

    # --- batches ------------------------------------------------------------------------------

    async def _run_batch(self, index: int, batch: Batch) -> None:
        try:
            if self.settings.strict_batches and index > 0:
                await self._batch_done[self.plan.batches[index - 1].batch_id].wait()
            ok = await self._drive_batch(batch)
            self._batch_ok[batch.batch_id] = ok
            if ok and index in self._holds:
                await self._checkpoint(batch)
        finally:
            if index in self._holds:
                self._holds[index].set()
            self._batch_done[batch.batch_id].set()

    async def _drive_batch(self, batch: Batch) -> bool:
        """Run the batch's FUs and tests until they pass or a decision ends the batch."""
        members = [f for f in batch.feature_units if f in self._cands]
        to_run = [f for f in members if not self._fus[f].done.is_set()]
        earlier = self._earlier_status(batch)
        if not to_run and earlier == BatchStatus.COMPLETED.value:
            return True  # a restart: its FUs and tests passed in an earlier run
        if not to_run and earlier == BatchStatus.SKIPPED.value:
            self._batch_status(batch, BatchStatus.SKIPPED)  # a human skipped it before
            return False
        self._launched_none = False
        while True:
            failure = await self._run_fus(batch, to_run)
            if failure is None:
                if any(self._fus[f].status is not FuStatus.COMPLETED for f in members):
                    # only FUs blocked by a settled dependency: nothing a decision can change
                    self._batch_status(batch, BatchStatus.FAILED)
                    return False
                gate = await self._gate(batch)
                if gate is None:
                    self._batch_status(batch, BatchStatus.COMPLETED)
                    return True
                failure = gate
            answer = await self._ask_after_failure(batch, failure)
            if answer.action == "retry":
                to_run = [
                    f
                    for f in members
                    if answer.all_fus or self._fus[f].status is not FuStatus.COMPLETED
                ]
                for fu_id in to_run:
                    self._fus[fu_id].unsettle()
                self._batch_status(batch, BatchStatus.RUNNING)
                continue
            unsettled = [f for f in members if self._fus[f].status is not FuStatus.COMPLETED]
            if answer.action == "skip":
                for fu_id in unsettled:
                    self._emit(
                        FuFinished(
                            at=self.settings.now(),
                            fu_id=fu_id,
                            status=FuStatus.DEFERRED,
                            error=f"deferred: batch skipped ({failure})",
                        )
                    )
                    self._fus[fu_id].settle(FuStatus.DEFERRED)
                self._batch_status(batch, BatchStatus.SKIPPED)
                return False
            if answer.action == "abort":
                self.abort()
                await anyio.lowlevel.checkpoint()
            for fu_id in unsettled:  # "fail": the outcomes stand
                self._fus[fu_id].settle(self._fus[fu_id].status)
            self._batch_status(batch, BatchStatus.FAILED)
            return False

    def _full_suite_passed_before(self) -> bool:
        earlier = getattr(self.existing, "full_suite", None) if self.existing else None
        return isinstance(earlier, dict) and earlier.get("status") == "passed"

    def _passed_before(self, batch: Batch) -> bool:
        """An earlier run recorded `continue` at this batch's checkpoint."""
        decisions = getattr(self.existing, "decisions", None) if self.existing else None
        return isinstance(decisions, list) and any(
            isinstance(d, dict)
            and d.get("kind") == "checkpoint"
            and d.get("action") == "continue"
            and str(d.get("batch_id")) in {format(batch.batch_id, "f"), str(float(batch.batch_id))}
            for d in decisions
        )

    def _earlier_status(self, batch: Batch) -> str | None:
        """The batch's status in the file an earlier run left, if any."""
        if self.existing is None:
            return None
        entry = next((b for b in self.existing.batches if b.batch_id == batch.batch_id), None)
        return entry.status if entry is not None else None

    async def _run_fus(self, batch: Batch, fu_ids: list[str]) -> str | None:
        """One task per FU; the first escalation cancels the batch's other FUs (unless "fail")."""
        failures: list[str] = []
        async with anyio.create_task_group() as group:
            for fu_id in fu_ids:
                group.start_soon(self._run_fu, batch, fu_id, group.cancel_scope, failures)
        return "; ".join(failures) if failures else None

    async def _run_fu(
        self, batch: Batch, fu_id: str, batch_scope: anyio.CancelScope, failures: list[str]
    ) -> None:
        state = self._fus[fu_id]
        state.status = FuStatus.PENDING
        prereqs = prerequisites(self.plan, fu_id)
        # Re-check after each wait: a `retry --all` may relaunch a dependency we saw done.
        while unsettled := [d for d in prereqs if not self._fus[d].done.is_set()]:
            await self._fus[unsettled[0]].done.wait()
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
            state.settle(FuStatus.BLOCKED)
            return
        for held, event in self._holds.items():
            if held < self._index[batch.batch_id]:
                await event.wait()
        if batch.batch_id not in self._batch_started:
            self._batch_started.add(batch.batch_id)
            self._batch_status(batch, BatchStatus.RUNNING)
        driver = FuDriver(
            plan=self.plan,
            unit=self.plan.fu(fu_id),
            candidate=self._cands[fu_id],
            api=self.api,
            settings=self.settings,
            slots=self.slots,
            emit=self._emit,
            first_attempt=state.next_attempt,
            resume=state.resume,
        )
        state.resume = None  # adopt a recorded run once; later attempts launch anew
        self._drivers.add(driver)
        try:
            status = await driver.drive()
        except anyio.get_cancelled_exc_class():
            state.status = FuStatus.CANCELLED
            state.next_attempt = driver.attempt + 1
            reason = "aborted" if self._aborted else "cancelled: its batch failed"
            self._emit(
                FuFinished(
                    at=self.settings.now(), fu_id=fu_id, status=FuStatus.CANCELLED, error=reason
                )
            )
            if self._aborted:
                state.settle(FuStatus.CANCELLED)
            raise
        finally:
            self._drivers.discard(driver)
        state.next_attempt = driver.attempt + 1
        state.branch = driver.branch
        if status is FuStatus.COMPLETED:
            state.settle(status)
            return
        if self.keep_siblings_on_failure:
            state.settle(status)  # "fail": final now; dependants see it and are blocked
        else:
            state.status = status  # final only once a human has decided
        failures.append(f"{fu_id} {status.value}: {driver.last_error or ''}".rstrip(": "))
        self.asker.notify(
            "fu.escalated",
            f"{self.plan.release_id}: {fu_id} needs a human: {driver.last_error}",
            fu_id=fu_id,
            batch_id=batch.batch_id,
        )
        if self._cancels_batch():
            batch_scope.cancel()

    def _cancels_batch(self) -> bool:
        """Issue-4 behaviour ("fail"): keep running siblings; otherwise stop the batch."""
        return not self.keep_siblings_on_failure

    def _batch_status(self, batch: Batch, status: BatchStatus) -> None:
        self._emit(BatchChanged(at=self.settings.now(), batch_id=batch.batch_id, status=status))
        if status in {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.SKIPPED}:
            self.log.info(f"batch.{status.value}", batch_id=format(batch.batch_id, "f"))

    # --- gate, decisions, checkpoints ---------------------------------------------------------

    async def _gate(self, batch: Batch | None) -> str | None:
        """Run the tests covering `batch` (None: the whole suite); what failed, or None."""
        members = batch.feature_units if batch else tuple(self._fus.states)
        if batch is not None:
            self._batch_status(batch, BatchStatus.GATING)
        outcome = await run_batch_gate(
            self.plan,
            self.settings.gate,
            batch_id=batch.batch_id if batch else None,
            branches=[b for f in members if f in self._fus and (b := self._fus[f].branch)],
            log_dir=self.status_path.parent / "gate_logs",
            at=self.settings.now(),
        )
        if outcome.event is not None:
            self._emit(outcome.event)
        return None if outcome.passed else f"integration tests failed: {outcome.summary}"

    async def _ask_after_failure(self, batch: Batch, failure: str) -> Answer:
        label = format(batch.batch_id, "f")
        self._emit(
            ErrorRecorded(
                at=self.settings.now(),
                batch_id=batch.batch_id,
                message=f"batch {label} failed: {failure}",
            )
        )
        self.asker.notify(
            "batch.failed",
            f"{self.plan.release_id}: batch {label} failed: {failure}",
            batch_id=batch.batch_id,
            reason=failure,
        )
        return await self.asker.ask(Question("batch_failure", batch.batch_id, failure))

    async def _checkpoint(self, batch: Batch) -> None:
        if self._passed_before(batch):
            return  # a restart: a human already said continue here
        names = [c.name for c in self.plan.checkpoints if c.after_batch == batch.batch_id]
        text = (
            f"{self.plan.release_id}: checkpoint {', '.join(names)} after batch "
            f"{format(batch.batch_id, 'f')}: review before the release goes on"
        )
        self.asker.notify("checkpoint.reached", text, batch_id=batch.batch_id, checkpoints=names)
        answer = await self.asker.ask(Question("checkpoint", batch.batch_id, text))
        if answer.action == "abort":
            self.abort()
            await anyio.lowlevel.checkpoint()

    async def _full_suite(self) -> None:
        """After the last batch, every IT test, as the original does."""
        if self._aborted or not self.settings.gate.full_suite_after_last:
            return
        if len(self._batch_ok) != len(self.plan.batches) or not all(self._batch_ok.values()):
            return
        if self._launched_none and self._full_suite_passed_before():
            return  # a restart of a finished release: nothing changed since the suite passed
        failure = await self._gate(None)
        if failure:
            self._full_suite_failure = failure
            self._emit(ErrorRecorded(at=self.settings.now(), message=f"full suite: {failure}"))
