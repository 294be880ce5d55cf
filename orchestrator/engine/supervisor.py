"""The release supervisor: batches in schedule order, one task group per batch, one task per FU.

An FU starts when its in-release dependencies have landed on the release branch (same-batch
ones: once merged into the batch's candidate), from that exact commit; external ones are
assumed complete. `strict_batches` adds "every earlier batch is complete". Slots enforce the
parallel and high-risk limits across the release. One writer task owns the status file.
When every FU of a batch is merged into its candidate, the batch lands: its integration tests
run on the candidate and the release branch moves to it. A failed batch asks the decider
(retry / fix / skip / abort); a checkpoint holds later batches until someone says continue.
`abort` cancels every active run; `detach` stops supervising and leaves them running, for the
next `orchd start` to adopt. The FU tasks run in fu_runs.py, events reach the writer through
event_outbox.py, and release_end.py writes and announces the end; this module is the batch loop.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import anyio
import structlog

from orchestrator.adapters.git import GitError
from orchestrator.adapters.status_store import StatusWriter, open_event_channel
from orchestrator.core.reducer import initial_status
from orchestrator.engine.alerting import AlertWatch
from orchestrator.engine.api import AgentApi
from orchestrator.engine.asking import Asker, Notify
from orchestrator.engine.deciders import Answer, Decider, PolicyDecider
from orchestrator.engine.duration_learning import DurationLearner
from orchestrator.engine.earlier_run import EarlierRun, failure_message, reconcile
from orchestrator.engine.event_outbox import EventOutbox
from orchestrator.engine.fu_outcomes import FuOutcomes
from orchestrator.engine.fu_runs import FuRuns
from orchestrator.engine.landing import Lander
from orchestrator.engine.merge_queue import GateFailed, Landed, MergeQueue, NeedsResolution
from orchestrator.engine.release_end import ReleaseEnd
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.slots import SlotPool
from orchestrator.models.events import (
    BatchChanged,
    CandidateDropped,
    ErrorRecorded,
    FuFinished,
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
        queue: MergeQueue,
        *,
        existing: StatusFile | None = None,
        orchestrator_id: str | None = None,
        writer_hook: StatusWriterHook | None = None,
        decider: Decider | None = None,
        notifier: Notify | None = None,
        keep_siblings_on_failure: bool | None = None,
        gate_log_dir: Path | None = None,
        on_event: Callable[[StatusEvent], None] | None = None,
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
        # part of every agent id: new with a new status file, the same on a restart ("" for a
        # file written before nonces, so its agents keep their ids)
        if self.existing is None:
            self.run_nonce = secrets.token_hex(8)
        else:
            self.run_nonce = self.existing.run_nonce or ""
        self._fus = FuOutcomes(plan, self.existing)
        self._earlier = EarlierRun(self.existing)
        self._cands = self._fus.scheduled
        self._learner = DurationLearner(
            plan, self._fus.estimates_h, self.slots, self.existing, settings.now()
        )
        self._batch_done = {b.batch_id: anyio.Event() for b in plan.batches}
        self._checkpointed = {c.after_batch for c in plan.checkpoints}
        # A checkpoint someone must answer holds the later batches' FUs until answered; one
        # answered by policy (`continue`) holds nothing: it is recorded when its batch lands.
        held = self._checkpointed if self.decider.awaits("checkpoint") else set()
        self._holds = {i: anyio.Event() for i, b in enumerate(plan.batches) if b.batch_id in held}
        self._batch_ok: dict[Decimal, bool] = {}
        self._aborted = False
        self._detached = False
        self._left_running: list[str] = []  # FUs whose agents a detach left running
        self._full_suite_failure: str | None = None
        self._launched_none = True  # no batch had work to do in this process
        self._scope: anyio.CancelScope | None = None
        self._writer_hook = writer_hook
        self.log = log.bind(release_id=plan.release_id)
        self._outbox = EventOutbox(self._learner, on_event, self.log)
        self.status_writer: StatusWriter | None = None  # set by `run`; the daemon reads it after
        self.asker = Asker(self.decider, self._outbox.emit, settings.now, notifier)
        self.alerts = AlertWatch(
            plan.release_id, settings, self._outbox.emit, self.asker, self.existing
        )
        self.queue = queue
        logs = gate_log_dir or status_path.parent / "gate_logs"
        self.lander = Lander(plan, settings, queue, self._outbox.emit, logs)
        self._end = ReleaseEnd(
            plan.release_id, self._fus, settings.now, self._outbox.emit, self.asker, self.log
        )
        self._runs = FuRuns(
            plan=plan,
            api=api,
            settings=settings,
            slots=self.slots,
            queue=queue,
            fus=self._fus,
            emit=self._outbox.emit,
            emit_durable=self._outbox.emit_durable,
            asker=self.asker,
            run_nonce=self.run_nonce,
            keep_siblings_on_failure=keep_siblings_on_failure,
            holds=self._holds,
            batch_status=self._batch_status,
            log=self.log,
        )

    # --- public -------------------------------------------------------------------------------

    def abort(self) -> None:
        """Stop launching, cancel every active run, finish with status `aborted`."""
        if self._detached:
            return  # already leaving: the runs stay for the next orchd
        self._aborted = True
        self._runs.abort()
        if self._scope is not None:
            self._scope.cancel()

    def detach(self) -> None:
        """Stop supervising and leave every agent running: no run is cancelled, no agent
        archived, FUs keep their recorded runs in the file, which says `detached`; a gate that
        is running is stopped (its batch is gated again). The next `orchd start` adopts it all."""
        if self._aborted or self._detached:
            return
        self._detached = True
        self._left_running = self._runs.detach()
        if self._scope is not None:
            self._scope.cancel()

    async def run(self) -> ReleaseOutcome:
        send, receive = open_event_channel()
        snapshot = self.existing or initial_status(self.plan.release_id, self.orchestrator_id)
        writer = StatusWriter(
            self.status_path,
            snapshot,
            coalesce_s=self.settings.coalesce_s,
            on_change=self._written,
        )
        self.status_writer = writer  # the daemon reads `write_error` once the release ends
        async with anyio.create_task_group() as outer:
            outer.start_soon(writer.run, receive)
            async with send:
                self._outbox.open(send, writer)
                self._outbox.emit(
                    self._fus.started_event(
                        self.settings.now(), self.orchestrator_id, os.getpid(), self.run_nonce
                    )
                )
                self.log.info(
                    "release.started",
                    batches=len(self.plan.batches),
                    fus=len(self._cands),
                    status_file=str(self.status_path),
                )
                for event in reconcile(
                    self.plan, self._fus, self._earlier, self.queue, self.settings.now()
                ):
                    self._outbox.emit(event)
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    if self._aborted or self._detached:
                        scope.cancel()
                    async with anyio.create_task_group() as watch:
                        watch.start_soon(self.alerts.run, lambda: writer.snapshot)
                        async with anyio.create_task_group() as batches:
                            for index, batch in enumerate(self.plan.batches):
                                batches.start_soon(self._run_batch, index, batch)
                        await self._full_suite()
                        watch.cancel_scope.cancel()
                if self._detached:
                    status = self._end.detached(self._left_running)
                else:
                    status = self._end.finished(
                        aborted=self._aborted, full_suite_failed=bool(self._full_suite_failure)
                    )
        return ReleaseOutcome(
            status=status,
            snapshot=writer.snapshot,
            peak_running=self.slots.peak_running,
            peak_high_risk=self.slots.peak_high_risk,
        )

    def _written(self, snapshot: StatusFile) -> None:
        self.alerts.written(snapshot)
        if self._writer_hook is not None:
            self._writer_hook(snapshot)

    # --- batches ------------------------------------------------------------------------------

    async def _run_batch(self, index: int, batch: Batch) -> None:
        try:
            if self.settings.strict_batches and index > 0:
                await self._batch_done[self.plan.batches[index - 1].batch_id].wait()
            ok = await self._drive_batch(batch)
            self._batch_ok[batch.batch_id] = ok
            if ok and batch.batch_id in self._checkpointed:
                await self._checkpoint(batch)
        finally:
            if index in self._holds:
                self._holds[index].set()
            self._batch_done[batch.batch_id].set()

    async def _drive_batch(self, batch: Batch) -> bool:
        """Run the batch's FUs and land it, until it lands or a decision ends the batch."""
        members = [f for f in batch.feature_units if f in self._cands]
        to_run = [f for f in members if not self._fus[f].done.is_set()]
        earlier = self._earlier.batch_status(batch)
        if not to_run and all(self._fus[f].status is FuStatus.COMPLETED for f in members):
            if earlier != BatchStatus.COMPLETED.value:
                self._batch_status(batch, BatchStatus.COMPLETED)  # landed before a crash
            return True  # a restart: it landed in an earlier run
        if not to_run and earlier == BatchStatus.SKIPPED.value:
            self._batch_status(batch, BatchStatus.SKIPPED)  # a human skipped it before
            return False
        self._launched_none = False
        # a question an earlier run asked and never heard back on (it detached or crashed while
        # it waited): ask again, and launch nothing until a human answers
        reopened = self._earlier.open_question(batch)
        failure: str | None
        while True:
            if reopened is not None:
                failure, asked_before, reopened = reopened, True, None
            else:
                asked_before = False
                failure = await self._runs.run(batch, to_run)
                if failure is None:
                    blocked = [f for f in members if not self._merged_or_landed(f)]
                    if not any(self._fus[f].status is FuStatus.MERGED for f in members):
                        # only FUs blocked by a settled dependency: nothing a decision can change
                        self._settle_all(members)
                        self._batch_status(batch, BatchStatus.FAILED)
                        return False
                    self._batch_status(batch, BatchStatus.GATING)
                    branches = [b for f in members if (b := self._branch_of(f))]
                    try:
                        result = await self.lander.land(batch.batch_id, branches)
                    except GitError as exc:  # the remote went away, a push was refused…
                        self.log.warning("batch.land_failed", error=str(exc))
                        result = GateFailed(f"landing failed: {exc}", self.queue.head)
                    if isinstance(result, Landed):
                        # FUs blocked by a settled dependency do not hold back the rest
                        await self._landed(batch, result, complete=not blocked)
                        return not blocked
                    if isinstance(result, NeedsResolution):
                        to_run = sorted(result.conflicts, key=members.index)
                        for fu_id in to_run:
                            self._fus[fu_id].unsettle()
                        continue
                    failure = (
                        result.summary
                        if result.summary.startswith("landing failed:")
                        else f"integration tests failed: {result.summary}"
                    )
            answer = await self._ask_after_failure(batch, failure, record=not asked_before)
            if answer.action in {"retry", "fix"}:
                if answer.action == "fix":
                    await self._fix(batch, failure)
                if answer.all_fus:
                    await self._drop_candidate(batch)
                to_run = [f for f in members if answer.all_fus or not self._merged_or_landed(f)]
                for fu_id in to_run:
                    state = self._fus[fu_id]
                    state.unsettle(keep_delivery=not answer.all_fus)
                    state.conflict_rounds = 0  # a human's retry: conflict rounds anew,
                    state.budget_from = state.next_attempt  # and retries anew
                self.queue.invalidate(batch.batch_id)  # rebuilt from the branches' heads
                self._batch_status(batch, BatchStatus.RUNNING)
                continue
            unsettled = [f for f in members if self._fus[f].status is not FuStatus.COMPLETED]
            if answer.action == "skip":
                await self._drop_candidate(batch)
                kept = [b for f in unsettled if (b := self._branch_of(f))]
                for fu_id in unsettled:
                    branch = self._branch_of(fu_id)
                    kept_note = f"; its branch {branch} is kept" if branch else ""
                    self._outbox.emit(
                        FuFinished(
                            at=self.settings.now(),
                            fu_id=fu_id,
                            status=FuStatus.DEFERRED,
                            error=f"deferred: batch skipped ({failure}){kept_note}",
                        )
                    )
                    self._fus[fu_id].settle(FuStatus.DEFERRED)
                self.log.warning(
                    "batch.deferred", batch_id=format(batch.batch_id, "f"), branches=kept
                )
                self._batch_status(batch, BatchStatus.SKIPPED)
                return False
            if answer.action == "abort":
                self.abort()
                await anyio.lowlevel.checkpoint()
            self._settle_all(unsettled)  # "fail": the outcomes stand
            self._batch_status(batch, BatchStatus.FAILED)
            return False

    def _merged_or_landed(self, fu_id: str) -> bool:
        return self._fus[fu_id].status in {FuStatus.MERGED, FuStatus.COMPLETED}

    def _branch_of(self, fu_id: str) -> str | None:
        state = self._fus[fu_id]
        return state.delivered.branch if state.delivered else state.branch

    def _settle_all(self, fu_ids: list[str]) -> None:
        """Final as they are: dependants waiting on them see it and are blocked."""
        for fu_id in fu_ids:
            self._fus[fu_id].settle(self._fus[fu_id].status)

    async def _drop_candidate(self, batch: Batch) -> list[str]:
        branches = await self.queue.drop(batch.batch_id)
        self._outbox.emit(CandidateDropped(at=self.settings.now(), batch_id=batch.batch_id))
        for fu_id in batch.feature_units:
            if fu_id in self._fus:
                self._fus[fu_id].unmerge()
        return branches

    async def _landed(self, batch: Batch, result: Landed, *, complete: bool) -> None:
        """The gate passed and the release branch holds the batch: its FUs are done (their
        agents were archived at delivery)."""
        for fu_id, _merge in result.merges:
            self._fus[fu_id].settle(FuStatus.COMPLETED)
        self._batch_status(batch, BatchStatus.COMPLETED if complete else BatchStatus.FAILED)

    async def _fix(self, batch: Batch, failure: str) -> None:
        """`fix`: each merged FU's agent gets the failing tests' log tail, in parallel."""
        targets = [
            (f, d.branch)
            for f in batch.feature_units
            if f in self._fus and self._merged_or_landed(f) and (d := self._fus[f].delivered)
        ]

        async def follow_up(fu_id: str, text: str) -> None:
            await self._runs.fix(batch, fu_id, text)

        await self.lander.send_fixes(batch.batch_id, targets, failure, follow_up)

    def _batch_status(self, batch: Batch, status: BatchStatus) -> None:
        self._outbox.emit(
            BatchChanged(at=self.settings.now(), batch_id=batch.batch_id, status=status)
        )
        if status in {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.SKIPPED}:
            self.log.info(f"batch.{status.value}", batch_id=format(batch.batch_id, "f"))

    # --- gate, decisions, checkpoints ---------------------------------------------------------

    async def _ask_after_failure(self, batch: Batch, failure: str, *, record: bool) -> Answer:
        if record:  # not again for a question a restart asks anew
            self._outbox.emit(
                ErrorRecorded(
                    at=self.settings.now(),
                    batch_id=batch.batch_id,
                    message=failure_message(batch.batch_id, failure),
                )
            )
        return await self.asker.batch_failed(self.plan.release_id, batch.batch_id, failure)

    async def _checkpoint(self, batch: Batch) -> None:
        if self._earlier.checkpoint_passed(batch):
            return  # a restart: a human already said continue here
        names = [c.name for c in self.plan.checkpoints if c.after_batch == batch.batch_id]
        answer = await self.asker.checkpoint(self.plan.release_id, batch.batch_id, names)
        if answer.action == "abort":
            self.abort()
            await anyio.lowlevel.checkpoint()

    async def _full_suite(self) -> None:
        """After the last batch, every IT test, as the original does."""
        if self._aborted or self._detached or not self.settings.gate.full_suite_after_last:
            return
        if len(self._batch_ok) != len(self.plan.batches) or not all(self._batch_ok.values()):
            return
        if self._launched_none and self._earlier.full_suite_passed():
            return  # a restart of a finished release: nothing changed since the suite passed
        try:
            failed = await self.lander.full_suite()
        except GitError as exc:
            failed = GateFailed(f"could not be run: {exc}", self.queue.head)
        if failed is not None:
            failure = f"integration tests failed: {failed.summary}"
            self._full_suite_failure = failure
            self._outbox.emit(
                ErrorRecorded(at=self.settings.now(), message=f"full suite: {failure}")
            )
