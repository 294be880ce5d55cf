"""The line `systemctl status orchd@<release>` shows: where the release is, from the status file."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.core.service_status import service_status
from orchestrator.models.status import StatusFile


def _file(
    release: str = "running",
    batches: list[tuple[Any, str, list[str]]] | None = None,
    awaiting: dict[str, Any] | None = None,
) -> StatusFile:
    """`batches`: (batch id, batch status, FU statuses)."""
    return StatusFile.model_validate(
        {
            "release_id": "v0.1.1",
            "orchestrator": {"agent_id": "orchd_1", "status": release, "awaiting": awaiting},
            "batches": [
                {
                    "batch_id": batch_id,
                    "status": status,
                    "feature_units": [
                        {"fu_id": f"FU-{batch_id}-{i}", "status": s} for i, s in enumerate(fus)
                    ],
                }
                for batch_id, status, fus in batches or []
            ],
        }
    )


LANDED_1 = (1, "completed", ["completed", "completed"])


@pytest.mark.parametrize(
    ("snapshot", "line"),
    [
        (
            _file(batches=[LANDED_1, (2, "running", ["running", "launching", "retrying"])]),
            "batch 2: 3 running, 2/5 landed",
        ),
        (
            _file(batches=[(0.5, "running", ["running"]), (3, "running", ["running", "pending"])]),
            "batches 0.5, 3: 2 running, 0/3 landed",
        ),
        (
            _file(batches=[LANDED_1, (2, "gating", ["merged", "merged"])]),
            "batch 2: gate running, 2/4 landed",
        ),
        (
            _file(batches=[(1, "gating", ["merged"]), (2, "running", ["running", "pending"])]),
            "batches 1, 2: 1 running, gate running on 1, 0/3 landed",
        ),
        (
            _file(
                batches=[LANDED_1, (2, "awaiting_decision", ["needs_human", "merged"])],
                awaiting={
                    "kind": "batch_failure",
                    "batch_id": 2,
                    "choices": ["retry", "fix", "skip", "abort"],
                },
            ),
            "waiting for you (batch 2 failed): orchd decide v0.1.1 retry|fix|skip|abort; "
            "0 running, 2/4 landed",
        ),
        (
            _file(
                batches=[LANDED_1],
                awaiting={"kind": "checkpoint", "batch_id": 1, "choices": ["continue", "abort"]},
            ),
            "waiting for you (checkpoint after batch 1): orchd decide v0.1.1 continue|abort; "
            "0 running, 2/2 landed",
        ),
        (_file(batches=[(0, "pending", ["pending"] * 3)]), "0 running, 0/3 landed"),
        (
            _file("detached", [LANDED_1, (2, "running", ["running", "running"])]),
            "detached: 2 agent(s) left running, 2/4 landed (`orchd start v0.1.1` adopts them)",
        ),
        (_file("completed", [LANDED_1]), "release completed: 2/2 landed"),
        (
            _file("aborted", [LANDED_1, (2, "cancelled", ["cancelled"])]),
            "release aborted: 2/3 landed",
        ),
    ],
)
def test_the_status_line_says_where_the_release_is(snapshot: StatusFile, line: str) -> None:
    assert service_status(snapshot) == line
