"""The decision control file: delivered across processes, atomic, exclusive, robust to junk.

It lives in the release's folder of orchd's state dir (`control`), not in the user's checkout."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from orchestrator.adapters.decisions import (
    Decision,
    decision_path,
    next_decision,
    submit_decision,
    taken_path,
    wait_consumed,
)
from orchestrator.errors import InputError


@pytest.fixture
def control(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "releases" / "v0.1.1-0123456789ab"
    path.mkdir(parents=True)
    return path


def test_decision_file_sits_in_the_release_folder_of_the_state_dir(control: Path) -> None:
    assert decision_path(control) == control / "decision.json"


def test_submitted_file_is_complete_json_with_a_numeric_batch(control: Path) -> None:
    decision = Decision(action="retry", batch_id="0.5", all_fus=True, reason="flaky db")
    path = submit_decision(control, decision)
    data = json.loads(path.read_text())
    assert data["action"] == "retry"
    assert data["batch_id"] == 0.5
    assert data["all_fus"] is True
    assert data["id"] == decision.id
    assert " pid " in data["by"]
    assert [p.name for p in control.iterdir()] == ["decision.json"]  # no temp file left


def test_second_submit_is_refused_while_the_first_is_pending(control: Path) -> None:
    submit_decision(control, Decision(action="skip", batch_id=2))
    with pytest.raises(InputError, match=r"a decision is still pending \(skip batch 2 by "):
        submit_decision(control, Decision(action="abort"))
    pending = Decision.model_validate_json(decision_path(control).read_bytes())
    assert pending.action == "skip"


def test_submit_creates_the_release_folder_of_the_state_dir(tmp_path: Path) -> None:
    control = tmp_path / "state" / "releases" / "v0.1.1-0123456789ab"
    assert submit_decision(control, Decision(action="abort")) == control / "decision.json"


def test_a_state_dir_that_cannot_be_written_is_one_input_error_line(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")  # a file where the state dir should be
    control = tmp_path / "state" / "releases" / "v0.1.1-0123456789ab"
    with pytest.raises(InputError) as caught:
        submit_decision(control, Decision(action="abort"))
    assert str(caught.value) == (
        f"{control}: cannot write the decision there (Not a directory); is --state-dir the one "
        "the running orchd uses?"
    )


@pytest.mark.asyncio
async def test_decision_from_another_process_reaches_the_waiting_daemon(
    control: Path,
) -> None:
    code = (
        "import sys; from pathlib import Path;"
        "from orchestrator.adapters.decisions import Decision, submit_decision;"
        "submit_decision(Path(sys.argv[1]),"
        " Decision(action='retry', batch_id='0.5', reason='fixed the migration'))"
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.run_process, [sys.executable, "-c", code, str(control)])
        with anyio.fail_after(10):
            decision = await next_decision(control, poll_s=0.02)
    assert decision.action == "retry"
    assert decision.batch_id == Decimal("0.5")
    assert decision.reason == "fixed the migration"
    assert not decision_path(control).exists()  # consumed: the next decide is accepted
    assert json.loads(taken_path(control).read_text())["id"] == decision.id


@pytest.mark.asyncio
async def test_cli_side_learns_the_daemon_took_its_decision(control: Path) -> None:
    decision = Decision(action="abort")
    submit_decision(control, decision)
    async with anyio.create_task_group() as tg:

        async def daemon() -> None:
            await anyio.sleep(0.1)
            await next_decision(control, poll_s=0.02)

        tg.start_soon(daemon)
        delivered = await anyio.to_thread.run_sync(
            lambda: wait_consumed(control, 5, decision_id=decision.id)
        )
    assert delivered


def test_wait_consumed_is_false_when_nobody_takes_it(control: Path) -> None:
    submit_decision(control, Decision(action="abort"))
    assert wait_consumed(control, 0.1) is False
    assert decision_path(control).exists()  # still queued for a later daemon


def test_wait_consumed_does_not_mistake_a_newer_decision_for_its_own(control: Path) -> None:
    mine = Decision(action="retry", batch_id=1)
    submit_decision(control, mine)
    decision_path(control).unlink()  # taken by the daemon...
    submit_decision(control, Decision(action="abort"))  # ...and someone else decided since
    assert wait_consumed(control, 0, decision_id=mine.id) is True
    assert wait_consumed(control, 0) is False


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_malformed_file_is_consumed_logged_and_ignored(control: Path) -> None:
    decision_path(control).write_text('{"action": "retry", "batch_id": "zero"')
    later = Decision(action="skip", batch_id=3)

    async def decide_later() -> None:
        await anyio.sleep(1.2)
        submit_decision(control, later)

    loop_start = anyio.current_time()
    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(decide_later)
            decision = await next_decision(control, poll_s=0.5)
    assert decision.id == later.id
    assert anyio.current_time() - loop_start == pytest.approx(1.5)  # polls at 0, 0.5, 1.0, 1.5
    rejected = [e for e in logs if e["event"] == "decision.rejected"]
    assert len(rejected) == 1
    assert rejected[0]["path"] == str(decision_path(control))


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_invalid_action_is_rejected_with_the_field_named(control: Path) -> None:
    decision_path(control).write_text('{"action": "yolo", "at": "2026-01-01T00:00:00Z"}')
    with capture_logs() as logs, anyio.move_on_after(2):
        await next_decision(control, poll_s=0.5)
    assert [(e["event"], e["field"]) for e in logs] == [("decision.rejected", "action")]
    assert not decision_path(control).exists()


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_decision_for_another_batch_or_action_is_not_taken_as_this_one(
    control: Path,
) -> None:
    submit_decision(control, Decision(action="retry", batch_id=1))

    async def then_right_ones() -> None:
        await anyio.sleep(1)
        submit_decision(control, Decision(action="retry", batch_id="0.5"))  # wrong action
        await anyio.sleep(1)
        submit_decision(control, Decision(action="continue", batch_id="0.5"))

    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(then_right_ones)
            decision = await next_decision(
                control, poll_s=0.25, choices=("continue", "abort"), batch_id=Decimal("0.5")
            )
    assert decision.action == "continue"
    problems = [e["problem"] for e in logs if e["event"] == "decision.rejected"]
    assert problems == [
        "action 'retry' is not one of ['abort', 'continue']",
        "action 'retry' is not one of ['abort', 'continue']",
    ]


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_wrong_batch_is_rejected(control: Path) -> None:
    submit_decision(control, Decision(action="retry", batch_id=1))
    with capture_logs() as logs, anyio.move_on_after(1):
        await next_decision(control, batch_id=Decimal(2))
    assert [e["problem"] for e in logs] == ["decision is for batch 1, waiting on batch 2"]


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_a_rejected_decision_tells_its_sender_why(tmp_path: Path) -> None:
    from orchestrator.adapters.decisions import rejection_of

    status = tmp_path / "agent_status.json"
    sent = Decision(action="retry", batch_id=Decimal(1))
    submit_decision(status, sent)
    with anyio.move_on_after(2):
        await next_decision(status, poll_s=0.5, choices=("retry", "skip"), batch_id=Decimal(0))
    reason = rejection_of(status, sent.id)
    assert reason == "decision is for batch 1, waiting on batch 0"
    assert rejection_of(status, "someone-else") is None
