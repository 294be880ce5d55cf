"""The timing line a person reads at the end of a release, across re-runs, aborts, restarts and
retries: calendar time from the first start to the end, every agent run in the sequential sum,
and a speed-up only for a release that completed. Driven through the reducer, as the writer
records a release, so what is tested is what the file keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orchestrator.adapters.report import timing_line
from orchestrator.core.reducer import apply, initial_status
from orchestrator.models.events import (
    BatchLanded,
    FuDelivered,
    FuFinished,
    FuLaunching,
    FuPlanEntry,
    FuRetrying,
    FuRunning,
    ReleaseFinished,
    ReleaseStarted,
    StatusEvent,
)
from orchestrator.models.status import FuStatus, ReleaseStatus, StatusFile

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
B0 = Decimal(0)
EXPLAINED = "(from the first start, across restarts; the sum adds up every agent run)"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def started(minutes: float, *fus: str) -> ReleaseStarted:
    plan = tuple(FuPlanEntry(fu, "P0", "low") for fu in fus)
    return ReleaseStarted(at=at(minutes), orchestrator_id="orch", pid=1, batches=((B0, plan),))


def launched(minutes: float, fu: str, attempt: int = 1) -> list[StatusEvent]:
    agent = f"bc-{fu}-{attempt}"
    return [
        FuLaunching(at=at(minutes), fu_id=fu, attempt=attempt, agent_id=agent),
        FuRunning(at=at(minutes), fu_id=fu, agent_id=agent, run_id=f"run-{attempt}"),
    ]


def delivered(minutes: float, fu: str) -> FuDelivered:
    return FuDelivered(at=at(minutes), fu_id=fu, branch=f"cursor/{fu}", sha="a" * 40)


def landed(minutes: float, *fus: str) -> BatchLanded:
    merges = tuple((fu, "b" * 40) for fu in fus)
    return BatchLanded(at=at(minutes), batch_id=B0, sha="c" * 40, merges=merges)


def finished(minutes: float, status: ReleaseStatus = ReleaseStatus.COMPLETED) -> ReleaseFinished:
    return ReleaseFinished(at=at(minutes), status=status)


def run(*events: StatusEvent | list[StatusEvent], start: StatusFile | None = None) -> StatusFile:
    snapshot = start or initial_status("v1", "orch")
    for item in events:
        for event in item if isinstance(item, list) else [item]:
            snapshot = apply(snapshot, event)
    return snapshot


def first_line(snapshot: StatusFile) -> str:
    return timing_line(snapshot).splitlines()[0]


def test_a_completed_release_compares_calendar_time_with_every_agent_run_and_says_so() -> None:
    assert timing_line(run(started(0, "FU-1"), launched(0, "FU-1"))) == ""  # not yet
    done = run(
        started(0, "FU-1", "FU-2"),
        launched(0, "FU-1"),
        launched(0, "FU-2"),
        delivered(20, "FU-1"),
        delivered(30, "FU-2"),
        landed(31, "FU-1", "FU-2"),
        finished(32),
    )
    assert timing_line(done).splitlines() == [
        "calendar time 32m00s vs sequential sum 50m00s (1.6x faster in parallel)",
        EXPLAINED,
    ]


def test_a_rerun_of_a_completed_release_keeps_its_calendar_time() -> None:
    """Was `calendar time 0.0s vs sequential sum 58.6s (11009.0x faster)`."""
    first = run(
        started(0, "FU-1", "FU-2"),
        launched(0, "FU-1"),
        launched(0, "FU-2"),
        delivered(20, "FU-1"),
        delivered(30, "FU-2"),
        landed(31, "FU-1", "FU-2"),
        finished(32),
    )
    next_day = 24 * 60
    again = run(started(next_day, "FU-1", "FU-2"), finished(next_day + 0.01), start=first)
    assert first_line(again) == first_line(first)


def test_an_aborted_release_shows_its_times_without_a_speed_up() -> None:
    """Was `(0.0x faster)`: an aborted run did not do the work, so there is no ratio."""
    aborted = run(
        started(0, "FU-1"),
        launched(0, "FU-1"),
        FuFinished(at=at(5), fu_id="FU-1", status=FuStatus.CANCELLED, error="aborted"),
        finished(5, ReleaseStatus.ABORTED),
    )
    assert first_line(aborted) == "calendar time 5m00s vs sequential sum 5m00s"


def test_a_restarted_sequential_release_counts_from_its_first_start_and_its_adopted_run() -> None:
    """Was `(1.4x faster)` for a release that ran one FU at a time: calendar time restarted
    with orchd, and the adopted FU counted only from the restart."""
    crashed = run(
        started(0, "FU-1", "FU-2"),
        launched(0, "FU-1"),
        delivered(10, "FU-1"),
        landed(11, "FU-1"),
        launched(11, "FU-2"),  # orchd dies at 20 while FU-2's agent works on
    )
    resumed = run(
        started(30, "FU-1", "FU-2"),
        launched(30, "FU-2"),  # same attempt, same agent: adopted (409)
        delivered(40, "FU-2"),
        landed(41, "FU-2"),
        finished(41),
        start=crashed,
    )
    # calendar 0 → 41; agent time FU-1 10m + FU-2 11 → 40 = 39m: no faster than one at a time
    assert first_line(resumed) == (
        "calendar time 41m00s vs sequential sum 39m00s (no faster in parallel)"
    )
    fu2 = resumed.fu_entry("FU-2")
    assert fu2 is not None
    assert fu2.duration_s == 29 * 60  # the table's time: the whole run


def test_a_failed_attempt_counts_in_the_sequential_sum() -> None:
    done = run(
        started(0, "FU-1"),
        launched(0, "FU-1"),
        FuRetrying(at=at(5), fu_id="FU-1", failed_attempt=1, error="stale", retry_in_s=60),
        launched(6, "FU-1", attempt=2),
        delivered(16, "FU-1"),
        landed(17, "FU-1"),
        finished(17),
    )
    assert (
        first_line(done) == "calendar time 17m00s vs sequential sum 15m00s (no faster in parallel)"
    )


def test_an_adopted_run_nobody_recorded_counts_from_its_created_at() -> None:
    """orchd died between the create and the write: the next one adopts the agent (409), and
    the run's createdAt says when it began."""
    crashed = run(
        started(0, "FU-1"),
        FuLaunching(at=at(0), fu_id="FU-1", attempt=1, agent_id="bc-1"),
    )
    resumed = run(
        started(30, "FU-1"),
        FuLaunching(at=at(30), fu_id="FU-1", attempt=1, agent_id="bc-1"),
        FuRunning(at=at(30), fu_id="FU-1", agent_id="bc-1", run_id="r", run_created_at=at(1)),
        delivered(41, "FU-1"),
        landed(42, "FU-1"),
        finished(42),
        start=crashed,
    )
    assert (
        first_line(resumed)
        == "calendar time 42m00s vs sequential sum 40m00s (no faster in parallel)"
    )


def test_a_file_from_before_run_times_still_loads_and_counts_durations() -> None:
    old = StatusFile.model_validate(
        {
            "release_id": "v1",
            "orchestrator": {
                "agent_id": "o",
                "status": "completed",
                "started_at": "2026-11-30T10:00:00Z",
                "completed_at": "2026-11-30T10:10:00Z",
            },
            "batches": [
                {
                    "batch_id": 0,
                    "feature_units": [
                        {"fu_id": "FU-1", "status": "completed", "duration_s": 600},
                        {"fu_id": "FU-2", "status": "completed", "duration_s": 900},
                    ],
                }
            ],
        }
    )
    assert (
        first_line(old) == "calendar time 10m00s vs sequential sum 25m00s (2.5x faster in parallel)"
    )
