"""The status report as a person reads it in an 80-column terminal: every FU on one line with
its elapsed time and its batch's gate, agent ids whole, progress with an ETA that says how it
is computed, the open question with the command that answers it, and each FU in full on
request."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType

from orchestrator.adapters.report import status_report
from orchestrator.adapters.report_detail import error_log, find_fus, fu_detail
from orchestrator.models.status import StatusFile

NOW = datetime(2026, 11, 30, 10, 42, 3, tzinfo=UTC)
AGENT = "bc-5f1e0c2d-7a3b-4c9d-8e6f-0123456789ab"
PR = "https://github.com/markmhendrickson/neotoma/pull/1234"
BRANCH = "cursor/fu-101-schema-migration-and-backfill-of-entity-tables-77b1"


def fu(fu_id: str, status: str, **more: Any) -> dict[str, Any]:
    return {"fu_id": fu_id, "status": status, "attempts": 1, **more}


def release(**orchestrator: Any) -> dict[str, Any]:
    """Mid-run: batch 0 landed (FU-100 in 10m, FU-101 in 20m), batch 1 runs three FUs."""
    return {
        "release_id": "v0.1.1",
        "orchestrator": {
            "agent_id": "orch-1",
            "status": "running",
            "current_batch": 1,
            "started_at": "2026-11-30T10:00:00Z",
            **orchestrator,
        },
        "integration_branch": "release/v0.1.1",
        "integration_sha": "4f1c2a9b7e3d5a6b7c8d9e0f1a2b3c4d5e6f7a8b",
        "base_branch": "main",
        "batches": [
            {
                "batch_id": 0,
                "status": "completed",
                "gate": {"status": "passed", "tests": [{"id": "IT-001", "status": "passed"}]},
                "landed_sha": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
                "feature_units": [
                    fu("FU-100", "completed", duration_s=600, merge_commit="c0ffee" + "0" * 34),
                    fu(
                        "FU-101",
                        "completed",
                        duration_s=1200,
                        merge_commit="d00d" + "1" * 36,
                        delivered_branch=BRANCH,
                        pr_url=PR,
                        worker_agent_id=AGENT,
                    ),
                ],
            },
            {
                "batch_id": 1,
                "status": "running",
                "feature_units": [
                    fu(
                        "FU-102",
                        "running",
                        worker_agent_id=AGENT,
                        started_at="2026-11-30T10:30:00Z",
                        run_started_at="2026-11-30T10:30:00Z",
                    ),
                    fu("FU-103", "waiting_for_capacity", started_at="2026-11-30T10:40:00Z"),
                    {"fu_id": "FU-104", "status": "pending"},
                ],
            },
        ],
    }


def render(data: dict[str, Any], renderable: RenderableType | None = None, **kw: Any) -> str:
    snapshot = StatusFile.model_validate(data)
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(
        renderable if renderable is not None else status_report(snapshot, now=NOW, **kw)
    )
    return out.getvalue()


def cells(text: str, fu_id: str) -> list[str]:
    for line in text.splitlines():
        parts = [part.strip() for part in line.split("│")]
        if len(parts) > 2 and parts[1] == fu_id:
            return parts
    raise AssertionError(f"no row for {fu_id} in:\n{text}")


def labels(text: str) -> dict[str, str]:
    """A detail view's `label  value` lines (two spaces or more between them)."""
    found: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        label, _, value = line.strip().partition("  ")
        found[label] = value.strip()
    return found


def test_the_report_fits_80_columns_with_every_fu_on_one_line_and_no_word_cut() -> None:
    text = render(release())
    assert max(len(line) for line in text.splitlines()) <= 80
    fu_lines = [line for line in text.splitlines() if "│ FU-" in line]
    assert len(fu_lines) == 5  # no row spills onto a continuation line
    assert [cells(text, f)[2] for f in ("FU-100", "FU-102", "FU-103")] == [
        "completed",
        "running",
        "waiting",  # waiting_for_capacity, spelled out in the FU's detail
    ]


