"""What the dashboard shows of a status file: timeline bars, agents' links, the question with
the exact `orchd decide` commands that answer it, and alerts[] in whatever shape."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.core.release_view import Place, release_view, unread_view
from orchestrator.core.status_normalise import normalise_status
from orchestrator.models.dashboard import ReleaseView
from tests.dashboard.status_files import AGENT_3, NOW, RELEASE, at, mid_run

PLACE = Place(release_id=RELEASE, location="in_progress", repo_root="/src/app", max_parallel=3)


def _view(data: dict[str, Any], place: Place = PLACE) -> ReleaseView:
    snapshot, notes = normalise_status(data)
    return release_view(snapshot, notes, place, NOW)


def test_timeline_has_a_bar_per_launched_fu_grouped_by_batch() -> None:
    timeline = _view(mid_run()).timeline

    assert [g.batch_id for g in timeline.groups] == ["0", "1", "2"]
    bars = {
        b.fu_id: (b.start_s, b.end_s, b.open, b.attempts) for g in timeline.groups for b in g.bars
    }
    assert bars == {
        "FU-001": (0.0, 700.0, False, 1),  # launch to landing
        "FU-002": (50.0, 1000.0, False, 2),
        "FU-003": (800.0, 1200.0, True, 1),  # still running: ends at now
        "FU-004": (800.0, 1000.0, False, 1),
    }
    assert [g.waiting for g in timeline.groups] == [[], ["FU-005"], ["FU-006"]]
    assert (timeline.span_s, timeline.now_s) == (1200.0, 1200.0)


def test_a_delivered_fus_bar_ends_when_its_agent_delivered() -> None:
    data = mid_run()
    data["batches"][1]["feature_units"][0].update(status="delivered", duration_s=250.0)

    bars = {b.fu_id: b for g in _view(data).timeline.groups for b in g.bars}

    assert (bars["FU-003"].end_s, bars["FU-003"].open) == (1050.0, False)


def test_earlier_attempts_failures_are_marked_on_the_bar() -> None:
    data = mid_run()
    data["errors"].append({"at": at(780), "fu_id": "FU-003", "message": "stale: cancelled"})
    data["batches"][1]["feature_units"][0]["attempts"] = 2

    bar = next(b for g in _view(data).timeline.groups for b in g.bars if b.fu_id == "FU-003")

    assert (bar.attempts, bar.failures_s) == (2, [780.0])


def test_nothing_launched_means_no_timeline() -> None:
    data = mid_run()
    data["orchestrator"]["started_at"] = None
    for batch in data["batches"]:
        for fu in batch["feature_units"]:
            fu["started_at"] = None

    timeline = _view(data).timeline

    assert timeline.origin is None
    assert all(not g.bars for g in timeline.groups)


def test_active_agents_link_to_cursor_and_worker_ids_link_nowhere() -> None:
    data = mid_run()
    data["batches"][2]["feature_units"][0].update(
        status="running", worker_agent_id="worker_fu006_cursor", started_at=at(1100)
    )

    agents = {a.fu_id: a for a in _view(data).active_agents}

    assert agents["FU-003"].agent_url == f"https://cursor.com/agents/{AGENT_3}"
    assert (agents["FU-003"].branch, agents["FU-003"].running_s) == ("cursor/fu-003", 400.0)
    assert agents["FU-003"].pr_url == "https://github.com/acme/app/pull/3"
    assert agents["FU-006"].agent_url is None
    assert set(agents) == {"FU-003", "FU-006"}


def test_an_open_question_comes_with_the_exact_decide_commands() -> None:
    data = mid_run()
    data["orchestrator"]["awaiting"] = {
        "kind": "batch_failure",
        "batch_id": 1,
        "choices": ["retry", "fix", "skip", "abort"],
        "since": at(1000),
        "deadline": None,
        "reason": "FU-004 failed",
    }
    place = Place(release_id=RELEASE, location="in_progress", repo_root="/src/my app")

    question = _view(data, place).awaiting

    assert question is not None
    assert (question.kind, question.batch_id, question.reason) == (
        "batch_failure",
        "1",
        "FU-004 failed",
    )
    assert question.commands == [
        f"orchd decide {RELEASE} {choice} --batch 1 --repo-root '/src/my app'"
        for choice in ("retry", "fix", "skip", "abort")
    ]


def test_a_checkpoint_question_with_a_fractional_batch() -> None:
    data = mid_run()
    data["orchestrator"]["awaiting"] = {
        "kind": "checkpoint",
        "batch_id": 0.5,
        "choices": ["continue", "abort"],
    }

    question = _view(data).awaiting

    assert question is not None
    assert (
        question.commands[0] == f"orchd decide {RELEASE} continue --batch 0.5 --repo-root /src/app"
    )


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            [
                {
                    "kind": "batch_stalled",
                    "message": "no progress for 31 min",
                    "batch_id": 1,
                    "at": at(1190),
                }
            ],
            [("batch_stalled", "no progress for 31 min", "1", None)],
        ),
        (
            [{"type": "agent_timeout", "text": "FU-003 over 120 min", "fu_id": "FU-003"}],
            [("agent_timeout", "FU-003 over 120 min", None, "FU-003")],
        ),
        (
            ["integration tests failed in batch 1"],
            [("alert", "integration tests failed in batch 1", None, None)],
        ),
        ("not a list", []),
        # a null entry is dropped and a batch id that is none is dropped (both noted)
        ([None, {"batch_id": "x"}], [("alert", "", None, None)]),
    ],
)
def test_alerts_are_read_whatever_their_shape(alerts: Any, expected: list[tuple[Any, ...]]) -> None:
    data = mid_run()
    data["alerts"] = alerts

    shown = [(a.kind, a.message, a.batch_id, a.fu_id) for a in _view(data).alerts]

    assert shown == expected


def test_fu_rows_keep_file_order_with_their_branch_pr_and_error() -> None:
    fus = _view(mid_run()).fus

    assert [(f.fu_id, f.batch_id, f.status) for f in fus] == [
        ("FU-001", "0", "completed"),
        ("FU-002", "0", "completed"),
        ("FU-003", "1", "running"),
        ("FU-004", "1", "failed"),
        ("FU-005", "1", "pending"),
        ("FU-006", "2", "pending"),
    ]
    assert fus[3].error == "agent run ERROR: tests failed"
    assert fus[1].pr_url == "https://github.com/acme/app/pull/2"
    assert fus[2].ended_at is None


def test_errors_are_newest_first_and_batches_carry_their_gate() -> None:
    data = mid_run()
    data["errors"].append({"at": at(1100), "message": "full suite: IT-009 failed"})
    data["full_suite"] = {"status": "failed", "tests": [{"id": "IT-009", "status": "failed"}]}

    view = _view(data)

    assert [e.message for e in view.errors] == ["full suite: IT-009 failed", "FU-004 failed: tests"]
    gate = view.batches[0].gate
    assert gate is not None
    assert [(t.id, t.status, t.duration_s) for t in gate.tests] == [("IT-001", "passed", 12.5)]
    assert (view.release_branch.name, view.release_branch.head) == ("release/v0.2.0", "b" * 40)
    assert view.full_suite is not None
    assert (view.full_suite.status, view.full_suite.tests[0].id) == ("failed", "IT-009")


def test_a_release_without_a_status_file_is_listed_as_not_started() -> None:
    view = unread_view(PLACE, "not_started")

    assert (view.status, view.progress.total, view.status_file, view.metrics.max_parallel_fus) == (
        "not_started",
        0,
        None,
        3,
    )
