"""What a person reads in the status report, the live view and the end-of-run summary once FUs
land on a release branch: the branch and its head, each FU's merge commit or what it waits for,
each batch's gate and landed commit, and all of it readable in 100 columns."""

from __future__ import annotations

import io
import re
from typing import Any

import anyio
import pytest
from rich.console import Console

from orchestrator.adapters.console import ProgressView
from orchestrator.adapters.live_board import LiveBoard
from orchestrator.adapters.report import status_report, timing_line
from orchestrator.models.status import StatusFile

HEAD = "4f1c2a9b7e3d5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
LANDED_0 = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
MERGE_100 = "c0ffee1234567890abcdef1234567890abcdef12"
MERGE_101 = "d00dfeed98765432100123456789abcdef012345"
MERGE_102 = "abcdef0123456789abcdef0123456789abcdef01"
CANDIDATE = "1234567890abcdef1234567890abcdef12345678"
AGENT = "bc-5f1e0c2d-7a3b-4c9d-8e6f-0123456789ab"
DEFERRED_BRANCH = "cursor/fu-106-graph-queries-51aa"


def release_file(**top: Any) -> dict[str, Any]:
    """An agent_status.json of a release on its branch, mid-run: batch 0 landed after a
    three-test gate, 0.5 landed with no tests, 0.7 gating its candidate, 1 skipped."""
    data: dict[str, Any] = {
        "release_id": "v0.1.0",
        "orchestrator": {
            "agent_id": "orch-1",
            "status": "running",
            "current_batch": 0.7,
            "started_at": "2026-11-30T10:00:00Z",
        },
        "integration_branch": "release/v0.1.0",
        "integration_sha": HEAD,
        "base_branch": "main",
        "batches": [
            {
                "batch_id": 0,
                "status": "completed",
                "landed_sha": LANDED_0,
                "gate": {
                    "status": "passed",
                    "tests": [
                        {"id": "IT-001", "status": "passed"},
                        {"id": "IT-002", "status": "passed"},
                        {"id": "gate", "status": "passed"},
                    ],
                },
                "feature_units": [
                    {
                        "fu_id": "FU-100",
                        "status": "completed",
                        "attempts": 1,
                        "duration_s": 242.0,
                        "worker_agent_id": AGENT,
                        "branch": "cursor/fu-100-crypto-4e2a",
                        "delivered_branch": "cursor/fu-100-crypto-4e2a",
                        "merge_commit": MERGE_100,
                        "pr_url": "https://github.com/acme/neotoma/pull/101",
                    },
                    {
                        "fu_id": "FU-101",
                        "status": "completed",
                        "attempts": 2,
                        "duration_s": 1301.5,
                        "delivered_branch": "cursor/fu-101-schema-migration-77b1",
                        "merge_commit": MERGE_101,
                    },
                ],
            },
            {
                "batch_id": 0.5,
                "status": "completed",
                "landed_sha": HEAD,
                "gate": {"status": "no_tests", "tests": []},
                "feature_units": [
                    {
                        "fu_id": "FU-102",
                        "status": "completed",
                        "attempts": 1,
                        "duration_s": 75,
                        "delivered_branch": "cursor/fu-102-ingest-3c9d",
                        "merge_commit": MERGE_102,
                    }
                ],
            },
            {
                "batch_id": 0.7,
                "status": "gating",
                "candidate": "orchd/v0.1.0/cand/b0.7.1",
                "candidate_sha": CANDIDATE,
                "feature_units": [
                    {
                        "fu_id": "FU-103",
                        "status": "merged",
                        "attempts": 1,
                        "duration_s": 610,
                        "delivered_branch": "cursor/fu-103-entities-9f00",
                    },
                    {
                        "fu_id": "FU-104",
                        "status": "delivered",
                        "attempts": 1,
                        "duration_s": 580,
                        "conflict_rounds": 1,
                        "delivered_branch": "cursor/fu-104-timeline-2b71",
                    },
                    {
                        "fu_id": "FU-105",
                        "status": "running",
                        "attempts": 1,
                        "worker_agent_id": AGENT,
                    },
                ],
            },
            {
                "batch_id": 1,
                "status": "skipped",
                "gate": {
                    "status": "failed",
                    "tests": [
                        {"id": "IT-004", "status": "failed", "log": "/state/gate/batch-1.log"},
                        {"id": "IT-005", "status": "timeout"},
                    ],
                },
                "feature_units": [
                    {
                        "fu_id": "FU-106",
                        "status": "deferred",
                        "attempts": 1,
                        "duration_s": 3000,
                        "delivered_branch": DEFERRED_BRANCH,
                        "error": "deferred: batch skipped (IT-004 failed; IT-005 timeout); "
                        f"its branch {DEFERRED_BRANCH} is kept",
                    }
                ],
            },
            {"batch_id": 2, "status": "pending", "feature_units": [{"fu_id": "FU-107"}]},
        ],
    }
    data.update(top)
    return data


