"""The status file at scale (issue 12 §2): a release of a thousand FUs is written at most twice a
second, as compact JSON a reader parses to exactly the reducer's snapshot, and only the entries
that changed are serialized again; running out of descriptors for the temp file is retried.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from orchestrator.adapters.status_store import StatusWriter, WriteRetry, open_event_channel
from orchestrator.core.reducer import apply, initial_status
from orchestrator.models.events import FuPlanEntry, FuProgress, ReleaseStarted, StatusEvent
from orchestrator.models.status import StatusFile

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _start(n: int) -> ReleaseStarted:
    fus = tuple(FuPlanEntry(f"FU-{i:04d}", "P1", "low") for i in range(n))
    return ReleaseStarted(at=T0, orchestrator_id="o", pid=1, batches=((Decimal(0), fus),))


def _folded(events: list[StatusEvent]) -> StatusFile:
    snapshot = initial_status("v1", "o")
    for event in events:
        snapshot = apply(snapshot, event)
    return snapshot


async def test_a_thousand_fus_busy_for_ten_seconds_are_written_twice_a_second_compactly(
    tmp_path: Path,
) -> None:
    """3,000 progress events over 10 s: at most ~2 writes a second (the writer's own cadence
    is 10 a second), each file compact JSON equal to the reducer's snapshot, and each write
    serializes only the entries that changed since the one before."""
    path = tmp_path / "agent_status.json"
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.1)
    events: list[StatusEvent] = [_start(1000)]
    send, receive = open_event_channel()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(writer.run, receive)
        async with send:
            send.send_nowait(events[0])
            for step in range(1000):  # 10 s of fake time
                for k in range(3):
                    event = FuProgress(
                        at=T0 + timedelta(seconds=step / 100),
                        fu_id=f"FU-{(7 * step + k) % 1000:04d}",
                        progress=round(0.1 + step / 2000, 4),
                        branch=f"cursor/fu-{step}-{k}",
                    )
                    events.append(event)
                    send.send_nowait(event)
                await anyio.sleep(0.01)
    data = path.read_bytes()
    assert data.endswith(b"}\n")
    assert data.count(b"\n") == 1
    assert json.loads(data) == _folded(events).model_dump(mode="json")
    assert 10 <= writer.writes <= 2 * 10 + 2
    # the first write serializes every entry; later ones only those events changed
    assert writer.entries_serialized <= 1000 + 3000


async def test_a_small_release_keeps_ten_writes_a_second(tmp_path: Path) -> None:
    """Twenty FUs: the file stays small, so a burst is written every `coalesce_s` (the live
    board and `orchd watch` keep their pace)."""
    path = tmp_path / "agent_status.json"
    writer = StatusWriter(path, initial_status("v1", "o"), coalesce_s=0.1)
    send, receive = open_event_channel()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(writer.run, receive)
        async with send:
            send.send_nowait(_start(20))
            for step in range(200):  # 4 s of fake time
                send.send_nowait(FuProgress(at=T0, fu_id=f"FU-{step % 20:04d}", note="tool_call"))
                await anyio.sleep(0.02)
    assert 35 <= writer.writes <= 45


async def test_the_writer_retries_a_temp_file_it_has_no_descriptor_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EMFILE on the temp file is a failed write like a full disk: logged, retried with
    backoff, and once descriptors are free again the file holds the latest snapshot."""
    path = tmp_path / "agent_status.json"
    out_of_files = {"on": False}
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        if out_of_files["on"]:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return real_mkstemp(*args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)  # what `durable_temp` calls
    writer = StatusWriter(
        path, initial_status("v1", "o"), coalesce_s=0.0, retry=WriteRetry(first_delay_s=0.5)
    )
    events: list[StatusEvent] = [_start(5)]
    send, receive = open_event_channel()
    with capture_logs() as logs:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(writer.run, receive)
            async with send:
                send.send_nowait(events[0])
                await anyio.sleep(1)
                out_of_files["on"] = True
                for i in range(5):
                    events.append(FuProgress(at=T0, fu_id=f"FU-{i:04d}", progress=0.5))
                    send.send_nowait(events[-1])
                    await anyio.sleep(1)
                out_of_files["on"] = False
                await anyio.sleep(10)  # the next retry writes
    assert writer.write_error is None
    assert json.loads(path.read_bytes()) == _folded(events).model_dump(mode="json")
    failed = [e for e in logs if e["event"] == "status.write_failed"]
    assert failed
    assert failed[0]["error"] == "Too many open files (errno 24)"
    assert [e["event"] for e in logs if e["event"].startswith("status.write_r")] == [
        "status.write_recovered"
    ]
    assert [p.name for p in os.scandir(tmp_path)] == ["agent_status.json"]  # no temp left
