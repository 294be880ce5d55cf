from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from orchestrator.adapters.status_store import StatusWriter, open_event_channel, write_atomic
from orchestrator.core.reducer import initial_status
from orchestrator.models.events import FuPlanEntry, FuProgress, ReleaseStarted

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FUS = tuple(FuPlanEntry(f"FU-{i:03d}", "P0", "low") for i in range(200))


def _start() -> ReleaseStarted:
    return ReleaseStarted(at=T0, orchestrator_id="o", pid=1, batches=((Decimal(0), FUS),))


@pytest.mark.asyncio
async def test_bursts_of_events_are_coalesced_into_few_complete_writes(tmp_path: Path) -> None:
    path = tmp_path / "agent_status.json"
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.05)
    send, receive = open_event_channel()
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run, receive)
        async with send:
            send.send_nowait(_start())
            for i in range(1000):
                send.send_nowait(FuProgress(at=T0, fu_id=f"FU-{i % 200:03d}", progress=0.1))
    data = json.loads(path.read_text())
    assert len(data["batches"][0]["feature_units"]) == 200
    assert all(fu["progress"] == 0.1 for fu in data["batches"][0]["feature_units"])
    assert writer.writes <= 3


@pytest.mark.asyncio
async def test_a_reader_hammering_the_file_never_sees_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "agent_status.json"
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.0)
    stop = threading.Event()
    seen = {"reads": 0, "bad": 0}

    def hammer() -> None:
        while not stop.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                continue
            seen["reads"] += 1
            try:
                json.loads(text)
            except ValueError:
                seen["bad"] += 1

    reader = threading.Thread(target=hammer)
    reader.start()
    try:
        send, receive = open_event_channel()
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run, receive)
            async with send:
                send.send_nowait(_start())
                for i in range(120):
                    send.send_nowait(FuProgress(at=T0, fu_id=f"FU-{i % 200:03d}", progress=0.5))
                    await anyio.sleep(0.002)
    finally:
        stop.set()
        reader.join()
    assert writer.writes > 5
    assert seen["reads"] > 0
    assert seen["bad"] == 0


def test_atomic_write_leaves_no_temp_files_behind(tmp_path: Path) -> None:
    path = tmp_path / "agent_status.json"
    write_atomic(path, b'{"a": 1}\n')
    write_atomic(path, b'{"a": 2}\n')
    assert json.loads(path.read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "agent_status.json",
        "agent_status.json.lock",
    ]
