"""`orchd decide` checks the answer against what the release awaits, then delivers or queues."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from orchestrator.adapters.decisions import (
    Decision,
    decision_path,
    next_decision,
    submit_decision,
)
from orchestrator.adapters.state_dir import release_runtime_dir, resolve_state_dir
from orchestrator.cli import app
from orchestrator.errors import InputError

RELEASE = "v0.1.1"


def write_status(release_dir: Path, awaiting: dict[str, Any] | None) -> Path:
    path = release_dir / "agent_status.json"
    data = {
        "release_id": RELEASE,
        "orchestrator": {"agent_id": "orchd", "status": "running", "awaiting": awaiting},
        "batches": [],
    }
    path.write_text(json.dumps(data, indent=2))
    return path


BATCH_FAILURE = {
    "kind": "batch_failure",
    "batch_id": 0.5,
    "choices": ["retry", "skip", "abort"],
    "since": "2026-01-01T00:00:00+00:00",
    "deadline": None,
    "reason": "IT-001 failed",
}


def control(status_path: Path, state_dir: Path | None = None) -> Path:
    """Where the daemon of this status file takes decisions (by default, the state dir the
    environment names)."""
    return release_runtime_dir(status_path, resolve_state_dir(state_dir))


def decide(release_dir: Path, *args: str) -> Any:
    argv = ["decide", RELEASE, *args, "--release-dir", str(release_dir)]
    return CliRunner().invoke(app, argv)


class StandIn:
    """A stand-in daemon in a thread taking one decision from the control file.

    `orchd decide` returns once the control file is gone, which is before the thread has
    recorded what it took: read it with `taken()`, which waits for the record."""

    def __init__(self, status_path: Path, state_dir: Path | None = None) -> None:
        self.status_path = status_path
        self.state_dir = state_dir
        self._taken: list[Decision] = []
        self._recorded = threading.Event()
        self._thread = threading.Thread(target=anyio.run, args=(self._take,))

    async def _take(self) -> None:
        try:
            with anyio.move_on_after(10):
                found = await next_decision(control(self.status_path, self.state_dir), poll_s=0.01)
                self._taken.append(found)
        finally:
            self._recorded.set()

    def taken(self) -> Decision:
        assert self._recorded.wait(10), "the stand-in daemon is stuck"
        assert self._taken, "the stand-in daemon took nothing within 10 s"
        return self._taken[0]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if not self._recorded.is_set():  # unblock the thread when the test delivered nothing
            with contextlib.suppress(InputError):
                submit_decision(control(self.status_path, self.state_dir), Decision(action="abort"))
        self._thread.join()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[StandIn]:
    stand_in = StandIn(tmp_path / "agent_status.json")
    stand_in.start()
    yield stand_in
    stand_in.stop()


def test_retry_is_delivered_to_a_waiting_orchd(tmp_path: Path, daemon: StandIn) -> None:
    write_status(tmp_path, BATCH_FAILURE)
    result = decide(tmp_path, "retry", "--reason", "fixed the fixture", "--all")
    assert result.exit_code == 0, result.output
    assert "delivered: retry batch 0.5 (all FUs)" in result.stdout.splitlines()
    taken = daemon.taken()
    assert taken.action == "retry"
    assert str(taken.batch_id) == "0.5"  # taken from what is awaited
    assert taken.all_fus
    assert taken.reason == "fixed the fixture"


def test_without_a_running_orchd_the_decision_is_queued_exit_1(tmp_path: Path) -> None:
    status = write_status(tmp_path, BATCH_FAILURE)
    result = decide(tmp_path, "skip", "--batch", "0.5", "--wait", "0.1")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        f"queued: no orchd took it within 0.1s (is it running? orchd status {RELEASE})"
    )
    assert Decision.model_validate_json(decision_path(control(status)).read_text()).action == "skip"

    again = decide(tmp_path, "abort", "--wait", "0")
    assert again.exit_code == 2
    assert "a decision is still pending (skip batch 0.5 by " in again.stderr


def test_nothing_awaited_is_refused_unless_forced(tmp_path: Path) -> None:
    status = write_status(tmp_path, None)
    result = decide(tmp_path, "abort")
    assert result.exit_code == 2
    assert f"release {RELEASE} is not waiting for a decision" in result.stderr
    assert not decision_path(control(status)).exists()

    forced = decide(tmp_path, "abort", "--force", "--wait", "0")
    assert forced.exit_code == 1
    assert decision_path(control(status)).exists()


def test_action_not_offered_is_refused_with_the_allowed_choices(tmp_path: Path) -> None:
    status = write_status(tmp_path, BATCH_FAILURE)
    result = decide(tmp_path, "continue")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "orchd: continue is not a choice for the batch failure of batch 0.5; "
        "choose one of: retry, skip, abort"
    )
    assert not decision_path(control(status)).exists()


def test_checkpoint_accepts_continue(tmp_path: Path, daemon: StandIn) -> None:
    checkpoint = {"kind": "checkpoint", "batch_id": 3, "choices": ["continue", "abort"]}
    write_status(tmp_path, checkpoint)
    result = decide(tmp_path, "continue", "--batch", "3")
    assert result.exit_code == 0, result.output
    assert "delivered: continue batch 3" in result.stdout.splitlines()
    assert daemon.taken().action == "continue"


def test_decision_for_another_batch_is_refused(tmp_path: Path) -> None:
    write_status(tmp_path, BATCH_FAILURE)
    result = decide(tmp_path, "retry", "--batch", "1")
    assert result.exit_code == 2
    assert "--batch 1: release v0.1.1 is waiting on batch 0.5" in result.stderr


def test_unknown_action_and_bad_batch_are_usage_errors(tmp_path: Path) -> None:
    write_status(tmp_path, BATCH_FAILURE)
    assert decide(tmp_path, "restart").exit_code == 2
    bad_batch = decide(tmp_path, "retry", "--batch", "zero")
    assert bad_batch.exit_code == 2
    assert "--batch: batch id must be a number" in bad_batch.stderr
    assert decide(tmp_path, "skip", "--all").exit_code == 2


def test_missing_status_file_says_start_has_not_run(tmp_path: Path) -> None:
    result = decide(tmp_path, "abort")
    assert result.exit_code == 2
    assert "no status file (has `orchd start v0.1.1` run?)" in result.stderr


def test_decide_reaches_the_orchd_started_with_the_same_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "service-state"
    status = write_status(tmp_path, BATCH_FAILURE)
    stand_in = StandIn(status, state)  # an orchd started with --state-dir service-state
    stand_in.start()
    try:
        elsewhere = decide(tmp_path, "skip", "--wait", "0.1")  # the default state dir
        assert elsewhere.exit_code == 1
        assert elsewhere.stdout.endswith(
            f"(it is in {decision_path(control(status))}: an orchd started with another "
            "--state-dir does not see it)\n"
        )
        decision_path(control(status)).unlink()
        result = decide(tmp_path, "skip", "--state-dir", str(state))
        assert result.exit_code == 0, result.output
        assert result.stdout == "delivered: skip batch 0.5\n"
        assert stand_in.taken().action == "skip"
    finally:
        stand_in.stop()
