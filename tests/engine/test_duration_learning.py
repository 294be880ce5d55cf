"""A slot goes to the longest remaining critical path as the release's own finished FUs
measure it, not as the schedule's estimates guessed it (issue 12 §1, durations)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.core.estimates import plan_durations_h
from orchestrator.core.scheduling import candidates
from orchestrator.engine.duration_learning import DurationLearner
from orchestrator.engine.slots import SlotPool
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.release import FeatureUnit, Limits, ReleasePlan
from orchestrator.models.status import ReleaseStatus, StatusFile
from tests.engine.harness import run_on_fake, settings
from tests.plans import fu, plan

HOUR = 3600.0


def _est(unit: FeatureUnit, hours: float) -> FeatureUnit:
    return unit.model_copy(update={"estimate_hours": hours})


def _release() -> ReleasePlan:
    """One slot. The P0 FUs 1, 2 and 3 run first; then FU-10 ("8h", nothing waits on it) and
    the chain FU-20 → FU-21 → FU-22 ("1h" each) compete. By the estimates FU-10's path is the
    longer (8 h against 3 h)."""
    return plan(
        [
            _est(fu("FU-1"), 1.0),
            _est(fu("FU-2"), 4.0),
            _est(fu("FU-3"), 8.0),
            _est(fu("FU-10", priority="P1"), 8.0),
            _est(fu("FU-20", priority="P1"), 1.0),
            _est(fu("FU-21", "FU-20", priority="P1"), 1.0),
            _est(fu("FU-22", "FU-21", priority="P1"), 1.0),
        ],
        [("0", ["FU-1", "FU-2", "FU-3", "FU-10", "FU-20", "FU-21", "FU-22"])],
        limits=Limits(max_parallel_fus=1),
    )


async def _first_of_10_and_20(tmp_path: Path, each: dict[str, float]) -> str:
    quiet = {"creating_s": 0, "thinking_every_s": 600.0}  # hours of work, few events
    scenario = Scenario(
        defaults=FuBehaviour(duration_s=HOUR, **quiet),
        fus={f: FuBehaviour(duration_s=s, **quiet) for f, s in each.items()},
        heartbeat_interval_s=600.0,
    )
    ran = await run_on_fake(
        _release(), scenario, tmp_path, engine=settings(max_duration_s=12 * HOUR)
    )
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    created = {r["fu_id"]: r["created_s"] for r in ran.stats["runs"]}
    return min(("FU-10", "FU-20"), key=lambda f: created[f])


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_agents_that_take_an_hour_whatever_the_estimate_serve_the_longer_chain_first(
    tmp_path: Path,
) -> None:
    # FU-1, 2 and 3 took an hour each though estimated 1, 4 and 8: FU-10 is an hour, FU-20's
    # chain three
    assert await _first_of_10_and_20(tmp_path, {}) == "FU-20"


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_agents_that_take_their_estimates_keep_the_estimates_order(tmp_path: Path) -> None:
    each = {"FU-1": 1 * HOUR, "FU-2": 4 * HOUR, "FU-3": 8 * HOUR, "FU-10": 8 * HOUR}
    assert await _first_of_10_and_20(tmp_path, each) == "FU-10"


def test_a_restart_learns_from_the_fus_its_status_file_shows_finished() -> None:
    finished = [
        {"fu_id": f, "status": "completed", "run_time_s": HOUR} for f in ("FU-1", "FU-2", "FU-3")
    ]
    existing = StatusFile.model_validate(
        {
            "release_id": "v9.9.9",
            "orchestrator": {"agent_id": "orchd_old", "status": "running"},
            "batches": [{"batch_id": 0, "status": "running", "feature_units": finished}],
        }
    )
    release = _release()
    slots = SlotPool(max_parallel=1, max_high_risk=1)
    learner = DurationLearner(
        release, plan_durations_h(release), slots, existing, datetime(2026, 11, 30, tzinfo=UTC)
    )
    assert learner.observed_h == {"FU-1": 1.0, "FU-2": 1.0, "FU-3": 1.0}
    waiting = candidates(release, plan_durations_h(release))
    ranked = [slots.ranked(waiting[f]) for f in ("FU-10", "FU-20")]
    assert ranked[1].tail_h > ranked[0].tail_h  # FU-20's chain of three now outranks FU-10
