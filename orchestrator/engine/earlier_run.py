"""What the status file of an earlier run says, for a restart to pick up where it stopped.

The remote is the truth about what landed (the merge queue reads the trailers); the file says
what a human decided and how far gates and batches got.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from orchestrator.engine.fu_outcomes import FuOutcomes
from orchestrator.engine.merge_queue import MergeQueue
from orchestrator.models.events import BatchLanded, IntegrationBranch, StatusEvent
from orchestrator.models.release import Batch, ReleasePlan
from orchestrator.models.status import BatchStatus, FuStatus, StatusFile

_GATE_PASSED = {"passed", "no_tests"}


def failure_message(batch_id: Decimal, failure: str) -> str:
    """How a failed batch is recorded in `errors[]` (and read back by `open_question`)."""
    return f"batch {format(batch_id, 'f')} failed: {failure}"


class EarlierRun:
    def __init__(self, existing: StatusFile | None) -> None:
        self.existing = existing

    def batch_status(self, batch: Batch) -> str | None:
        """The batch's status in the file an earlier run left, if any."""
        if self.existing is None:
            return None
        entry = next((b for b in self.existing.batches if b.batch_id == batch.batch_id), None)
        return entry.status if entry is not None else None

    def open_question(self, batch: Batch) -> str | None:
        """The failure an earlier run asked a human about and never heard back on (it was
        detached, or crashed, while the batch was `awaiting_decision`), else None."""
        if self.existing is None or self.batch_status(batch) != BatchStatus.AWAITING_DECISION:
            return None
        prefix = failure_message(batch.batch_id, "")
        for error in reversed(self.existing.errors):
            if error.batch_id == batch.batch_id and error.message.startswith(prefix):
                return error.message.removeprefix(prefix)
        return "it failed before orchd restarted (its errors are in the status file)"

    def checkpoint_passed(self, batch: Batch) -> bool:
        """An earlier run recorded `continue` at this batch's checkpoint."""
        decisions = getattr(self.existing, "decisions", None) if self.existing else None
        labels = {format(batch.batch_id, "f"), str(float(batch.batch_id))}
        return isinstance(decisions, list) and any(
            isinstance(d, dict)
            and d.get("kind") == "checkpoint"
            and d.get("action") == "continue"
            and str(d.get("batch_id")) in labels
            for d in decisions
        )

    def full_suite_passed(self) -> bool:
        earlier = getattr(self.existing, "full_suite", None) if self.existing else None
        return isinstance(earlier, dict) and earlier.get("status") in _GATE_PASSED

    def landed_recorded(self, fu_id: str) -> bool:
        entry = self.existing.fu_entry(fu_id) if self.existing else None
        return (
            entry is not None
            and entry.merge_commit is not None
            and entry.status == FuStatus.COMPLETED.value
        )


def reconcile(
    plan: ReleasePlan, fus: FuOutcomes, earlier: EarlierRun, queue: MergeQueue, at: datetime
) -> list[StatusEvent]:
    """FUs whose merge is on the release branch have landed, whatever the file says (a crash
    between the push and the status write); delivered ones are merged, never relaunched."""
    landed = queue.landed
    events: list[StatusEvent] = list(fus.settle_known(at, landed))
    for batch in plan.batches:
        merges = tuple(
            (fu_id, landed[fu_id])
            for fu_id in batch.feature_units
            if fu_id in landed and fu_id in fus and not earlier.landed_recorded(fu_id)
        )
        if merges:
            events.append(
                BatchLanded(at=at, batch_id=batch.batch_id, sha=merges[-1][1], merges=merges)
            )
    events.append(
        IntegrationBranch(at=at, branch=queue.branch, sha=queue.head, base_branch=queue.base_branch)
    )
    return events
