"""Liveness: only the agent's own activity keeps a run from being stale (issue 9, section 2).

A heartbeat proves the connection, not the agent; the `status` event the stream replays at the
top of every connection proves nothing. Without a stream (expired, refused, switched off) there
is no liveness signal at all, so a run is never judged stale, only timed out; the stream is
retried meanwhile. Each test runs a release on fake time against the in-process fake, some with
`StreamFaults` in front of it: what a proxy or an unwell Cursor does to run streams.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.testing import capture_logs

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.models import CreateAgentRequest, Prompt, Run, RunStatus
from orchestrator.engine.run_watch import RunWatcher, WatchEnd, watch_run
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.fakecursor.transport import StreamingASGITransport
from orchestrator.models.release import ReleasePlan
from tests.engine.harness import API_KEY, Ran, run_on_fake, settings
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0
HOUR = 60 * MIN
POLL_S = 10.0  # the harness's poll interval
STALE_S = 15 * MIN


def one_fu(max_minutes: float | None = None) -> ReleasePlan:
    """FU-1 at P2: a stale or timed-out run goes to a human at once, no retry to wait for."""
    return plan([fu("FU-1", priority="P2", max_minutes=max_minutes)], [("0", ["FU-1"])])


def only(behaviour: FuBehaviour, **scenario: Any) -> Scenario:
    return Scenario(fus={"FU-1": behaviour}, **scenario)


class StreamCut(Exception):
    """The connection under a stream went away (a proxy's idle cut, a read timeout)."""


@dataclass
class StreamCall:
    at_s: float
    last_event_id: str | None
    status: int = 200


@dataclass
class StreamFaults:
    """ASGI layer in front of the fake that only touches run streams. Times in loop seconds
    since it was made: `idle_cut_s` cuts a stream silent that long (as a read timeout would),
    `cut_every_s` cuts every stream that old, `reject_resume` answers any Last-Event-ID with
    400 invalid_last_event_id, `expired_until_s` answers 410 stream_expired until then, and
    the first `rate_limited` streams get 429 with `Retry-After: retry_after_s`."""

    app: ASGIApp
    idle_cut_s: float | None = None
    cut_every_s: float | None = None
    reject_resume: bool = False
    expired_until_s: float | None = None
    rate_limited: int = 0
    retry_after_s: int = 0
    calls: list[StreamCall] = field(default_factory=list)
    t0: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.t0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).endswith("/stream"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        call = StreamCall(self.now(), headers.get("last-event-id"))
        self.calls.append(call)
        refusal: tuple[int, str, dict[str, str]] | None = None
        if self.reject_resume and call.last_event_id:
            refusal = (400, "invalid_last_event_id", {})
        elif self.expired_until_s is not None and call.at_s < self.expired_until_s:
            refusal = (410, "stream_expired", {})
        elif self.rate_limited > 0:
            self.rate_limited -= 1
            refusal = (429, "rate_limit_exceeded", {"Retry-After": str(self.retry_after_s)})
        if refusal is not None:
            call.status, code, extra = refusal
            body = {"error": {"code": code, "message": f"scripted {code}"}}
            await JSONResponse(body, status_code=call.status, headers=extra)(scope, receive, send)
            return
        if self.idle_cut_s is None and self.cut_every_s is None:
            await self.app(scope, receive, send)
            return
        await self._serve_until_cut(scope, receive, send)

    async def _serve_until_cut(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = anyio.current_time()
        old_at = started + self.cut_every_s if self.cut_every_s is not None else math.inf

        def cut_at() -> float:
            idle = self.idle_cut_s
            return min(old_at, anyio.current_time() + idle if idle is not None else math.inf)

        with anyio.CancelScope(deadline=cut_at()) as connection:

            async def tracking_send(message: Message) -> None:
                if message["type"] == "http.response.body" and message.get("body"):
                    connection.deadline = cut_at()  # bytes sent: not silent
                await send(message)

            await self.app(scope, receive, tracking_send)
        if connection.cancelled_caught:
            raise StreamCut("the stream's connection went away")


async def release_with(
    p: ReleasePlan,
    scenario: Scenario,
    tmp_path: Path,
    faults: dict[str, Any] | None = None,
    **engine: Any,
) -> tuple[Ran, StreamFaults]:
    fake = FakeCursor(scenario, api_key=API_KEY, clock=asyncio.get_running_loop().time)
    streams = StreamFaults(fake.app, **(faults or {}))
    fake.app = streams  # type: ignore[assignment]  # the harness serves `fake.app`
    knobs: dict[str, Any] = {"stale_after_s": STALE_S, "max_duration_s": 2 * HOUR, **engine}
    ran = await run_on_fake(p, scenario, tmp_path, engine=settings(**knobs), fake=fake)
    return ran, streams


def run_streams(ran: Ran) -> list[dict[str, Any]]:
    """The stream requests the fake itself answered (StreamFaults' refusals never reach it)."""
    return [r for r in ran.fake.requests() if r["path"].endswith("/stream")]


# --- heartbeats and replayed status are no progress -------------------------------------------


async def test_a_hung_agent_behind_a_healthy_stream_is_stale_at_stale_after(
    tmp_path: Path,
) -> None:
    """Heartbeats every 30 s, nothing else: stale at 15 min, not timed out at 2 h."""
    scenario = only(
        FuBehaviour(creating_s=0, hang=True, hang_heartbeats_s=4 * HOUR),
        heartbeat_interval_s=30,
    )
    ran, _ = await release_with(one_fu(), scenario, tmp_path)
    entry = ran.fu("FU-1")
    assert entry["status"] == "needs_human"
    assert "stale: no progress for 15 min" in entry["error"]
    assert ran.stats["cancels_per_fu"] == {"FU-1": 1}
    assert STALE_S <= ran.elapsed_s <= STALE_S + MIN


async def test_a_silent_hung_run_reconnecting_after_read_timeouts_is_stale(
    tmp_path: Path,
) -> None:
    """Each reconnect replays `status: RUNNING`; that is no progress."""
    scenario = only(FuBehaviour(creating_s=0, hang=True))
    ran, streams = await release_with(one_fu(), scenario, tmp_path, {"idle_cut_s": 2 * MIN})
    entry = ran.fu("FU-1")
    assert entry["status"] == "needs_human"
    assert "stale: no progress for 15 min" in entry["error"]
    assert ran.stats["cancels_per_fu"] == {"FU-1": 1}
    assert STALE_S <= ran.elapsed_s <= STALE_S + MIN
    assert len(streams.calls) >= 5  # it did reconnect, after every cut


# --- no stream, no liveness signal: never stale, bounded by max duration -----------------------


async def test_an_expired_stream_does_not_make_a_long_healthy_run_stale(tmp_path: Path) -> None:
    """40 min of work behind a 410 stream: polling sees nothing move, and that is no verdict."""
    scenario = only(FuBehaviour(creating_s=0, duration_s=40 * MIN, stream_expired=True))
    with capture_logs() as logs:
        ran, _ = await release_with(one_fu(), scenario, tmp_path)
    entry = ran.fu("FU-1")
    assert entry["status"] == "completed"
    assert entry["error"] is None
    assert ran.stats["cancels_per_fu"] == {}
    said = [e for e in logs if e["event"] == "run.no_liveness"]
    assert len(said) == 1  # said once, not at every retry
    assert "410 stream_expired" in said[0]["reason"]
    assert entry["note"].startswith("no liveness signal")  # and in the status file
    # the stream is retried meanwhile, backing off (10 s doubling, capped at 8 polls)
    tries = [r["started_s"] for r in run_streams(ran)]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert len(tries) >= 10
    assert gaps[0] < gaps[2] < gaps[4]
    assert max(gaps) <= 8 * POLL_S + 1


async def test_a_hung_run_without_a_stream_is_bounded_by_max_duration(tmp_path: Path) -> None:
    scenario = only(FuBehaviour(creating_s=0, hang=True, stream_expired=True))
    ran, _ = await release_with(one_fu(max_minutes=60), scenario, tmp_path)
    entry = ran.fu("FU-1")
    assert entry["status"] == "needs_human"
    assert "timed out after 60 min" in entry["error"]
    assert ran.stats["cancels_per_fu"] == {"FU-1": 1}
    assert HOUR <= ran.elapsed_s <= HOUR + MIN


async def test_polling_only_a_long_healthy_run_is_not_stale(tmp_path: Path) -> None:
    """`--no-stream`: no liveness signal either."""
    scenario = only(FuBehaviour(creating_s=0, duration_s=40 * MIN))
    with capture_logs() as logs:
        ran, streams = await release_with(one_fu(), scenario, tmp_path, use_stream=False)
    assert ran.fu("FU-1")["status"] == "completed"
    assert ran.stats["cancels_per_fu"] == {}
    assert streams.calls == []
    assert [e["reason"] for e in logs if e["event"] == "run.no_liveness"] == [
        "the stream is switched off"
    ]


async def test_staleness_is_judged_again_once_the_stream_is_back(tmp_path: Path) -> None:
    """410 for the first 30 min, then a healthy stream of heartbeats from a hung agent: stale
    15 min after the stream came back (not 15 min after the start)."""
    scenario = only(
        FuBehaviour(creating_s=0, hang=True, hang_heartbeats_s=4 * HOUR),
        heartbeat_interval_s=30,
    )
    with capture_logs() as logs:
        ran, streams = await release_with(
            one_fu(), scenario, tmp_path, {"expired_until_s": 30 * MIN}
        )
    entry = ran.fu("FU-1")
    assert entry["status"] == "needs_human"
    assert "stale" in entry["error"]
    served = [c.at_s for c in streams.calls if c.status == 200]
    assert served, "the stream was never tried again"
    back = served[0]
    assert 30 * MIN <= back <= 30 * MIN + 8 * POLL_S + 1
    assert back + STALE_S <= ran.elapsed_s <= back + STALE_S + MIN
    events = [e["event"] for e in logs if e["event"].startswith("run.")]
    assert events.count("run.no_liveness") == 1
    assert "run.liveness_back" in events


# --- resume refused, rate limited --------------------------------------------------------------


async def test_a_stream_that_refuses_to_resume_is_read_again_from_the_top(
    tmp_path: Path,
) -> None:
    """Every stream is cut after 5 min and the server answers any Last-Event-ID with 400:
    orchd reconnects without one, keeps seeing the agent work, and the run completes."""
    scenario = only(FuBehaviour(creating_s=0, duration_s=40 * MIN))
    ran, streams = await release_with(
        one_fu(), scenario, tmp_path, {"reject_resume": True, "cut_every_s": 5 * MIN}
    )
    entry = ran.fu("FU-1")
    assert entry["status"] == "completed"
    assert ran.stats["cancels_per_fu"] == {}
    refused = [i for i, c in enumerate(streams.calls) if c.status == 400]
    assert refused
    for i in refused:  # each refusal is followed by a fresh start, at once
        again = streams.calls[i + 1]
        assert again.last_event_id is None
        assert again.at_s - streams.calls[i].at_s < 1.0


async def test_a_rate_limited_stream_waits_as_long_as_retry_after_asks(tmp_path: Path) -> None:
    scenario = only(FuBehaviour(creating_s=0, duration_s=30 * MIN))
    ran, streams = await release_with(
        one_fu(), scenario, tmp_path, {"rate_limited": 2, "retry_after_s": 300}
    )
    assert ran.fu("FU-1")["status"] == "completed"
    first, second, third = streams.calls[:3]
    assert (first.status, second.status, third.status) == (429, 429, 200)
    assert second.at_s - first.at_s >= 300 - 1e-6  # float sums of fake-clock instants
    assert third.at_s - second.at_s >= 300 - 1e-6


# --- what the FU's callbacks hear --------------------------------------------------------------


@dataclass
class Heard:
    signals: list[str] = field(default_factory=list)
    changes: list[RunStatus] = field(default_factory=list)

    def signal(self, kind: str) -> None:
        self.signals.append(kind)

    def change(self, run: Run) -> None:
        self.changes.append(run.status)


async def watch_on_fake(
    behaviour: FuBehaviour, *, stale_after_s: float = STALE_S, heartbeat_interval_s: float = 30
) -> tuple[WatchEnd, Heard]:
    scenario = only(behaviour, heartbeat_interval_s=heartbeat_interval_s)
    fake = FakeCursor(scenario, api_key=API_KEY, clock=asyncio.get_running_loop().time)
    heard = Heard()
    async with httpx.AsyncClient(transport=StreamingASGITransport(fake.app)) as http:
        client = CursorClient(http, base_url="http://fake.test/v1", api_key=API_KEY)
        _, run = await client.create_agent(CreateAgentRequest(prompt=Prompt(text="Do FU-1.")))
        watcher = RunWatcher(
            client,
            run,
            poll_interval_s=POLL_S,
            use_stream=True,
            on_change=heard.change,
            on_signal=heard.signal,
        )
        result = await watch_run(watcher, max_duration_s=2 * HOUR, stale_after_s=stale_after_s)
    return result.end, heard


async def test_the_fu_hears_the_agents_activity_but_no_heartbeat_or_replayed_status() -> None:
    end, heard = await watch_on_fake(FuBehaviour(creating_s=30, duration_s=20 * MIN))
    assert end is WatchEnd.TERMINAL
    assert {"assistant", "thinking", "tool_call", "result"} <= set(heard.signals)
    assert "heartbeat" not in heard.signals
    assert "status" not in heard.signals
    assert heard.changes == [RunStatus.RUNNING, RunStatus.FINISHED]


async def test_the_fu_is_told_once_that_its_run_has_no_liveness_signal() -> None:
    end, heard = await watch_on_fake(
        FuBehaviour(creating_s=0, duration_s=40 * MIN, stream_expired=True)
    )
    assert end is WatchEnd.TERMINAL
    notes = [s for s in heard.signals if s.startswith("no liveness signal")]
    assert notes == [
        "no liveness signal (the stream answers 410 stream_expired): not judged stale, "
        "max duration applies"
    ]
