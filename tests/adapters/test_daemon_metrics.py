"""The daemon's own counters (issue 11): one series per endpoint, events counted once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from prometheus_client import generate_latest

from orchestrator.adapters.daemon_metrics import DaemonMetrics, endpoint_of
from orchestrator.core.alerts import agent_timeout
from orchestrator.models.events import FuLaunching, FuRetrying, GateFinished

AT = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v1/agents", "/v1/agents"),
        ("/v1/agents/bc-1f2e/runs", "/v1/agents/{agent_id}/runs"),
        ("/v1/agents/bc-1f2e/runs/run-9/stream", "/v1/agents/{agent_id}/runs/{run_id}/stream"),
        ("/v1/agents/bc-1f2e/archive", "/v1/agents/{agent_id}/archive"),
        ("/v1/me", "/v1/me"),
    ],
)
def test_an_endpoint_is_named_without_its_ids(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint


def _value(metrics: DaemonMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels or None)
    return 0.0 if found is None else found


def test_events_are_counted() -> None:
    metrics = DaemonMetrics()
    metrics.observe(FuLaunching(at=AT, fu_id="FU-1", attempt=1, agent_id="bc-1"))
    metrics.observe(FuRetrying(at=AT, fu_id="FU-1", failed_attempt=1, error="x", retry_in_s=30))
    metrics.observe(agent_timeout(AT, "FU-1", 1, 120, Decimal(0)))
    metrics.observe(
        GateFinished(
            at=AT,
            batch_id=Decimal(0),
            status="passed",
            tests=({"id": "IT-1", "duration_s": 12.5}, {"id": "IT-2", "duration_s": 7.5}),
        )
    )
    assert _value(metrics, "orchd_launches_total") == 1
    assert _value(metrics, "orchd_retries_total") == 1
    assert _value(metrics, "orchd_alerts_total", kind="agent_timeout") == 1
    assert _value(metrics, "orchd_gate_seconds_sum") == 20.0
    assert b"orchd_cursor_requests_total{" not in generate_latest(metrics.registry)  # none yet


@pytest.mark.asyncio
async def test_requests_429s_and_their_retry_after_are_counted() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/runs"):
            return httpx.Response(429, headers={"Retry-After": "7"}, json={})
        return httpx.Response(200, json={})

    metrics = DaemonMetrics()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        metrics.instrument(http)
        await http.get("http://cursor.test/v1/agents/bc-9/runs/run-1/stream")
        await http.post("http://cursor.test/v1/agents/bc-9/runs")
        await http.post("http://cursor.test/v1/agents/bc-8/runs")
    runs = {"endpoint": "/v1/agents/{agent_id}/runs", "method": "POST", "code": "429"}
    assert _value(metrics, "orchd_cursor_requests_total", **runs) == 2
    assert _value(metrics, "orchd_cursor_rate_limited_total") == 2
    assert _value(metrics, "orchd_cursor_retry_after_seconds_total") == 14
    assert _value(metrics, "orchd_cursor_stream_connects_total") == 1
