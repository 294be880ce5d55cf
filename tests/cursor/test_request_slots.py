"""Requests in flight are bounded, and streams live apart from them (issue 12 §2), checked over
real loopback against the fake, which records when each request started and how long it took.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from pydantic import SecretStr

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.errors import StreamsExhausted
from orchestrator.adapters.cursor.models import CreateAgentRequest, Prompt, Run
from orchestrator.adapters.cursor.settings import (
    CursorSettings,
    build_http_client,
    build_stream_clients,
)
from orchestrator.adapters.cursor.stream_pool import StreamClients
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.fakecursor.server import serve_fake_cursor
from tests.spans import most_at_once

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

KEY = "sk-slots-SECRET-7"


@asynccontextmanager
async def loopback(
    fake: FakeCursor, *, max_in_flight: int, max_streams: int | None = None
) -> AsyncIterator[CursorClient]:
    async with serve_fake_cursor(fake) as base_url:
        settings = CursorSettings(base_url=base_url, api_key=SecretStr(KEY))
        async with build_http_client(settings, max_connections=50) as http:
            streams: StreamClients | None = None
            if max_streams is not None:
                streams = build_stream_clients(settings, max_streams=max_streams)
            try:
                yield CursorClient.from_settings(
                    http, settings, max_in_flight=max_in_flight, streams=streams
                )
            finally:
                if streams is not None:
                    await streams.aclose()


def _spans(fake: FakeCursor, *, streams: bool) -> list[tuple[float, float]]:
    return [
        (r.started_s, r.started_s + (r.duration_s or 0.0))
        for r in fake.log.records
        if r.path.endswith("/stream") == streams
    ]


async def test_forty_calls_at_once_put_at_most_four_requests_on_the_wire() -> None:
    """Each answer takes 50 ms: the calls queue in the client, never more than 4 at the
    server, and every one of them is answered."""
    fake = FakeCursor(Scenario(latency_s=0.05), api_key=KEY)
    answered = 0

    async def call(client: CursorClient) -> None:
        nonlocal answered
        await client.me()
        answered += 1

    async with loopback(fake, max_in_flight=4) as client, anyio.create_task_group() as tasks:
        for _ in range(40):
            tasks.start_soon(call, client)
    assert answered == 40
    assert len(fake.log.records) == 40
    assert 2 <= most_at_once(_spans(fake, streams=False)) <= 4


async def test_open_streams_take_no_request_slot_and_beyond_their_cap_none_is_opened() -> None:
    """Three runs streaming, one request slot: requests still go through (streams have their
    own connections); a fourth stream over a cap of three is refused before any connection."""
    fake = FakeCursor(Scenario(defaults=FuBehaviour(creating_s=0, duration_s=600)), api_key=KEY)
    async with loopback(fake, max_in_flight=1, max_streams=3) as client:
        runs: list[Run] = []
        for i in range(4):
            _, run = await client.create_agent(
                CreateAgentRequest(prompt=Prompt(text=f"Do FU-{i}."))
            )
            runs.append(run)
        heard: list[str] = []
        all_open = anyio.Event()
        async with anyio.create_task_group() as tasks:

            async def follow(run: Run) -> None:
                async for _event in client.stream_run(run.agent_id, run.id):
                    heard.append(run.id)
                    if len(heard) == 3:
                        all_open.set()
                    await anyio.sleep_forever()

            for run in runs[:3]:
                tasks.start_soon(follow, run)
            with anyio.fail_after(30):
                await all_open.wait()
            for run in runs:  # one slot for requests, three streams open: answered all the same
                assert (await client.get_run(run.agent_id, run.id)).id == run.id
            with pytest.raises(StreamsExhausted):
                async for _event in client.stream_run(runs[3].agent_id, runs[3].id):
                    pass
            tasks.cancel_scope.cancel()
    assert len(_spans(fake, streams=True)) == 3  # the fourth never reached the server
    assert most_at_once(_spans(fake, streams=False)) == 1
