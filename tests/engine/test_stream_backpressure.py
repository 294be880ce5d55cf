"""Out of file descriptors is back-pressure, not a failure (issue 12 §2): a run whose stream
cannot be opened is polled, never judged stale for it, never cancelled; a release with more
runs than the open-file limit has room for streams streams some and polls the others.

Releases run on fake time against the in-process fake; an ASGI layer in front of it fails
stream connects the way a client out of descriptors does (`ConnectError` from EMFILE).
"""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from orchestrator.daemon import run as daemon_run
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.release import Limits
from tests.engine.harness import API_KEY, Ran, run_on_fake, settings
from tests.plans import fu, plan
from tests.spans import most_at_once

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0


class OutOfDescriptors(httpx.AsyncBaseTransport):
    """orchd's side of the wire: every run stream fails to connect with EMFILE, as a socket
    that cannot be created does (`ConnectError` caused by the OSError)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            self.refused += 1
            cause = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
            raise httpx.ConnectError(str(cause), request=request) from cause
        return await self.inner.handle_async_request(request)


async def _release(
    fus: int, scenario: Scenario, tmp_path: Path, *, emfile: bool = False, **engine: Any
) -> tuple[Ran, list[OutOfDescriptors]]:
    fake = FakeCursor(scenario, api_key=API_KEY, clock=asyncio.get_running_loop().time)
    guards: list[OutOfDescriptors] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        guards.append(OutOfDescriptors(inner))
        return guards[-1]

    ids = [f"FU-{i}" for i in range(1, fus + 1)]
    p = plan(
        [fu(i, priority="P2") for i in ids],
        [("0", ids)],
        limits=Limits(max_parallel_fus=fus, max_high_risk_in_parallel=1),
    )
    ran = await run_on_fake(
        p,
        scenario,
        tmp_path,
        engine=settings(**engine),
        fake=fake,
        wrap_transport=wrap if emfile else None,
    )
    return ran, guards


async def test_a_run_whose_stream_cannot_get_a_descriptor_is_polled_to_completion(
    tmp_path: Path,
) -> None:
    """Every stream connect fails with EMFILE while the agent works 20 min, and stale_after is
    20 s: the run is polled from the first failure on, not judged stale (no liveness signal is
    no verdict), never cancelled, and the release completes on the first attempt."""
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=20 * MIN))
    with capture_logs() as logs:
        ran, guards = await _release(1, scenario, tmp_path, emfile=True, stale_after_s=20.0)
    entry = ran.fu("FU-1")
    assert ran.outcome.status.value == "completed"
    assert entry["status"] == "completed"
    assert entry["attempts"] == 1
    assert ran.stats["cancels_per_fu"] == {}
    assert guards[0].refused >= 2  # the stream was tried again meanwhile
    polls = [r for r in ran.fake.requests() if r["method"] == "GET" and "/runs/" in r["path"]]
    assert len(polls) >= 20 * MIN / 10.0 - 2  # every poll interval (10 s) while it worked
    assert "no stream could be opened" in entry["note"]
    events = [e["event"] for e in logs]
    assert "run.stream_deferred" in events
    assert "run.stale" not in events


async def test_runs_beyond_the_streams_the_open_file_limit_allows_are_polled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 runs at once, and descriptors for 6 streams: at most 6 streams are open at any
    time, the others poll, every FU completes on its first attempt (a streamed run shows
    activity every minute, within stale_after), and orchd says so once."""
    # 10 request connections (one a run), 2 for the webhook, 256 kept for git and files
    monkeypatch.setattr(daemon_run, "raise_open_file_limit", lambda: 6 + 10 + 2 + 256)
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN, tool_calls=10))
    with capture_logs() as logs:
        ran, _ = await _release(10, scenario, tmp_path, stale_after_s=2 * MIN)
    assert ran.outcome.status.value == "completed"
    assert {ran.fu(f"FU-{i}")["attempts"] for i in range(1, 11)} == {1}
    assert ran.stats["cancels_per_fu"] == {}
    streams = [
        (r["started_s"], r["started_s"] + (r["duration_s"] or 0.0))
        for r in ran.fake.requests()
        if r["path"].endswith("/stream")
    ]
    assert 0 < most_at_once(streams) <= 6
    limited = [e for e in logs if e["event"] == "process.streams_limited"]
    assert [(e["streams"], e["parallel"]) for e in limited] == [(6, 10)]
