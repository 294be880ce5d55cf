"""The seed's metrics from a status file: the numbers the dashboard page, its JSON and /metrics
show, checked by hand against a release in the middle of its run (see status_files)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from orchestrator.core import release_metrics as rm
from orchestrator.core.status_normalise import normalise_status
from orchestrator.models.status import StatusFile
from tests.dashboard.status_files import NOW, T0, at, mid_run


def _status(data: dict[str, Any]) -> StatusFile:
    snapshot, _notes = normalise_status(data)
    return snapshot


def test_mid_run_metrics_are_the_seeds_definitions() -> None:
    m = rm.metrics(_status(mid_run()), NOW, max_parallel=3)

    assert m.fus_by_status == {"completed": 2, "failed": 1, "pending": 2, "running": 1}
    assert m.active_agents == 1
    assert m.utilization == pytest.approx(1 / 3, abs=1e-4)
    assert m.failures == 1
    assert m.failure_rate == pytest.approx(1 / 6, abs=1e-4)
    assert m.retries == 1
    assert m.retry_rate == pytest.approx(1 / 6, abs=1e-4)
    assert m.mean_fu_duration_s == 750.0
    # calendar 20 min; one after another: 600 + 900 finished + 400 s FU-003 has run so far
    assert (m.calendar_s, m.sequential_s, m.time_saved_s) == (1200.0, 1900.0, 700.0)


def test_utilization_is_unknown_without_the_manifests_limit() -> None:
    m = rm.metrics(_status(mid_run()), NOW, max_parallel=None)

    assert m.utilization is None
    assert m.active_agents == 1


def test_progress_counts_landed_fus_and_estimates_what_is_left() -> None:
    p = rm.progress(_status(mid_run()), NOW, max_parallel=3)

    assert (p.landed, p.total, p.percent, p.elapsed_s) == (2, 6, 33.3, 1200.0)
    # FU-003 needs 750-400, FU-005 and FU-006 750 each: 1850 s over 3 slots, but no less than
    # the 750 s one FU takes alone
    assert p.eta_s == 750.0


def test_eta_spreads_many_outstanding_fus_over_the_parallelism() -> None:
    data = mid_run()
    data["batches"][2]["feature_units"] += [
        {"fu_id": f"FU-1{i:02d}", "status": "pending"} for i in range(6)
    ]
    # (350 + 8 × 750) / 3
    assert rm.eta_s(_status(data), NOW, max_parallel=3) == pytest.approx(6350 / 3, abs=1e-3)
    # without the limit, the agents at work (1) are the parallelism
    assert rm.eta_s(_status(data), NOW, max_parallel=None) == 6350.0


def test_eta_is_unknown_before_any_fu_finished_and_zero_when_all_work_is_done() -> None:
    data = mid_run()
    for batch in data["batches"]:
        for fu in batch["feature_units"]:
            fu.update(status="pending", duration_s=None)
    assert rm.eta_s(_status(data), NOW, 3) is None

    done = mid_run()
    for batch in done["batches"]:
        for fu in batch["feature_units"]:
            fu.update(status="completed", duration_s=fu.get("duration_s") or 100.0)
    assert rm.eta_s(_status(done), NOW, 3) == 0.0


def test_a_release_that_ended_with_work_left_has_no_eta_and_its_clock_stops() -> None:
    data = mid_run()
    data["orchestrator"].update(status="aborted", completed_at=at(1100))
    snapshot = _status(data)

    assert rm.eta_s(snapshot, NOW, 3) is None
    assert rm.progress(snapshot, NOW + timedelta(hours=5), 3).elapsed_s == 1100.0
    assert rm.metrics(snapshot, NOW + timedelta(hours=5), 3).calendar_s == 1100.0


def test_seconds_since_progress_watches_only_batches_in_progress() -> None:
    snapshot = _status(mid_run())

    since = [rm.seconds_since_progress(snapshot, b, NOW) for b in snapshot.batches]

    # batch 0 landed, batch 1 last moved at T0+1100, batch 2 has not started
    assert since == [None, 100.0, None]
    later = T0 + timedelta(minutes=45)
    assert rm.seconds_since_progress(snapshot, snapshot.batches[1], later) == 2700 - 1100


def test_a_pending_batch_with_an_agent_at_work_is_in_progress() -> None:
    """Batches do not wait for unrelated earlier ones: an FU may run in a `pending` batch."""
    data = mid_run()
    data["batches"][2]["feature_units"][0].update(
        status="running", started_at=at(1150), last_update=at(1150), attempts=1
    )
    snapshot = _status(data)

    assert rm.seconds_since_progress(snapshot, snapshot.batches[2], NOW) == 50.0


def test_an_empty_release_has_zero_rates_not_a_division_error() -> None:
    snapshot = _status({"release_id": "v1", "orchestrator": {"agent_id": "x", "pid": 1}})

    m = rm.metrics(snapshot, NOW, 3)
    p = rm.progress(snapshot, NOW, 3)

    assert (m.failure_rate, m.retry_rate, m.utilization, m.calendar_s) == (0.0, 0.0, 0.0, None)
    assert (p.landed, p.total, p.percent, p.eta_s) == (0, 0, 0.0, 0.0)