def test_a_running_fu_shows_how_long_it_has_run() -> None:
    text = render(release())
    assert cells(text, "FU-102")[4] == "12m03s"
    assert cells(text, "FU-100")[4] == "10m00s"  # a finished one: its duration


def test_each_fu_row_shows_its_batchs_gate() -> None:
    text = render(release())
    assert cells(text, "FU-100")[5] == "passed"
    assert cells(text, "FU-102")[5] == "-"


def test_agent_ids_are_shown_whole_on_lines_of_their_own() -> None:
    text = render(release())
    assert f"FU-102 agent {AGENT}" in text.splitlines()
    assert cells(text, "FU-102")[-1] == "agent working"


def test_progress_says_done_of_total_elapsed_and_an_eta_with_how_it_is_computed() -> None:
    lines = render(release(), parallel=2).splitlines()
    assert lines[0] == "v0.1.1 — running (batch 1)"
    # FU-102 ran 12m03s of the 15m mean: 2m57s left; FU-103 and FU-104 15m each; 2 at a time
    assert lines[1] == "landed 2/5 · elapsed 42m03s · ETA ~16m"
    assert lines[2] == "ETA = 3 FUs left × 15m00s (mean agent time of 2 finished) ÷ 2 at once"


def test_the_eta_follows_the_schedules_estimates_at_the_pace_seen_so_far() -> None:
    estimates = {"FU-100": 2.0, "FU-101": 3.0, "FU-102": 4.0, "FU-103": 1.0, "FU-104": 5.0}
    text = render(release(), parallel=2, estimates_h=estimates)
    flat = " ".join(text.split())
    # 6m of agent time per estimated hour; FU-102 24m less 12m03s run, FU-103 6m, FU-104 30m
    assert "landed 2/5 · elapsed 42m03s · ETA ~24m" in text.splitlines()
    assert (
        "ETA = 10h of estimates left (3 FUs) × 6m00s per estimated hour (the pace of 2 "
        "finished) ÷ 2 at once" in flat
    )


def test_a_finished_release_says_how_long_it_took_and_gives_no_eta() -> None:
    data = release(status="failed", completed_at="2026-11-30T11:00:00Z")
    lines = render(data).splitlines()
    assert lines[1] == "landed 2/5 · took 1h00m00s"
    assert not any(line.startswith("ETA") for line in lines)


def test_the_open_question_is_a_sentence_with_the_command_that_answers_it() -> None:
    awaiting = {
        "kind": "batch_failure",
        "batch_id": 1,
        "choices": ["retry", "fix", "skip", "abort"],
        "since": "2026-11-30T10:40:00+00:00",
        "deadline": "2026-11-30T11:10:00+00:00",
        "reason": "FU-102 needs_human: launch failed: repository_access: no access",
    }
    text = render(release(awaiting=awaiting), options="--repo-root ~/src/neotoma")
    flat = " ".join(text.split())
    assert (
        "waiting for you: batch 1 failed: FU-102 needs_human: launch failed: "
        "repository_access: no access" in flat
    )
    assert (
        "answer with: orchd decide v0.1.1 retry|fix|skip|abort --repo-root ~/src/neotoma"
        in text.splitlines()
    )
    assert "answer by 2026-11-30 11:10:00 UTC, or orchd aborts the release" in text.splitlines()


def test_a_checkpoint_asks_to_continue_or_abort() -> None:
    awaiting = {
        "kind": "checkpoint",
        "batch_id": 0,
        "choices": ["continue", "abort"],
        "reason": "v0.1.1: checkpoint mvp_review after batch 0: review before the release goes on",
    }
    text = render(release(awaiting=awaiting))
    flat = " ".join(text.split())
    assert (
        "waiting for you: checkpoint mvp_review after batch 0: review before the release goes on"
        in flat
    )
    assert "answer with: orchd decide v0.1.1 continue|abort" in text.splitlines()


