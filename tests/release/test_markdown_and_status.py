"""Markdown parsers and status-file normalisation on the shapes neotoma really writes."""

from __future__ import annotations

from decimal import Decimal

from orchestrator.core.integration_md import parse_integration_md
from orchestrator.core.schedule_md import parse_schedule_md
from orchestrator.core.status_normalise import normalise_status

SECTIONS = """## Plan
| Batch ID | Feature Units | Dependencies |
| -------- | ------------- | ------------ |
| 0        | FU-000        | None         |
| 0.5      | FU-050        | FU-000       |

#### Batch 0: Infra
**Feature Units:**
- `FU-000`: Schema
#### Batch 0.5: Foundation
**Feature Units:**
- `FU-050`: Events
**Dependencies:** FU-000
### Next
"""


def test_batch_sections_keep_half_batches_and_dependencies() -> None:
    schedule = parse_schedule_md(SECTIONS)
    assert schedule.origin == "batch sections"
    assert [(b.batch_id, b.feature_units, b.dependencies, b.line) for b in schedule.batches] == [
        (Decimal(0), ("FU-000",), (), 7),
        (Decimal("0.5"), ("FU-050",), ("FU-000",), 10),
    ]
    assert schedule.fu_titles == {"FU-000": "Schema", "FU-050": "Events"}
    assert schedule.notes == ()


def test_bold_ids_and_dependency_lists_are_told_apart() -> None:
    text = (
        "### Batch 3\n\n**Feature Units:**\n\n- **FU-853**: RPC\n\n"
        "**Dependencies:**\n\n- `FU-852` (x)\n"
    )
    (batch,) = parse_schedule_md(text).batches
    assert (batch.feature_units, batch.dependencies) == (("FU-853",), ("FU-852",))


def test_machine_readable_section_wins_over_other_batch_text() -> None:
    text = (
        "### Machine-Readable Batches (Orchestrator)\n#### Batch 0: A\n- `FU-1`\n"
        "### Phase 1\n#### Batch 7: B\n- `FU-9`\n"
    )
    schedule = parse_schedule_md(text)
    assert schedule.origin == "machine-readable section"
    assert [b.feature_units for b in schedule.batches] == [("FU-1",)]


def test_overview_table_alone_gives_batches_and_disagreement_is_noted() -> None:
    table_only = SECTIONS.split("#### Batch 0")[0]
    assert [b.batch_id for b in parse_schedule_md(table_only).batches] == [
        Decimal(0),
        Decimal("0.5"),
    ]
    disagreeing = SECTIONS.replace("| 0.5      | FU-050", "| 0.5      | FU-051")
    assert parse_schedule_md(disagreeing).notes[0][0] == 4  # the table's first row


def test_integration_tests_take_batches_from_matrix_and_lines_and_commands() -> None:
    text = (
        "| ID | Name | Batches Covered |\n|----|------|----|\n| IT-001 | Flow | 0.5, 6.6 |\n"
        '#### IT-001: Flow test\n**test:** "tests/a.test.ts"\n'
        "### IT-002: Other\n**Batches Covered:** 1, 2\n- **Command**:\n```bash\nnpm test\n```\n"
    )
    tests = parse_integration_md(text, file="it.md")
    assert [(t.id, t.name, t.batches, t.command) for t in tests] == [
        ("IT-001", "Flow test", (Decimal("0.5"), Decimal("6.6")), "tests/a.test.ts"),
        ("IT-002", "Other", (Decimal(1), Decimal(2)), "npm test"),
    ]


def test_worker_written_status_is_normalised_with_notes() -> None:
    raw = {
        "release_id": "v0.2.0",
        "orchestrator": {"agent_id": "orch_1", "started_at": "2025-12-18T12:58:15.948Z",
                         "current_batch": 0, "status": "running"},
        "batches": [
            {"batch_id": 0, "status": "running", "feature_units": [
                {"fu_id": "FU-110", "worker_agent_id": "gpt-5.1-codex", "status": "blocked",
                 "progress": 50, "started_at": "2025-12-18T13:34:36.884940",
                 "notes": {"k": "v"}},
            ]},
            {"batch_id": 0, "feature_units": []},
        ],
        "errors": [{"timestamp": "2025-12-19T17:50:00.000Z", "fu_id": "FU-110", "message": "m"}],
        "completed_fus": [{"fu_id": "FU-110", "status": "completed"}],
        "extra_top": 1,
    }  # fmt: skip
    status, notes = normalise_status(raw)
    entry = status.fu_entry("FU-110")
    assert entry is not None
    assert (entry.status, entry.progress) == ("blocked", 0.5)
    assert entry.started_at is not None
    assert entry.started_at.tzinfo is not None
    assert status.errors[0].at is not None
    assert status.completed_fus == ["FU-110"]
    assert status.model_extra == {"extra_top": 1}
    joined = "\n".join(notes)
    for oddity in (
        "not a Cursor agent id",
        "not by orchd",
        "percentage",
        "no time zone",
        "appears 2 times",
        "'timestamp' instead of 'at'",
        "objects, not FU ids",
    ):
        assert oddity in joined  # fmt: skip


def test_hand_edited_plan_facts_that_make_no_sense_are_dropped_with_a_note() -> None:
    raw = {
        "release_id": "v0.2.0",
        "orchestrator": {"agent_id": "orchd_1", "status": "running", "max_parallel_fus": 0},
        "batches": [
            {"batch_id": 0, "feature_units": [
                {"fu_id": "FU-110", "estimate_h": -2},
                {"fu_id": "FU-111", "estimate_h": "3h"},
                {"fu_id": "FU-112", "estimate_h": 2.5},
            ]},
        ],
    }  # fmt: skip
    status, notes = normalise_status(raw)
    assert status.orchestrator.max_parallel_fus is None
    estimates = [fu.estimate_h for fu in status.batches[0].feature_units]
    assert estimates == [None, None, 2.5]
    joined = "\n".join(notes)
    assert "max_parallel_fus: 0 is not a count above 0" in joined
    assert "FU-110].estimate_h: -2.0 is not above 0" in joined
    assert "FU-111].estimate_h: expected a number" in joined
