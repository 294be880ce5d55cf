"""A release in the middle of its run, with numbers a person can check by hand.

At NOW (20 minutes after T0) of release v0.2.0 (max_parallel_fus 3 in its manifest):
batch 0 landed (FU-001: 600 s; FU-002: 900 s on its second attempt); batch 1 runs (FU-003
running since T0+800 s, FU-004 failed, FU-005 pending); batch 2 waits (FU-006). So: 2/6 landed,
1 agent at work (utilization 1/3), failure rate 1/6, retry rate 1/6, mean duration 750 s,
calendar 1200 s against a sequential 600+900+400 = 1900 s (700 s saved), ETA
max((350+750+750)/3, 750) = 750 s, batch 1 last moved at T0+1100 s (100 s ago).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2025, 1, 6, 10, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=1200)
RELEASE = "v0.2.0"
AGENT_3 = "bc-00000000-0000-4000-8000-000000000003"


def at(seconds: float, t0: datetime = T0) -> str:
    return (t0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def twenty_minutes_ago() -> datetime:
    """T0 for a release served live: the page then reads as it would during a real run."""
    return datetime.now(UTC) - timedelta(seconds=1200)


def _fu(fu_id: str, status: str, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "fu_id": fu_id,
        "worker_agent_id": None,
        "status": status,
        "progress": 0.0,
        "started_at": None,
        "last_update": None,
        "attempts": 0,
    }
    entry.update(fields)
    return entry


def mid_run(t0: datetime = T0) -> dict[str, Any]:
    def stamp(seconds: float) -> str:
        return at(seconds, t0)

    return {
        "release_id": RELEASE,
        "orchestrator": {
            "agent_id": "orchd_1",
            "started_at": stamp(0),
            "current_batch": 1,
            "status": "running",
            "pid": 4242,
        },
        "batches": [
            {
                "batch_id": 0,
                "status": "completed",
                "started_at": stamp(0),
                "completed_at": stamp(1000),
                "feature_units": [
                    _fu(
                        "FU-001",
                        "completed",
                        worker_agent_id="bc-00000000-0000-4000-8000-000000000001",
                        started_at=stamp(0),
                        last_update=stamp(700),
                        completed_at=stamp(700),
                        duration_s=600.0,
                        attempts=1,
                        progress=1.0,
                        branch="cursor/fu-001",
                        merge_commit="a" * 40,
                    ),
                    _fu(
                        "FU-002",
                        "completed",
                        worker_agent_id="bc-00000000-0000-4000-8000-000000000002",
                        started_at=stamp(50),
                        last_update=stamp(1000),
                        completed_at=stamp(1000),
                        duration_s=900.0,
                        attempts=2,
                        progress=1.0,
                        branch="cursor/fu-002",
                        pr_url="https://github.com/acme/app/pull/2",
                    ),
                ],
                "gate": {
                    "status": "passed",
                    "tests": [{"id": "IT-001", "status": "passed", "duration_s": 12.5}],
                },
                "landed_sha": "b" * 40,
            },
            {
                "batch_id": 1,
                "status": "running",
                "started_at": stamp(800),
                "feature_units": [
                    _fu(
                        "FU-003",
                        "running",
                        worker_agent_id=AGENT_3,
                        started_at=stamp(800),
                        last_update=stamp(1100),
                        attempts=1,
                        progress=0.5,
                        branch="cursor/fu-003",
                        pr_url="https://github.com/acme/app/pull/3",
                    ),
                    _fu(
                        "FU-004",
                        "failed",
                        worker_agent_id="bc-00000000-0000-4000-8000-000000000004",
                        started_at=stamp(800),
                        last_update=stamp(1000),
                        completed_at=stamp(1000),
                        duration_s=200.0,
                        attempts=1,
                        error="agent run ERROR: tests failed",
                    ),
                    _fu("FU-005", "pending"),
                ],
            },
            {"batch_id": 2, "status": "pending", "feature_units": [_fu("FU-006", "pending")]},
        ],
        "errors": [
            {"at": stamp(1000), "fu_id": "FU-004", "batch_id": 1, "message": "FU-004 failed: tests"}
        ],
        "completed_fus": ["FU-001", "FU-002"],
        "integration_branch": "release/v0.2.0",
        "integration_sha": "b" * 40,
        "base_branch": "main",
    }


MANIFEST = """\
release:
  id: {release}
  name: test
  status: in_progress
execution_strategy:
  type: multi_agent
  max_parallel_fus: 3
feature_units: []
"""


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """As orchd's writer does: a whole new file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def make_repo(root: Path, t0: datetime = T0) -> Path:
    """A repo with v0.2.0 in progress (manifest + status), v0.1.0 finished in docs/releases
    (status only), and v0.3.0 planned (manifest only, no status file yet)."""
    releases = root / "docs" / "releases"
    current = releases / "in_progress" / RELEASE
    current.mkdir(parents=True)
    (current / "manifest.yaml").write_text(MANIFEST.format(release=RELEASE))
    write_atomically(current / "agent_status.json", mid_run(t0))
    done = mid_run(t0)
    done["release_id"] = "v0.1.0"
    done["orchestrator"].update(status="completed", completed_at=at(1500, t0))
    for batch in done["batches"]:
        batch["status"] = "completed"
        for fu in batch["feature_units"]:
            fu.update(status="completed", started_at=fu["started_at"] or at(1000, t0))
            fu.update(completed_at=fu.get("completed_at") or at(1500, t0), attempts=1)
    write_atomically(releases / "v0.1.0" / "agent_status.json", done)
    planned = releases / "in_progress" / "v0.3.0"
    planned.mkdir(parents=True)
    (planned / "manifest.yaml").write_text(MANIFEST.format(release="v0.3.0"))
    return current / "agent_status.json"
