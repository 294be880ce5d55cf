"""The sentences a person reads while orchd runs, from one status snapshot to the next: gates,
landings, the question orchd waits on (with the command that answers it), decisions and who took
them, checkpoints, deadlines, the release's end; and never an earlier run's leftovers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestrator.adapters.narration import Sentence, narrate
from orchestrator.models.status import StatusFile

HEAD = "4f1c2a9b7e3d5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
LANDED = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
LOG = "/work/docs/releases/in_progress/v0.1.1/gate_logs/batch-2.log"
WHERE = "--repo-root /src/neotoma"


def fu(fu_id: str, status: str = "pending", **more: Any) -> dict[str, Any]:
    return {"fu_id": fu_id, "status": status, **more}


def release(**top: Any) -> dict[str, Any]:
    """v0.1.1 on its release branch: batch 1 (FU-100, FU-101), batch 2 (FU-200 … FU-203)."""
    data: dict[str, Any] = {
        "release_id": "v0.1.1",
        "orchestrator": {"agent_id": "orchd_1", "status": "running"},
        "integration_branch": "release/v0.1.1",
        "integration_sha": HEAD,
        "base_branch": "main",
        "batches": [
            {"batch_id": 1, "status": "pending", "feature_units": [fu("FU-100"), fu("FU-101")]},
            {
                "batch_id": 2,
                "status": "pending",
                "feature_units": [fu("FU-200"), fu("FU-201"), fu("FU-202"), fu("FU-203")],
            },
        ],
    }
    data.update(top)
    return data


def snap(data: dict[str, Any]) -> StatusFile:
    return StatusFile.model_validate(copy.deepcopy(data))


def told(before: dict[str, Any], after: dict[str, Any], *, key_only: bool = False) -> list[str]:
    sentences = narrate(snap(before), snap(after), decide_args=WHERE)
    return [s.text for s in sentences if s.key or not key_only]


def units(data: dict[str, Any], batch: int) -> list[dict[str, Any]]:
    units_: list[dict[str, Any]] = data["batches"][batch]["feature_units"]
    return units_


# --- the first snapshot of a run ----------------------------------------------------------------


def test_a_fresh_run_opens_with_what_it_will_build() -> None:
    data = release()
    units(data, 0)[0].update(status="launching", attempts=1)  # the first write holds launches
    assert narrate(None, snap(data)) == [
        Sentence(
            "release v0.1.1: 6 FUs in 2 batches; orchd builds release/v0.1.1 from main at "
            "4f1c2a9b7e3d"
        )
    ]


def test_a_restart_says_resumed_and_never_replays_what_the_earlier_run_left() -> None:
    left = release()
    left["batches"][0].update(status="completed", landed_sha=HEAD)
    for entry in units(left, 0):
        entry.update(status="completed", attempts=1, merge_commit=HEAD)
    for entry in units(left, 1):
        entry.update(status="cancelled", error="aborted")
    left["orchestrator"]["awaiting"] = {
        "kind": "batch_failure",
        "batch_id": 2,
        "choices": ["retry", "fix", "skip", "abort"],
        "since": "2026-11-30T09:00:00+00:00",
    }

    first = narrate(None, snap(left))

    assert [s.text for s in first] == [
        "release v0.1.1 resumed: 2 of 6 FUs landed on release/v0.1.1 at 4f1c2a9b7e3d; 4 to go"
    ]
    later = copy.deepcopy(left)
    units(later, 1)[0].update(status="launching", attempts=2, worker_agent_id="bc-2", error=None)
    assert told(left, later) == ["batch 2 FU-200: launching attempt 2 agent bc-2"]


# --- waiting for a human ------------------------------------------------------------------------


def awaiting(kind: str, batch: int, choices: list[str], **more: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "batch_id": batch,
        "choices": choices,
        "since": "2026-11-30T10:00:00+00:00",
        "deadline": None,
        "reason": "FU-200 needs_human: agent ERROR",
        **more,
    }


def test_a_failed_batch_tells_the_exact_orchd_decide_command_to_run() -> None:
    before = release()
    after = release()
    after["orchestrator"]["awaiting"] = awaiting(
        "batch_failure", 2, ["retry", "fix", "skip", "abort"]
    )
    after["batches"][1]["status"] = "awaiting_decision"

    assert told(before, after) == [
        "waiting for you: run `orchd decide v0.1.1 retry|fix|skip|abort --repo-root "
        "/src/neotoma` (batch 2 failed)"
    ]


def test_a_checkpoint_asks_for_continue_or_abort_and_says_when_the_deadline_aborts() -> None:
    before = release()
    after = release()
    after["orchestrator"]["awaiting"] = awaiting(
        "checkpoint", 1, ["continue", "abort"], deadline="2026-11-30T12:30:00+00:00"
    )

    assert told(before, after) == [
        "waiting for you: run `orchd decide v0.1.1 continue|abort --repo-root /src/neotoma` "
        "(checkpoint after batch 1: review before the release goes on; orchd aborts at "
        "2026-11-30 12:30 UTC if nobody answers)"
    ]


def test_the_open_question_is_told_once_however_many_writes_follow() -> None:
    asked = release()
    asked["orchestrator"]["awaiting"] = awaiting("batch_failure", 2, ["retry", "abort"])
    later = copy.deepcopy(asked)
    units(later, 0)[0].update(status="running", attempts=1)

    assert [t for t in told(asked, later) if "waiting for you" in t] == []


@pytest.mark.parametrize(
    ("record", "sentence"),
    [
        (
            {"kind": "batch_failure", "action": "retry", "by": "ana@build1 pid 4711"},
            "batch 2 failure: retry, decided by ana@build1 pid 4711",
        ),
        (
            {"kind": "batch_failure", "action": "skip", "by": "terminal", "reason": "flaky"},
            "batch 2 failure: skip, decided by you at the prompt (flaky)",
        ),
        (
            {"kind": "checkpoint", "action": "continue", "by": "policy"},
            "checkpoint after batch 2 reached: continue (--on-checkpoint continue)",
        ),
        (
            {"kind": "batch_failure", "action": "abort", "by": "deadline"},
            "deadline passed: nobody answered the batch 2 failure in time; orchd chose abort",
        ),
    ],
)
def test_a_decision_says_what_was_decided_and_by_whom(
    record: dict[str, Any], sentence: str
) -> None:
    before = release(decisions=[])
    after = release(decisions=[{"at": "2026-11-30T10:05:00+00:00", "batch_id": 2, **record}])

    assert told(before, after) == [sentence]


# --- gates and landings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "sentence"),
    [
        (
            {
                "status": "passed",
                "tests": [{"id": f"IT-00{i}", "status": "passed"} for i in (1, 2, 3)],
            },
            "batch 2: gate passed (3 tests)",
        ),
        ({"status": "no_tests", "tests": []}, "batch 2: gate passed (no tests ran)"),
        (
            {
                "status": "failed",
                "tests": [
                    {"id": "IT-001", "status": "passed", "log": LOG},
                    {"id": "IT-004", "status": "failed", "log": LOG},
                    {"id": "IT-005", "status": "timeout", "log": LOG},
                ],
            },
            f"batch 2: gate failed: IT-004, IT-005 (timeout) (log {LOG})",
        ),
    ],
)
def test_a_gate_result_names_the_tests_and_the_log_to_read(
    gate: dict[str, Any], sentence: str
) -> None:
    before = release()
    before["batches"][1]["status"] = "gating"
    after = copy.deepcopy(before)
    after["batches"][1]["gate"] = gate

    assert told(before, after) == [sentence]


def test_one_write_holding_a_whole_landing_is_told_in_the_order_it_happened() -> None:
    before = release()
    before["batches"][0]["status"] = "running"
    units(before, 0)[0].update(status="merged", attempts=1)
    units(before, 0)[1].update(status="delivered", attempts=1, delivered_branch="cursor/fu-101")
    merged = copy.deepcopy(before)
    units(merged, 0)[1]["status"] = "merged"
    merged["batches"][0].update(status="gating", candidate="orchd/v0.1.1/cand/b1.1")
    landed = copy.deepcopy(merged)
    landed["batches"][0].update(
        status="completed",
        landed_sha=LANDED,
        gate={"status": "passed", "tests": [{"id": "IT-001", "status": "passed"}]},
    )
    for entry in units(landed, 0):
        entry.update(status="completed", merge_commit=LANDED)

    assert told(before, merged) == [
        "batch 1 FU-101: merged attempt 1, into candidate b1.1",
        "batch 1: gate started on candidate b1.1",
    ]
    assert told(merged, landed) == [
        "batch 1: gate passed (1 test)",
        "batch 1 FU-100: completed attempt 1, landed as merge 9a8b7c6d5e4f",
        "batch 1 FU-101: completed attempt 1, landed as merge 9a8b7c6d5e4f",
        "batch 1 landed on release/v0.1.1 at 9a8b7c6d5e4f: FU-100, FU-101",
    ]
    # above a live table only what a person acts on: the FU lines are in the table
    assert told(merged, landed, key_only=True) == [
        "batch 1: gate passed (1 test)",
        "batch 1 landed on release/v0.1.1 at 9a8b7c6d5e4f: FU-100, FU-101",
    ]


def test_the_full_suite_result_is_told_with_the_branch_it_ran_on() -> None:
    before = release()
    after = release(
        full_suite={"status": "failed", "tests": [{"id": "IT-009", "status": "failed", "log": LOG}]}
    )

    assert told(before, after) == [f"full suite on release/v0.1.1: gate failed: IT-009 (log {LOG})"]


# --- FUs and the end ----------------------------------------------------------------------------


def test_an_escalated_fu_is_shown_above_the_table_but_its_progress_is_not() -> None:
    before = release()
    units(before, 1)[0].update(status="running", attempts=3)
    after = copy.deepcopy(before)
    units(after, 1)[0].update(status="needs_human", attempts=4, error="agent ERROR: tests failed")
    units(after, 1)[1].update(status="running", attempts=1, worker_agent_id="bc-9")

    sentences = narrate(snap(before), snap(after))

    assert sentences == [
        Sentence("batch 2 FU-200: needs_human attempt 4 — agent ERROR: tests failed", key=True),
        Sentence("batch 2 FU-201: running attempt 1 agent bc-9", key=False),
    ]


def test_many_fus_ending_alike_in_one_write_make_one_sentence() -> None:
    before = release()
    after = release()
    for entry in units(after, 1):
        entry.update(status="cancelled", error="not started: the release was aborted")

    assert told(before, after) == [
        "4 FUs cancelled — not started: the release was aborted: FU-200, FU-201, FU-202, FU-203"
    ]


def test_a_blocked_fu_reads_as_one_sentence() -> None:
    before = release()
    after = release()
    units(after, 1)[2].update(status="blocked", error="blocked: dependency FU-105 is deferred")

    assert told(before, after) == ["batch 2 FU-202: blocked: dependency FU-105 is deferred"]


@pytest.mark.parametrize(
    ("status", "statuses", "sentence"),
    [
        (
            "completed",
            ["completed"] * 6,
            "release v0.1.1 completed: 6 of 6 FUs landed on release/v0.1.1 at 4f1c2a9b7e3d",
        ),
        (
            "failed",
            ["completed", "completed", "deferred", "blocked", "blocked", "completed"],
            "release v0.1.1 failed: 3 of 6 FUs landed on release/v0.1.1 at 4f1c2a9b7e3d; "
            "2 blocked, 1 deferred",
        ),
        ("aborted", ["cancelled"] * 6, "release v0.1.1 aborted: 0 of 6 FUs landed; 6 cancelled"),
    ],
)
def test_the_end_of_the_release_says_how_it_ended_and_what_landed(
    status: str, statuses: list[str], sentence: str
) -> None:
    before = release()
    ended = release()
    ended["orchestrator"]["status"] = status
    for entry, fu_status in zip(units(ended, 0) + units(ended, 1), statuses, strict=True):
        entry["status"] = fu_status
    before_fus = units(before, 0) + units(before, 1)
    for entry, fu_status in zip(before_fus, statuses, strict=True):
        entry["status"] = fu_status  # the FUs are told by then; only the end is new

    assert told(before, ended) == [sentence]


def test_a_new_alert_is_one_line_and_an_old_one_is_not_told_again() -> None:
    before = release()
    stall = {
        "key": "batch_stalled/2/2026-11-30T09:10:00+00:00",
        "kind": "batch_stalled",
        "message": "batch 2: no progress for 31 min (since 2026-11-30T09:10:00+00:00)",
    }
    after = release(alerts=[stall])
    assert told(before, after, key_only=True) == [
        "alert: batch 2: no progress for 31 min (since 2026-11-30T09:10:00+00:00)"
    ]
    assert told(after, release(alerts=[stall])) == []
