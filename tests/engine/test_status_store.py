from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from orchestrator.adapters import status_store
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


def test_atomic_write_leaves_nothing_but_the_status_file(tmp_path: Path) -> None:
    path = tmp_path / "agent_status.json"
    write_atomic(path, b'{"a": 1}\n')
    write_atomic(path, b'{"a": 2}\n')
    assert json.loads(path.read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent_status.json"]


class FullDisk:
    """`write_atomic` on a disk that is full while `full` holds: ENOSPC, nothing written."""

    def __init__(self) -> None:
        self.full = False
        self.tried_at: list[float] = []
        self._loop = asyncio.get_running_loop()  # writes run in a worker thread

    def __call__(self, path: Path, data: bytes) -> None:
        self.tried_at.append(self._loop.time())
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write_atomic(path, data)


@pytest.mark.looptime
@pytest.mark.asyncio
async def test_a_failing_write_is_retried_with_capped_backoff_while_events_keep_coming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent_status.json"
    disk = FullDisk()
    monkeypatch.setattr(status_store, "write_atomic", disk)
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.0)
    send, receive = open_event_channel()
    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run, receive)
            async with send:
                send.send_nowait(_start())
                await anyio.sleep(1)
                disk.full = True
                start = anyio.current_time()
                for i in range(200):  # events keep coming while no write succeeds
                    send.send_nowait(FuProgress(at=T0, fu_id=f"FU-{i:03d}", progress=0.25))
                    await anyio.sleep(1)
                disk.full = False
                await anyio.sleep(31)  # the next retry writes
                assert writer.write_error is None
                assert json.loads(path.read_text())["batches"][0]["feature_units"][199][
                    "progress"
                ] == pytest.approx(0.25)
    failed = [e for e in logs if e["event"] == "status.write_failed"]
    # one try per event would be 200; backing off: 0.5, 1, 2 … then every 30 s
    assert [e["retry_in_s"] for e in failed[:8]] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    tries = [round(t - start, 1) for t in disk.tried_at if t >= start]
    assert tries[:8] == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 61.5]
    assert len(failed) < 15
    assert failed[0]["error"] == "No space left on device (errno 28)"
    assert [e["event"] for e in logs if e["event"].startswith("status.write_r")] == [
        "status.write_recovered"
    ]
    assert writer.write_error is None


@pytest.mark.looptime
@pytest.mark.asyncio
async def test_a_write_failing_at_the_end_is_retried_then_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent_status.json"
    disk = FullDisk()
    disk.full = True
    monkeypatch.setattr(status_store, "write_atomic", disk)
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.0)
    send, receive = open_event_channel()
    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run, receive)
            async with send:
                send.send_nowait(_start())
    assert isinstance(writer.write_error, OSError)
    assert writer.write_error.errno == errno.ENOSPC
    assert not path.exists()
    assert [e["event"] for e in logs][-1] == "status.write_gave_up"


@pytest.mark.asyncio
async def test_temp_files_a_killed_writer_left_are_removed_at_start(tmp_path: Path) -> None:
    path = tmp_path / "agent_status.json"
    ours = [tmp_path / ".agent_status.json.k2j_9xq1.tmp", tmp_path / ".agent_status.json.a.tmp"]
    others = [
        tmp_path / ".agent_status.json.decision.k2j_9xq1.tmp",  # `orchd decide` may be writing
        tmp_path / ".other.json.k2j_9xq1.tmp",
        tmp_path / "agent_status.json.tmp",
        tmp_path / ".agent_status.json..tmp",
    ]
    for leftover in ours + others:
        leftover.write_text('{"half": ')
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.0)
    send, receive = open_event_channel()
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run, receive)
        async with send:
            send.send_nowait(_start())
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in others)
    assert json.loads(path.read_text())["release_id"] == "v1"


@pytest.mark.asyncio
async def test_durable_returns_once_the_event_is_in_the_file_on_disk(tmp_path: Path) -> None:
    """An intent recorded before acting on it (a follow-up POST) is on disk when `durable`
    returns: a kill -9 right after cannot lose it."""
    path = tmp_path / "agent_status.json"
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.5)
    send, receive = open_event_channel()
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run, receive)
        async with send:
            send.send_nowait(_start())
            send.send_nowait(FuProgress(at=T0, fu_id="FU-007", remark="asked for a follow-up"))
            assert await writer.durable(2, timeout_s=5)
            on_disk = json.loads(path.read_text())
            entry = next(
                f for f in on_disk["batches"][0]["feature_units"] if f["fu_id"] == "FU-007"
            )
            assert entry["note"] == "asked for a follow-up"


@pytest.mark.asyncio
async def test_durable_gives_up_when_writes_keep_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(status_store, "write_atomic", full)
    quick = status_store.WriteRetry(first_delay_s=0.05, at_end_delays_s=(0.01,))
    writer = StatusWriter(tmp_path / "agent_status.json", initial_status("v1", "o"), retry=quick)
    send, receive = open_event_channel()
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run, receive)
        async with send:
            send.send_nowait(_start())
            assert not await writer.durable(1, timeout_s=0.3)