def snapshot(**top: Any) -> StatusFile:
    return StatusFile.model_validate(release_file(**top))


def render(status: StatusFile, *, width: int = 100) -> str:
    out = io.StringIO()
    Console(file=out, width=width, soft_wrap=True, color_system=None).print(status_report(status))
    return out.getvalue()


def rows(text: str) -> dict[str, list[str]]:
    """Table rows by their key cell (an FU id, or a batch id in the batch table)."""
    found: dict[str, list[str]] = {}
    table = 0
    for line in text.splitlines():
        if "┃" in line:  # a header: the FU table, then the batch table
            table += 1
            continue
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) < 3:
            continue
        key = cells[1] if table == 1 and cells[1] else cells[0]
        if table == 2:
            key = f"batch {cells[0]}"
        if key:
            found[key] = cells
    return found


def test_the_release_branch_its_head_and_base_come_right_after_the_title() -> None:
    lines = render(snapshot()).splitlines()
    assert lines[0] == "v0.1.0 — running (batch 0.7)"
    assert "release branch release/v0.1.0 at 4f1c2a9b7e3d (base main)" in lines[1:4]
    assert HEAD not in "\n".join(lines)  # 12 hex digits, never the full SHA


def test_a_landed_fu_shows_its_gate_and_short_merge_commit() -> None:
    table = rows(render(snapshot()))
    assert table["FU-100"][2:] == ["completed", "1", "4m02s", "passed", "c0ffee123456"]
    assert table["FU-102"][-1] == "abcdef012345"


def test_fus_not_landed_yet_say_what_they_wait_for() -> None:
    table = rows(render(snapshot()))
    assert table["FU-103"][2] == "merged"
    assert table["FU-103"][-1] == "gate on b0.7.1"
    assert table["FU-104"][2] == "delivered"
    assert table["FU-104"][-1] == "conflict round 1"
    assert table["FU-105"][-1] == "agent working"
    assert table["FU-107"][-1] == "-"


def test_a_delivered_fu_without_conflict_waits_for_its_merge_into_the_candidate() -> None:
    data = release_file()
    data["batches"][2]["feature_units"][1]["conflict_rounds"] = 0
    table = rows(render(StatusFile.model_validate(data)))
    assert table["FU-104"][-1] == "merge into b0.7.1"


def test_each_batch_shows_its_gate_result_and_landed_commit() -> None:
    table = rows(render(snapshot()))
    assert table["batch 0"][1:] == ["completed", "passed (3 tests)", "9a8b7c6d5e4f"]
    assert table["batch 0.5"][1:] == ["completed", "passed (no tests ran)", "4f1c2a9b7e3d"]
    assert table["batch 0.7"][1:] == ["gating", "-", "b0.7.1 at 1234567890ab"]
    assert table["batch 1"][1:] == ["skipped", "failed: IT-004, IT-005 (timeout)", "-"]


def test_a_pass_where_every_test_lacked_a_command_is_not_shown_as_a_plain_pass() -> None:
    data = release_file()
    data["batches"][0]["gate"] = {
        "status": "passed",  # an older file: no test ran, yet it said passed
        "tests": [{"id": "IT-001", "status": "not_run"}],
    }
    table = rows(render(StatusFile.model_validate(data), width=120))
    assert table["batch 0"][2] == "passed (no tests ran); 1 test without a command"


def test_a_deferred_fu_lists_its_kept_branch() -> None:
    text = render(snapshot())
    assert rows(text)["FU-106"][2:] == ["deferred", "1", "50m00s", "failed", "branch kept"]
    assert (
        "FU-106: deferred: batch skipped (IT-004 failed; IT-005 timeout); "
        f"its branch {DEFERRED_BRANCH} is kept"
    ) in text.splitlines()


def test_failing_gate_logs_get_lines_of_their_own_and_pr_urls_stay_out_of_the_table() -> None:
    text = render(snapshot())
    assert "batch 1 IT-004 log: /state/gate/batch-1.log" in text.splitlines()
    assert all("https://" not in cells[-1] for cells in rows(text).values())


def test_the_report_fits_100_columns_with_every_fu_on_one_line() -> None:
    text = render(snapshot(), width=100)
    table_lines = [line for line in text.splitlines() if "│" in line]
    assert max(len(line) for line in table_lines) <= 100
    fu_lines = [line for line in table_lines if "FU-" in line]
    assert len(fu_lines) == 8  # no row spills onto a continuation line


