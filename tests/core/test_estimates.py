"""FU estimates as neotoma writes them: schedule tables, bullet lists, the FU's own entry.

Issue 12: the slot policy and `orchd plan` need each FU's expected duration; neotoma's v0.1.0
writes 21 of its 28 FUs' estimates in a list (in days), v0.2.0 in tables (in hour ranges).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.release_loader import load_release
from orchestrator.core.estimates import (
    estimate_from_entry,
    estimates_from_markdown,
    parse_duration,
    plan_durations_h,
)

NEOTOMA = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "neotoma"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2-3h", (2.5, "h")),
        ("0.5 days (already complete)", (4.0, "d")),
        ("1 day (entity resolution, 6-8 hours per MVP)", (8.0, "d")),
        ("45 min", (0.75, "h")),
        ("1 week", (40.0, "h")),
        ("Low", None),
        ("Database Schema v1.0", None),
    ],
)
def test_durations_are_read_as_written(text: str, expected: tuple[float, str] | None) -> None:
    assert parse_duration(text) == expected


def test_a_list_with_a_range_of_fus_gives_each_its_estimate() -> None:
    text = "### Timeline\n- FU-050: 2 days (foundation)\n- FU-201-203: 0.5 days each\n"
    found = estimates_from_markdown(text, file="schedule.md")
    assert {k: v[0].hours for k, v in found.items()} == {
        "FU-050": 16.0,
        "FU-201": 4.0,
        "FU-202": 4.0,
        "FU-203": 4.0,
    }
    assert found["FU-202"][0].where == "schedule.md:3"


def test_a_table_row_per_fu_is_read_and_a_batch_row_is_not() -> None:
    text = (
        "| Batch | Feature Units | Estimated Effort |\n|---|---|---|\n| 0 | FU-1, FU-2 | 3h |\n\n"
        "| FU | Name | Est. Time |\n|----|------|-----------|\n| FU-110 | Sources | 2-3h |\n"
    )
    found = estimates_from_markdown(text, file="s.md")
    assert {k: v[0].hours for k, v in found.items()} == {"FU-110": 2.5}


def test_an_fu_entry_estimate_is_read_in_hours_or_as_written() -> None:
    assert estimate_from_entry("FU-1", {"estimate": "1.5 days"}) is not None
    assert estimate_from_entry("FU-1", {"estimate": "1.5 days"})[0].hours == 12.0  # type: ignore[index]
    assert estimate_from_entry("FU-1", {"estimated_hours": 3})[0].hours == 3.0  # type: ignore[index]
    assert estimate_from_entry("FU-1", {"priority": "P0"}) is None


def test_neotoma_v0_1_0_has_21_of_28_estimates_and_a_21_day_sequential_sum() -> None:
    plan = load_release("v0.1.0", repo_root=NEOTOMA / "head")
    known = [u for u in plan.feature_units if u.estimate_hours]
    assert len(plan.feature_units) == 28
    assert len(known) == 21
    assert plan.fu("FU-101").estimate_hours == 8.0  # "1 day", not its "6-8 hours" remark
    assert plan.fu("FU-204").estimate_hours == 4.0  # from "FU-201-206: 0.5 days each"
    assert plan.estimate_unit == "d"
    # the rest get the median (0.5 day): 21.0 days in all, as issue 12 measured
    assert sum(plan_durations_h(plan).values()) / 8 == 21.0


def test_neotoma_v0_2_0_reads_its_hour_ranges() -> None:
    plan = load_release("v0.2.0", repo_root=NEOTOMA / "2a9e9b0")
    assert plan.fu("FU-121").estimate_hours == 7.0  # "6-8h"
    assert plan.estimate_unit == "h"
    assert sum(plan_durations_h(plan).values()) == 43.5  # FU-112 is deferred
