from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orchestrator.core.reducer import apply, initial_status
from orchestrator.models.events import (
    BatchChanged,
    FuFinished,
    FuLaunching,
    FuPlanEntry,
    FuProgress,
    FuRetrying,
    FuRunning,
    ReleaseFinished,
    ReleaseStarted,
)
from orchestrator.models.status import BatchStatus, FuStatus, ReleaseStatus, StatusFile

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def started() -> StatusFile:
    snap = initial_status("v0.1.0", "orchd_1")
    return apply(
        snap,
        ReleaseStarted(
            at=T0,
            orchestrator_id="orchd_1",
            pid=42,
            batches=(
                (Decimal(0), (FuPlanEntry("FU-000", "P0", "low"),)),
                (Decimal("0.5"), (FuPlanEntry("FU-050", "P0", "high"),)),
            ),
        ),
    )


def test_start_lays_out_the_seed_structure_with_exact_batch_ids() -> None:
    data = started().model_dump(mode="json")
    assert data["release_id"] == "v0.1.0"
    assert data["orchestrator"]["status"] == "running"
    assert [b["batch_id"] for b in data["batches"]] == [0, 0.5]
    fu = data["batches"][1]["feature_units"][0]
    assert fu["fu_id"] == "FU-050"
    assert fu["status"] == "pending"
    assert fu["worker_agent_id"] is None
    assert data["completed_fus"] == []


def test_fu_lifecycle_sets_agent_progress_and_completion() -> None:
    snap = started()
    before = snap
    snap = apply(snap, FuLaunching(at=T0, fu_id="FU-000", attempt=1, agent_id="bc-1"))
    snap = apply(snap, FuRunning(at=T0, fu_id="FU-000", agent_id="bc-1", run_id="run-1"))
    snap = apply(
        snap,
        FuProgress(
            at=T0 + timedelta(seconds=5), fu_id="FU-000", progress=0.5, branch="cursor/fu-000"
        ),
    )
    snap = apply(snap, FuProgress(at=T0 + timedelta(seconds=6), fu_id="FU-000", progress=0.1))
    entry = snap.fu_entry("FU-000")
    assert entry is not None
    assert (entry.status, entry.run_id, entry.progress) == ("running", "run-1", 0.5)
    assert entry.last_update == T0 + timedelta(seconds=6)
    snap = apply(
        snap,
        FuFinished(
            at=T0 + timedelta(seconds=90),
            fu_id="FU-000",
            status=FuStatus.COMPLETED,
            pr_url="https://x/pull/1",
        ),
    )
    entry = snap.fu_entry("FU-000")
    assert entry is not None
    assert (entry.status, entry.progress, entry.duration_s) == ("completed", 1.0, 90.0)
    assert entry.branch == "cursor/fu-000"
    assert snap.completed_fus == ["FU-000"]
    # copy-on-write: the older snapshot is untouched
    old = before.fu_entry("FU-000")
    assert old is not None
    assert old.status == "pending"


def test_retry_resets_progress_and_counts_attempts() -> None:
    snap = started()
    snap = apply(snap, FuLaunching(at=T0, fu_id="FU-050", attempt=1, agent_id="bc-1"))
    snap = apply(snap, FuProgress(at=T0, fu_id="FU-050", progress=0.5))
    snap = apply(
        snap, FuRetrying(at=T0, fu_id="FU-050", failed_attempt=1, error="run ERROR", retry_in_s=30)
    )
    assert snap.fu_entry("FU-050").status == "retrying"  # type: ignore[union-attr]
    snap = apply(snap, FuLaunching(at=T0, fu_id="FU-050", attempt=2, agent_id="bc-2"))
    entry = snap.fu_entry("FU-050")
    assert entry is not None
    assert (entry.attempts, entry.progress, entry.error) == (2, 0.0, None)


def test_current_batch_follows_the_first_unfinished_batch() -> None:
    snap = started()
    snap = apply(snap, BatchChanged(at=T0, batch_id=Decimal(0), status=BatchStatus.COMPLETED))
    assert snap.orchestrator.current_batch == Decimal("0.5")
    assert snap.model_dump(mode="json")["orchestrator"]["current_batch"] == 0.5


def test_release_finished_records_status_and_summary() -> None:
    snap = apply(
        started(), ReleaseFinished(at=T0, status=ReleaseStatus.ABORTED, summary={"cancelled": 2})
    )
    data = snap.model_dump(mode="json")
    assert data["orchestrator"]["status"] == "aborted"
    assert data["summary"] == {"cancelled": 2}


def test_restart_keeps_what_an_earlier_run_recorded() -> None:
    snap = started()
    snap = apply(snap, FuFinished(at=T0, fu_id="FU-000", status=FuStatus.COMPLETED))
    again = apply(
        snap,
        ReleaseStarted(
            at=T0,
            orchestrator_id="orchd_2",
            pid=7,
            batches=((Decimal(0), (FuPlanEntry("FU-000", "P0", "low"),)),),
        ),
    )
    assert again.fu_entry("FU-000").status == "completed"  # type: ignore[union-attr]
    assert again.orchestrator.agent_id == "orchd_2"


def test_each_start_records_the_plans_limit_and_estimates_for_readers() -> None:
    snap = initial_status("v0.1.0", "orchd_1")
    plan = (
        (Decimal(0), (FuPlanEntry("FU-000", "P0", "low", 4.0), FuPlanEntry("FU-001", "P1", "low"))),
    )
    snap = apply(
        snap, ReleaseStarted(at=T0, orchestrator_id="o", pid=1, batches=plan, max_parallel_fus=3)
    )
    data = snap.model_dump(mode="json")
    assert data["orchestrator"]["max_parallel_fus"] == 3
    assert [fu["estimate_h"] for fu in data["batches"][0]["feature_units"]] == [4.0, None]
    # a restart with an edited plan records the new facts
    plan = (
        (Decimal(0), (FuPlanEntry("FU-000", "P0", "low", 2.0), FuPlanEntry("FU-001", "P1", "low"))),
    )
    snap = apply(
        snap, ReleaseStarted(at=T0, orchestrator_id="o", pid=2, batches=plan, max_parallel_fus=5)
    )
    assert snap.orchestrator.max_parallel_fus == 5
    assert snap.batches[0].feature_units[0].estimate_h == 2.0
