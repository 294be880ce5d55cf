"""Helpers to talk to the fake in-process, on the event loop's (fake, under looptime) clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import Scenario

KEY = "test-key"
PROMPT = {"prompt": {"text": "Implement FU-110 per its spec."}}
REPO = [{"url": "https://github.com/acme/neotoma", "startingRef": "main"}]


def loop_fake(scenario: Scenario | None = None, **kwargs: Any) -> FakeCursor:
    """A fake whose clock is the running loop's time (fake under looptime)."""
    return FakeCursor(scenario, clock=lambda: asyncio.get_running_loop().time(), **kwargs)


@asynccontextmanager
async def client_for(
    fake: FakeCursor, *, auth: tuple[str, str] | None = (KEY, "")
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fake.cursor.test", auth=auth
    ) as client:
        yield client


def agent_body(text: str = "Implement FU-110 per its spec.", **extra: Any) -> dict[str, Any]:
    return {"prompt": {"text": text}, "repos": REPO, **extra}


def sse_events(text: str) -> list[dict[str, Any]]:
    """Parse an SSE body into [{'event', 'id', 'data'}]."""
    events: list[dict[str, Any]] = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, Any] = {"id": None}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = json.loads(value) if name == "data" else value
        events.append(fields)
    return events
