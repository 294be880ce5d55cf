"""The seed's four alerts while a release runs (issue 11), on fake time against the fake.

Each is told once per occurrence: an `alerts[]` entry in the status file, one webhook
notification (`alert.<kind>`), and (from the file) a line on the terminal and a dashboard banner.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.deciders import Answer, PolicyDecider
from orchestrator.fakecursor.scenario import CreateError, FuBehaviour, Scenario
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import run_on_fake, settings
from tests.engine.test_batch_decisions import (
    IT1,
    Recorder,
    ScriptedDecider,
    ScriptedGate,
    gated,
    two_batch_plan,
    with_tests,
)
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0


def _alerts(status: dict[str, object]) -> list[tuple[str, str]]:
    entries = status.get("alerts", [])
    assert isinstance(entries, list)
    return [(a["kind"], a["message"]) for a in entries]


async def test_a_timed_out_agent_is_one_alert_per_attempt(tmp_path: Path) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-1": FuBehaviour(hang=True, hang_heartbeats_s=10**6)},
        heartbeat_interval_s=10 * MIN,  # few events: the test stays fast on fake time
    )
    recorder = Recorder()
    p = plan([fu("FU-1", priority="P1")], [("0", ["FU-1"])])
    engine = settings(max_duration_s=20 * MIN, stale_after_s=10**6)
    ran = await run_on_fake(
        p, scenario, tmp_path, engine=engine, notifier=recorder, decider=PolicyDecider("fail")
    )
    assert ran.outcome.status is ReleaseStatus.FAILED
    assert [a for a in _alerts(ran.status) if a[0] == "agent_timeout"] == [
        ("agent_timeout", "FU-1: agent timed out after 20 min (attempt 1)"),
        ("agent_timeout", "FU-1: agent timed out after 20 min (attempt 2)"),  # P1: one retry
    ]
    told = [m for m in recorder.messages if m[0] == "alert.agent_timeout"]
    assert [m[1] for m in told] == [
        "v9.9.9: alert: FU-1: agent timed out after 20 min (attempt 1)",
        "v9.9.9: alert: FU-1: agent timed out after 20 min (attempt 2)",
    ]


async def test_a_batch_with_no_progress_for_30_minutes_is_stalled_once(tmp_path: Path) -> None:
    """A hung agent behind a healthy stream: heartbeats only, no activity, no stale verdict;
    the batch alert comes after 30 minutes of silence, once (the run times out at 45)."""
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-1": FuBehaviour(hang=True, hang_heartbeats_s=10**6)},
        heartbeat_interval_s=10 * MIN,  # few events: the test stays fast on fake time
    )
    recorder = Recorder()
    p = plan([fu("FU-1", priority="P2")], [("0", ["FU-1"])])
    engine = settings(max_duration_s=45 * MIN, stale_after_s=10**6)
    ran = await run_on_fake(
        p, scenario, tmp_path, engine=engine, notifier=recorder, decider=PolicyDecider("fail")
    )
    stalled = [a for a in ran.status["alerts"] if a["kind"] == "batch_stalled"]
    assert len(stalled) == 1
    assert stalled[0]["message"].startswith("batch 0: no progress for ")
    assert 30 * MIN <= _seconds_into_run(ran.status, stalled[0]["at"]) <= 32 * MIN
    assert [m[0] for m in recorder.messages].count("alert.batch_stalled") == 1


def _seconds_into_run(status: dict[str, object], at: str) -> float:
    from datetime import datetime

    orchestrator = status["orchestrator"]
    assert isinstance(orchestrator, dict)
    started = datetime.fromisoformat(orchestrator["started_at"])
    return (datetime.fromisoformat(at) - started).total_seconds()


async def test_a_failing_gate_is_an_integration_test_failure_alert(tmp_path: Path) -> None:
    recorder = Recorder()
    ran = await run_on_fake(
        with_tests(two_batch_plan(), [IT1]),
        Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN)),
        tmp_path,
        engine=gated(ScriptedGate(fail_times=1)),
        decider=ScriptedDecider([Answer("retry", by="ops")]),
        notifier=recorder,
    )
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    kinds = [kind for kind, _ in _alerts(ran.status)]
    assert kinds == ["integration_test_failure"]
    assert _alerts(ran.status)[0][1].startswith("batch 0: integration tests failed: IT-001")
    assert [m[0] for m in recorder.messages].count("alert.integration_test_failure") == 1


async def test_a_batch_where_more_than_a_fifth_of_fus_fail_alerts_once(tmp_path: Path) -> None:
    no_access = CreateError(status=403, code="repository_access", message="no access")
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-1": FuBehaviour(create_error=no_access)},
    )
    recorder = Recorder()
    ran = await run_on_fake(
        two_batch_plan(),
        scenario,
        tmp_path,
        engine=settings(alert_check_s=MIN),
        decider=ScriptedDecider([Answer("skip", by="ops")], delay_s=5 * MIN),
        notifier=recorder,
    )
    rate = [(k, m) for k, m in _alerts(ran.status) if k == "failure_rate"]
    assert rate == [("failure_rate", "batch 0: 1 of 2 FUs failed at least once (50% > 20%): FU-1")]
    assert [m[0] for m in recorder.messages].count("alert.failure_rate") == 1
