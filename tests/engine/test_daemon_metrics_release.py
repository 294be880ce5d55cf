"""The daemon's metrics count what a whole release does, streams included: run streams use
clients of their own (apart from the request pool), and those are counted too."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.daemon_metrics import DaemonMetrics
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import run_on_fake, settings
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]


def _value(metrics: DaemonMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels or None)
    return 0.0 if found is None else found


async def test_a_release_followed_over_sse_counts_its_streams(tmp_path: Path) -> None:
    metrics = DaemonMetrics()
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=120))
    ran = await run_on_fake(
        plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1", "FU-2"])]),
        scenario,
        tmp_path,
        engine=settings(use_stream=True),
        metrics=metrics,
    )
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    stream = {"endpoint": "/v1/agents/{agent_id}/runs/{run_id}/stream", "method": "GET"}
    assert _value(metrics, "orchd_cursor_requests_total", **stream, code="200") >= 2
    assert _value(metrics, "orchd_cursor_stream_connects_total") >= 2
    assert _value(metrics, "orchd_launches_total") == 2
