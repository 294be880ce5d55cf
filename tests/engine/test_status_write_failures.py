"""A status file that cannot be written (disk full) never takes the release down: agents are the
expensive part, so supervision goes on, and orchd says so in one line (exit 4) at the end."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from orchestrator.adapters import status_store
from orchestrator.errors import ExitCode, StatusWriteFailed
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.release import ReleasePlan
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import API_KEY, run_on_fake
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0
FUS = ["FU-1", "FU-2", "FU-3", "FU-4"]


Doc = dict[str, Any]


def an_fu_runs(doc: Doc) -> bool:
    return any(u["status"] == "running" for b in doc["batches"] for u in b["feature_units"])


def batch_0_landed(doc: Doc) -> bool:
    return any(b["batch_id"] == 0 and b["status"] == "completed" for b in doc["batches"])


class Disk:
    """`write_atomic` on a disk that fills up once the release reaches `fills` (the state the
    writer tries to write says so) and has room again once it reaches `frees`, if ever."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        fills: Callable[[Doc], bool],
        frees: Callable[[Doc], bool] | None = None,
    ) -> None:
        self.fills, self.frees = fills, frees
        self.full = False
        self.refused = 0
        self.last_written: Doc | None = None
        self._write = status_store.write_atomic
        monkeypatch.setattr(status_store, "write_atomic", self)

    def __call__(self, path: Path, data: bytes) -> None:
        doc = json.loads(data)
        if self.full and self.frees is not None and self.frees(doc):
            self.full = False
        elif (
            not self.full
            and self.last_written is not None  # the first write always fits: no race with it
            and self.fills(doc)
            and not self.refused
        ):
            self.full = True
        if self.full:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._write(path, data)
        self.last_written = doc


def two_batches() -> ReleasePlan:
    return plan(
        [fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1"), fu("FU-4")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3", "FU-4"])],
    )


SCENARIO = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))


async def test_a_disk_full_for_a_while_delays_the_file_not_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(monkeypatch, fills=an_fu_runs, frees=batch_0_landed)
    with capture_logs() as logs:
        ran = await run_on_fake(two_batches(), SCENARIO, tmp_path)
    assert disk.refused > 0
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.status["orchestrator"]["status"] == "completed"  # written once the disk had room
    assert sorted(ran.status["completed_fus"]) == FUS
    # nothing was cancelled or relaunched: supervision went on while writes failed
    assert ran.stats["launches_per_fu"] == dict.fromkeys(FUS, 1)
    assert ran.stats["cancels_per_fu"] == {}
    failed = [e for e in logs if e["event"] == "status.write_failed"]
    assert len(failed) == disk.refused
    assert max(e["retry_in_s"] for e in failed) == 30.0  # capped backoff, not a write per event
    assert disk.refused < ran.elapsed_s / 30 + 10
    assert [e["event"] for e in logs if e["event"] == "status.write_recovered"] == [
        "status.write_recovered"
    ]


async def test_a_disk_full_until_the_end_is_one_error_with_exit_4_after_the_release_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(monkeypatch, fills=an_fu_runs)
    fake = FakeCursor(SCENARIO, api_key=API_KEY, clock=asyncio.get_running_loop().time)
    with capture_logs() as logs, pytest.raises(StatusWriteFailed) as caught:
        await run_on_fake(two_batches(), SCENARIO, tmp_path, fake=fake)
    assert disk.refused > 0
    error = caught.value
    assert error.exit_code is ExitCode.STATUS_NOT_WRITTEN
    assert int(error.exit_code) == 4
    path = tmp_path / "agent_status.json"
    assert str(error) == (
        f"{path}: the status file could not be written (No space left on device); the release "
        "ended completed but the file may show an earlier state (once it can be written, "
        "`orchd start v9.9.9` picks up from it)"
    )
    # the release ran to its end: every FU launched once, none cancelled
    stats = fake.stats()
    assert stats["launches_per_fu"] == dict.fromkeys(FUS, 1)
    assert stats["cancels_per_fu"] == {}
    # the file is the last one written, before the disk filled: not the release's end
    left = json.loads(path.read_text())
    assert left == disk.last_written
    assert left["orchestrator"]["status"] == "running"
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["status.write_gave_up"]
