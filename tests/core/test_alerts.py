"""The seed's four alerts (issue 11): each once per occurrence, from what the status file says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orchestrator.core.alerts import agent_timeout, integration_test_failure, watch_alerts
from orchestrator.core.reducer import apply
from orchestrator.models.status import BatchEntry, FuEntry, OrchestratorEntry, StatusFile

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _file(*fus: FuEntry, batch_status: str = "running", release: str = "running") -> StatusFile:
    return StatusFile(
        release_id="v1.0.0",
        orchestrator=OrchestratorEntry(agent_id="o", status=release, started_at=T0),
        batches=[
            BatchEntry(
                batch_id=Decimal(1), status=batch_status, started_at=T0, feature_units=list(fus)
            )
        ],
    )


def _fu(fu_id: str, status: str = "running", attempts: int = 1, minutes: float = 0) -> FuEntry:
    at = T0 + timedelta(minutes=minutes)
    return FuEntry(fu_id=fu_id, status=status, attempts=attempts, started_at=at, last_update=at)


def test_a_batch_quiet_for_30_minutes_is_stalled_once() -> None:
    snapshot = _file(_fu("FU-1", minutes=5), _fu("FU-2", minutes=10))
    assert watch_alerts(snapshot, T0 + timedelta(minutes=39)) == []
    found = watch_alerts(snapshot, T0 + timedelta(minutes=41))
    assert [a.kind for a in found] == ["batch_stalled"]
    assert found[0].message == "batch 1: no progress for 31 min (since 2026-11-30T09:10:00+00:00)"
    once = apply(apply(snapshot, found[0]), watch_alerts(snapshot, T0 + timedelta(hours=2))[0])
    assert len(once.alerts) == 1  # checked again later: still the same occurrence


def test_a_batch_that_moves_and_stalls_again_alerts_again() -> None:
    first = watch_alerts(_file(_fu("FU-1", minutes=0)), T0 + timedelta(minutes=31))
    moved = _file(_fu("FU-1", minutes=40))
    second = watch_alerts(moved, T0 + timedelta(minutes=71))
    assert first[0].key != second[0].key


def test_a_release_waiting_for_a_person_or_finished_is_not_stalled() -> None:
    late = T0 + timedelta(hours=3)
    assert watch_alerts(_file(_fu("FU-1"), release="completed"), late) == []
    waiting = _file(_fu("FU-1"), _fu("FU-2"), _fu("FU-3"), _fu("FU-4"), _fu("FU-5", "needs_human"))
    waiting.orchestrator.awaiting = {"kind": "batch_failure", "batch_id": 1}
    assert watch_alerts(waiting, late) == []  # 1 of 5 is not above a fifth either


def test_more_than_a_fifth_of_a_batch_failing_is_a_high_failure_rate() -> None:
    ok = [_fu(f"FU-{i}", minutes=1) for i in range(5)]
    one_of_five = _file(*ok[:4], _fu("FU-9", status="retrying", attempts=2, minutes=1))
    assert [a.kind for a in watch_alerts(one_of_five, T0 + timedelta(minutes=2))] == []
    two_of_five = _file(*ok[:3], _fu("FU-8", attempts=2, minutes=1), _fu("FU-9", "needs_human"))
    found = watch_alerts(two_of_five, T0 + timedelta(minutes=2))
    assert [a.message for a in found] == [
        "batch 1: 2 of 5 FUs failed at least once (40% > 20%): FU-8, FU-9"
    ]


def test_timeouts_and_gate_failures_are_one_alert_per_occurrence() -> None:
    snapshot = _file(_fu("FU-1"))
    timeout = agent_timeout(T0, "FU-1", 2, 120, Decimal(1))
    snapshot = apply(apply(snapshot, timeout), timeout)
    ref = "orchd/v1.0.0/cand/b1."
    gate = integration_test_failure(T0, Decimal(1), ref + "1", "IT-001 failed", full=False)
    rebuilt = integration_test_failure(T0, Decimal(1), ref + "2", "IT-001 failed", full=False)
    snapshot = apply(apply(apply(snapshot, gate), gate), rebuilt)
    assert [(a.kind, a.message) for a in snapshot.alerts] == [
        ("agent_timeout", "FU-1: agent timed out after 120 min (attempt 2)"),
        ("integration_test_failure", "batch 1: integration tests failed: IT-001 failed"),
        ("integration_test_failure", "batch 1: integration tests failed: IT-001 failed"),
    ]