def test_an_fus_detail_shows_its_long_values_whole() -> None:
    data = release()
    text = render(data, fu_detail(StatusFile.model_validate(data), "FU-101", NOW))
    assert text.splitlines()[0] == "FU-101 — completed (batch 0), attempt 1"
    labelled = labels(text)
    assert labelled["agent"] == AGENT
    assert labelled["PR"] == PR
    assert labelled["branch"] == BRANCH
    assert labelled["merge"] == "d00d11111111"


def test_the_detail_of_a_waiting_fu_names_its_status_in_full() -> None:
    data = release()
    text = render(data, fu_detail(StatusFile.model_validate(data), "FU-103", NOW))
    assert text.splitlines()[0] == "FU-103 — waiting_for_capacity (batch 1), attempt 1"


def test_an_fu_is_found_by_its_number() -> None:
    snapshot = StatusFile.model_validate(release())
    assert find_fus(snapshot, "102") == ["FU-102"]
    assert find_fus(snapshot, "fu-102") == ["FU-102"]
    assert find_fus(snapshot, "2") == []  # not the end of FU-102's number
    assert find_fus(snapshot, "999") == []


def test_the_error_log_counts_an_escalation_and_its_batch_failure_once() -> None:
    data = release()
    message = "run ERROR: the agent hit an unrecoverable error; escalated: P2 allows 0 retries"
    data["errors"] = [
        {"at": "2026-11-30T10:20:00Z", "fu_id": "FU-102", "batch_id": 1, "message": message},
        {
            "at": "2026-11-30T10:20:00Z",
            "batch_id": 1,
            "message": f"batch 1 failed: FU-102 needs_human: {message}",
        },
        {"at": "2026-11-30T10:50:00Z", "message": "full suite: integration tests failed"},
    ]
    text = render(data, error_log(StatusFile.model_validate(data)))
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0] == "errors (2 failures)"
    assert lines[1].startswith("10:20:00  batch 1 failed: FU-102 needs_human: run ERROR")
    assert sum(line.startswith("10:20:00") for line in lines) == 1
    assert "10:50:00  full suite: integration tests failed" in lines


def _big(done: int, running: int, pending: int) -> dict[str, Any]:
    def fu(i: int, status: str) -> dict[str, Any]:
        extra = {"worker_agent_id": f"bc-{i:04d}", "attempts": 1} if status == "running" else {}
        return {"fu_id": f"FU-{i:04d}", "status": status, **extra}

    statuses = ["completed"] * done + ["running"] * running + ["pending"] * pending
    return {
        "release_id": "v9.0.0",
        "orchestrator": {"agent_id": "o", "status": "running"},
        "batches": [
            {
                "batch_id": 0,
                "status": "running",
                "feature_units": [fu(i, s) for i, s in enumerate(statuses)],
            }
        ],
    }


def test_a_large_release_lists_the_fus_at_work_and_counts_the_rest() -> None:
    """2,000 rows are neither readable nor quick to draw (issue 12: `orchd status` on 2,000
    FUs took 2.4 s): past the limit, the FUs at work come first and the rest are counted."""
    text = render(_big(done=60, running=10, pending=30), max_fu_rows=40)
    rows = [line for line in text.splitlines() if "│ FU-" in line]
    assert len(rows) == 40
    assert sum("running" in row for row in rows) == 10
    lines = text.splitlines()
    assert "30 FUs completed: FU-0030 … FU-0059" in lines
    assert "30 FUs pending: FU-0070 … FU-0099" in lines
    assert "(`orchd status v9.0.0 --all` lists every FU)" in lines
    agents = [line for line in lines if " agent bc-" in line]
    assert len(agents) == 10  # the long values of the FUs listed only


def test_a_release_within_the_limit_lists_every_fu() -> None:
    text = render(_big(done=20, running=10, pending=10), max_fu_rows=40)
    assert len([line for line in text.splitlines() if "│ FU-" in line]) == 40
    assert "--all" not in text
