"""The one line a service manager shows for orchd (`systemctl status`'s `Status:`), made from
the status file: where the release is, whether it waits for a person and what to run then."""

from __future__ import annotations

from orchestrator.models.batch_id import format_batch_id
from orchestrator.models.status import BatchStatus, FuStatus, ReleaseStatus, StatusFile

_ACTIVE = {s.value for s in FuStatus if s.is_active}
_BUSY_BATCHES = {BatchStatus.RUNNING.value, BatchStatus.GATING.value}
_ENDED = {ReleaseStatus.COMPLETED.value, ReleaseStatus.FAILED.value, ReleaseStatus.ABORTED.value}


def service_status(snapshot: StatusFile) -> str:
    """`batch 2: 3 running, 11/28 landed`; a waiting release names the command that answers
    it; an ended or detached one says so."""
    entries = [fu for batch in snapshot.batches for fu in batch.feature_units]
    landed = sum(1 for fu in entries if fu.status == FuStatus.COMPLETED.value)
    progress = f"{landed}/{len(entries)} landed"
    running = sum(1 for fu in entries if fu.status in _ACTIVE)
    release = snapshot.release_id
    state = snapshot.orchestrator.status
    if state in _ENDED:
        return f"release {state}: {progress}"
    if state == ReleaseStatus.DETACHED.value:
        return (
            f"detached: {running} agent(s) left running, {progress} "
            f"(`orchd start {release}` adopts them)"
        )
    awaiting = snapshot.orchestrator.awaiting
    if awaiting:
        return f"{_question(release, awaiting)}; {running} running, {progress}"
    busy = [b for b in snapshot.batches if b.status in _BUSY_BATCHES]
    if not busy:
        return f"{running} running, {progress}"
    names = ", ".join(format_batch_id(b.batch_id) for b in busy)
    head = f"batch {names}" if len(busy) == 1 else f"batches {names}"
    gating = [format_batch_id(b.batch_id) for b in busy if b.status == BatchStatus.GATING.value]
    parts = [f"{running} running"] if running or not gating else []
    if gating:
        parts.append("gate running" if len(busy) == 1 else f"gate running on {', '.join(gating)}")
    return f"{head}: {', '.join([*parts, progress])}"


def _question(release: str, awaiting: dict[str, object]) -> str:
    """`waiting for you: batch 2 failed: orchd decide v0.1.1 retry|fix|skip|abort`."""
    batch = awaiting.get("batch_id")
    label = f"batch {batch}" if batch is not None else "the release"
    choices = awaiting.get("choices")
    answers = "|".join(str(c) for c in choices) if isinstance(choices, list) and choices else ""
    checkpoint = awaiting.get("kind") == "checkpoint"
    where = f"checkpoint after {label}" if checkpoint else f"{label} failed"
    command = f"orchd decide {release} {answers}".rstrip()
    return f"waiting for you ({where}): {command}"
