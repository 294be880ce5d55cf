"""`orchd watch` when its output is not a terminal (a pipe, a log): the report, then the exit
code of the state the release ended in. The terminal view is tested under tmux (tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli import app


def _release(tmp_path: Path, status: str) -> None:
    folder = tmp_path / "docs/releases/in_progress/v0.3.0"
    folder.mkdir(parents=True)
    data = {
        "release_id": "v0.3.0",
        "orchestrator": {"agent_id": "orch-1", "status": status, "current_batch": 0},
        "batches": [
            {
                "batch_id": 0,
                "status": "failed",
                "feature_units": [{"fu_id": "FU-201", "status": "needs_human", "attempts": 2}],
            }
        ],
    }
    (folder / "agent_status.json").write_text(json.dumps(data))


def test_watch_of_a_release_that_ended_prints_it_and_exits_with_its_state(tmp_path: Path) -> None:
    _release(tmp_path, "failed")
    result = CliRunner().invoke(app, ["watch", "v0.3.0", "--repo-root", str(tmp_path)])
    assert result.stdout.startswith("v0.3.0 — failed (batch 0)\nlanded 0/1 (1 needs_human)\n")
    assert result.exit_code == 1


def test_watch_of_an_unknown_release_says_so_and_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["watch", "v9.9.9", "--repo-root", str(tmp_path)])
    assert result.exit_code == 2
    assert "release: not found" in result.stderr