def test_a_file_from_before_the_release_branch_shows_no_branch_line() -> None:
    text = render(snapshot(integration_branch=None, integration_sha=None, base_branch=None))
    assert text.splitlines()[0] == "v0.1.0 — running (batch 0.7)"
    assert "release branch" not in text
    assert rows(text)["FU-100"][-1] == "c0ffee123456"


def test_the_full_suite_gate_gets_its_own_line() -> None:
    text = render(snapshot(full_suite={"status": "no_tests", "tests": []}))
    assert "full suite gate: passed (no tests ran)" in text.splitlines()


def test_live_table_colours_the_new_statuses() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system="standard")
    console.print(status_report(snapshot()))
    text = out.getvalue()
    assert "\x1b[34mdelivered" in text  # blue: its agent is done, not merged yet
    assert "\x1b[94mmerged" in text  # bright blue: in the candidate, gate pending
    assert "\x1b[32mcompleted" in text  # green: landed


def test_plain_progress_lines_follow_an_fu_from_delivery_to_landing() -> None:
    out = io.StringIO()
    view = ProgressView(out, live=False)
    data = release_file()
    fu = data["batches"][2]["feature_units"][0]
    view(StatusFile.model_validate(data))
    fu.update(status="delivered", branch="cursor/fu-103-entities-9f00")
    view(StatusFile.model_validate(data))
    fu["status"] = "merged"
    view(StatusFile.model_validate(data))
    fu.update(status="completed", merge_commit=CANDIDATE)
    data["batches"][2].update(
        status="completed",
        landed_sha=CANDIDATE,
        gate={"status": "passed", "tests": [{"id": "IT-003", "status": "passed"}]},
    )
    view(StatusFile.model_validate(data))
    lines = out.getvalue().splitlines()
    assert lines == [
        "release v0.1.0 resumed: 3 of 8 FUs landed on release/v0.1.0 at 4f1c2a9b7e3d; 5 to go",
        "batch 0.7 FU-103: delivered attempt 1, branch cursor/fu-103-entities-9f00",
        "batch 0.7 FU-103: merged attempt 1, into candidate b0.7.1",
        "batch 0.7: gate passed (1 test)",
        "batch 0.7 FU-103: completed attempt 1, landed as merge 1234567890ab",
        "batch 0.7 landed on release/v0.1.0 at 1234567890ab: FU-103",
    ]


def test_a_restarted_run_does_not_replay_the_earlier_runs_aborted_fus() -> None:
    data = release_file()
    for batch in data["batches"][2:]:
        for fu in batch["feature_units"]:
            fu.update(status="cancelled", error="not started: the release was aborted")
    out = io.StringIO()
    view = ProgressView(out, live=False)

    view(StatusFile.model_validate(data))  # the first write of the new run
    data["batches"][2]["feature_units"][2].update(status="launching", attempts=2, error=None)
    view(StatusFile.model_validate(data))

    assert out.getvalue().splitlines() == [
        "release v0.1.0 resumed: 3 of 8 FUs landed on release/v0.1.0 at 4f1c2a9b7e3d; 5 to go",
        "batch 0.7 FU-105: launching attempt 2 agent " + AGENT,
    ]


def neotoma_sized(landed: int) -> StatusFile:
    """28 FUs in 14 batches, the first `landed` of them landed, the next two running."""
    batches: list[dict[str, Any]] = []
    for number in range(14):
        fus = []
        for slot in range(2):
            index = 2 * number + slot
            status = "completed" if index < landed else "pending"
            if landed <= index < landed + 2:
                status = "running"
            fus.append(
                {
                    "fu_id": f"FU-{index:03d}",
                    "status": status,
                    "attempts": 0 if status == "pending" else 1,
                    "worker_agent_id": AGENT if status == "running" else None,
                    "merge_commit": MERGE_100 if status == "completed" else None,
                }
            )
        done = all(f["status"] == "completed" for f in fus)
        batch_status = "completed" if done else "pending"
        if any(f["status"] == "running" for f in fus):
            batch_status = "running"
        batches.append({"batch_id": number, "status": batch_status, "feature_units": fus})
    return StatusFile.model_validate(release_file(batches=batches))


def draw(renderable: Any, *, width: int = 100, height: int = 30) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, height=height, color_system=None)
    console.print(renderable)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("landed", [0, 10, 26])
def test_the_live_board_of_28_fus_fits_a_100x30_terminal(landed: int) -> None:
    lines = draw(LiveBoard(neotoma_sized(landed)))

    assert len(lines) <= 29  # one line spare for the cursor: the region never scrolls
    assert max(len(line) for line in lines) <= 100
    assert lines[0].startswith(f"v0.1.0 — running · {landed}/28 FUs landed")
    assert lines[-1].startswith(f"batches: {landed // 2}/14 landed")
    shown = {cell.strip() for line in lines if "│" in line for cell in line.split("│")[1:2]}
    assert {f"FU-{landed:03d}", f"FU-{landed + 1:03d}"} <= shown  # the running ones
    folded = [re.match(r"(?:… )?(\d+) (?:more )?FUs", line) for line in lines]
    assert len(shown) + sum(int(m[1]) for m in folded if m) == 28  # every FU shown or counted


