"""The ETA `orchd status` and `orchd watch` show for a running release: the work left at the
pace seen so far, from the schedule's estimates when the plan has them, else from the finished
FUs' mean agent time; divided by how many FUs run at once."""

from __future__ import annotations

import pytest

from orchestrator.core.eta import eta
from orchestrator.models.events import StatusEvent
from orchestrator.models.status import StatusFile
from tests.core.test_release_timing import at, delivered, finished, launched, run, started


def _mid_run(running: int) -> StatusFile:
    """A and B delivered after 10m and 20m of agent time; `running` of C, D, E running 5m."""
    events: list[StatusEvent | list[StatusEvent]] = [started(0, "A", "B", "C", "D", "E")]
    events += [launched(0, "A"), launched(0, "B"), delivered(10, "A"), delivered(20, "B")]
    events += [launched(20, fu) for fu in ("C", "D", "E")[:running]]
    return run(*events)


@pytest.mark.parametrize(
    ("running", "parallel", "remaining_min", "at_once"),
    [
        (3, 3, 10.0, 3),  # mean 15m; C, D, E 5m in: 3 × 10m ÷ 3
        (1, 1, 40.0, 1),  # (10 + 15 + 15) ÷ 1: the plan runs one at a time
        (1, None, 40.0, 1),  # no plan: as many at once as run now
        (1, 2, 20.0, 2),  # the plan allows 2
    ],
)
def test_without_estimates_the_eta_is_the_fus_left_times_the_mean_over_the_parallelism(
    running: int, parallel: int | None, remaining_min: float, at_once: int
) -> None:
    forecast = eta(_mid_run(running), at(25), parallel)
    assert forecast is not None
    assert (forecast.remaining_s / 60, forecast.left, forecast.parallel) == (
        remaining_min,
        3,
        at_once,
    )
    assert (forecast.mean_s, forecast.finished, forecast.estimate_h) == (15 * 60, 2, None)


def test_with_estimates_the_work_left_runs_at_the_pace_the_finished_fus_kept() -> None:
    # A and B were estimated at 2h and 3h and took 10m and 20m: 6m of agent time per hour
    estimates = {"A": 2.0, "B": 3.0, "C": 4.0, "D": 1.0, "E": 5.0}
    forecast = eta(_mid_run(1), at(25), parallel=2, estimates_h=estimates)
    assert forecast is not None
    assert forecast.pace == 6 * 60
    assert forecast.estimate_h == 10.0
    # C 24m (5m run), D 6m, E 30m: 55m ÷ 2
    assert forecast.remaining_s == 55 * 60 / 2


def test_estimates_are_taken_at_face_value_until_an_fu_finishes() -> None:
    release = run(started(0, "A", "B"), launched(0, "A"))
    forecast = eta(release, at(30), parallel=2, estimates_h={"A": 1.0, "B": 2.0})
    assert forecast is not None
    assert (forecast.pace, forecast.remaining_s) == (None, (30 + 120) * 60 / 2)


def test_an_fu_without_an_estimate_counts_as_the_median_of_the_others() -> None:
    release = run(started(0, "A", "B", "C"))
    forecast = eta(release, at(0), parallel=1, estimates_h={"A": 1.0, "B": 3.0})
    assert forecast is not None
    assert forecast.estimate_h == 1.0 + 3.0 + 2.0


def test_no_eta_without_anything_to_go_on_or_after_the_release_ended() -> None:
    assert eta(run(started(0, "A"), launched(0, "A")), at(5)) is None
    done = run(started(0, "A"), launched(0, "A"), delivered(5, "A"), finished(6))
    assert eta(done, at(7), estimates_h={"A": 1.0}) is None