def test_the_live_board_folds_to_a_few_lines_on_a_small_terminal() -> None:
    lines = draw(LiveBoard(neotoma_sized(10)), width=60, height=8)

    assert len(lines) <= 7
    assert max(len(line) for line in lines) <= 60
    assert lines[0].startswith("v0.1.0 — running")


def test_a_waiting_release_shows_the_question_under_the_board() -> None:
    status = neotoma_sized(4)
    status.orchestrator.awaiting = {
        "kind": "batch_failure",
        "batch_id": 2,
        "choices": ["retry", "skip", "abort"],
        "since": "2026-11-30T10:00:00+00:00",
    }
    lines = draw(LiveBoard(status, decide_args="--repo-root /src/n"), width=200)

    assert lines[-1] == (
        "waiting for you: run `orchd decide v0.1.0 retry|skip|abort --repo-root /src/n` "
        "(batch 2 failed)"
    )


def test_above_the_live_table_only_what_a_person_acts_on_is_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # a wide terminal: the sentence is one line
    out = io.StringIO()
    data = release_file()
    with ProgressView(out, live=True) as view:
        view(StatusFile.model_validate(data))
        data["batches"][4]["feature_units"][0].update(status="running", attempts=1)
        data["orchestrator"]["awaiting"] = {
            "kind": "checkpoint",
            "batch_id": 1,
            "choices": ["continue", "abort"],
            "since": "2026-11-30T10:00:00+00:00",
        }
        view(StatusFile.model_validate(data))

    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert "batch 2 FU-107: running attempt 1" not in lines  # the table shows it
    assert lines[-1] == (
        "waiting for you: run `orchd decide v0.1.0 continue|abort` (checkpoint after batch 1: "
        "review before the release goes on)"
    )


@pytest.mark.asyncio
async def test_the_prompt_shows_the_state_it_asks_about_not_the_one_a_write_before() -> None:
    """The question is emitted just before the prompt opens, but written a tick later: the
    table above the prompt must show FU-105 escalated, not still running."""
    out = io.StringIO()
    data = release_file()
    fu = data["batches"][2]["feature_units"][2]
    fu.update(status="running", attempts=4)
    with ProgressView(out, live=True) as view:
        view(StatusFile.model_validate(data))
        fu.update(status="needs_human", error="agent ERROR on attempt 4")
        data["batches"][2]["status"] = "awaiting_decision"
        data["orchestrator"]["awaiting"] = {
            "kind": "batch_failure",
            "batch_id": 0.7,
            "choices": ["retry", "fix", "skip", "abort"],
            "since": "2026-11-30T10:00:00+00:00",
        }
        escalated = StatusFile.model_validate(data)

        async def write_a_tick_later() -> None:
            await anyio.lowlevel.checkpoint()
            view(escalated)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write_a_tick_later)
            async with view.paused():
                at_prompt = out.getvalue()

    table = rows(at_prompt[at_prompt.rindex("v0.1.0 — running") :])
    assert table["FU-105"][2] == "needs_human"
    assert table["batch 0.7"][1] == "awaiting_decision"


def test_the_summary_counts_work_delivered_but_not_landed_in_the_sequential_sum() -> None:
    data = release_file()
    data["orchestrator"].update(
        status="failed", started_at="2026-11-30T10:00:00Z", completed_at="2026-11-30T11:00:00Z"
    )
    # landed 242 + 1301.5 + 75, delivered 580, merged 610; the deferred FU's 3000 s include
    # the wait for a human and are not work; a failed release gets no speed-up
    assert timing_line(StatusFile.model_validate(data)).splitlines()[0] == (
        "calendar time 1h00m00s vs sequential sum 46m48s"
    )


def test_the_summary_prints_the_report_then_the_timing_line() -> None:
    out = io.StringIO()
    data = release_file()
    data["orchestrator"].update(status="completed", completed_at="2026-11-30T10:30:00Z")
    ProgressView(out, live=False).summary(StatusFile.model_validate(data))
    lines = out.getvalue().splitlines()
    assert lines[0] == "v0.1.0 — summary"
    assert lines[1] == "landed 3/8 (1 deferred) · took 30m00s"
    assert lines[2] == "release branch release/v0.1.0 at 4f1c2a9b7e3d (base main)"
    assert lines[-2].startswith("calendar time 30m00s vs sequential sum 46m48s (1.6x faster")
