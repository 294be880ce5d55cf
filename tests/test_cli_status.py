"""`orchd status` on the status files neotoma's workers really wrote, and on a missing one.

The fixture folders are worker branches: most hold only `agent_status.json` (no manifest), and
v0.2.0's manifest names a status_file path that does not exist. `orchd status` must still show
them, say what is odd on stderr, and print them unchanged with `--json`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orchestrator.adapters.release_lock import pid_path
from orchestrator.cli import app

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "neotoma"
# exit codes: the release's state (README "orchd status")
COMPLETED, FAILED, NO_SUCH_RELEASE, ABORTED, RUNNING, WAITING, STOPPED = 0, 1, 2, 3, 10, 11, 12
STATUS = "docs/releases/in_progress/v0.2.0/agent_status.json"

# folder → what a user must be told about the file (each a fragment of one stderr note)
ODD = {
    "c082195": ["[FU-113]: worker_agent_id 'worker_fu113_cursor' is not a Cursor agent id"],
    "0cd2087": [
        "[FU-110]: worker_agent_id 'gpt-5.1-codex' is not a Cursor agent id",
        "completed_fus: 1 entries are objects, not FU ids",
    ],
    "a01fd08": ["[FU-110]: worker_agent_id 'cursor_worker_fu_110' is not a Cursor agent id"],
    "ccf4c28": [
        "[FU-112]: worker_agent_id 'worker_fu112_deferred' is not a Cursor agent id",
        "[FU-112]: status 'deferred' was written by a worker or by hand",
    ],
    "de3aa4e": [
        "[FU-110]: status 'blocked' was written by a worker or by hand",
        "errors[0]: uses 'timestamp' instead of 'at'",
        "errors[1]: uses 'timestamp' instead of 'at'",
    ],
    "2a9e9b0": [
        "docs/releases/v0.2.0/agent_status.json (the manifest's status_file) does not exist; "
        f"showing {FIXTURES / '2a9e9b0' / STATUS}"
    ],
}
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="neotoma fixtures not present")


def _status(*args: str) -> Result:
    return CliRunner().invoke(app, ["status", *args])


def _table_rows(stdout: str) -> dict[str, str]:
    """FU id → status as the table shows them (continuation lines have no FU cell)."""
    rows: dict[str, str] = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 2 and cells[1].startswith("FU-"):
            rows[cells[1]] = cells[2]
    return rows


@needs_fixtures
@pytest.mark.parametrize("folder", sorted(ODD))
def test_status_shows_every_fu_of_a_worker_written_file_and_notes_what_is_odd(
    folder: str,
) -> None:
    raw = json.loads((FIXTURES / folder / STATUS).read_text())
    written = {fu["fu_id"]: fu["status"] for b in raw["batches"] for fu in b["feature_units"]}

    result = _status("v0.2.0", "--repo-root", str(FIXTURES / folder))

    assert result.exit_code == STOPPED, result.stderr  # "running", with no orchd running it
    assert result.stdout.startswith("v0.2.0 — running (batch 0)")
    assert _table_rows(result.stdout) == written
    notes = result.stderr.splitlines()
    assert all(line.startswith("note: ") for line in notes), notes
    for fragment in ODD[folder]:
        assert sum(fragment in line for line in notes) == 1, (fragment, notes)
    assert "note:" not in result.stdout


@needs_fixtures
def test_status_reports_the_workers_recorded_errors() -> None:
    result = _status("v0.2.0", "--repo-root", str(FIXTURES / "de3aa4e"))
    assert result.exit_code == STOPPED
    assert "2 failures recorded; last: Database schema incomplete" in result.stdout


@needs_fixtures
@pytest.mark.parametrize("folder", sorted(ODD))
def test_status_json_prints_the_file_byte_for_byte(folder: str) -> None:
    result = _status("v0.2.0", "--repo-root", str(FIXTURES / folder), "--json")
    assert result.exit_code == STOPPED, result.stderr
    assert result.stdout_bytes == (FIXTURES / folder / STATUS).read_bytes()


def test_status_without_a_status_file_exits_2_with_one_line(tmp_path: Path) -> None:
    with resources.as_file(resources.files("orchestrator").joinpath("data/demo")) as src:
        shutil.copytree(src, tmp_path / "repo")

    result = _status("v0.1.0", "--repo-root", str(tmp_path / "repo"))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "agent_status.json: no status file yet (run `orchd start v0.1.0`)" in result.stderr


def test_status_of_an_unknown_release_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _status("v9.9.9", "--repo-root", str(tmp_path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "release: not found" in result.stderr


def test_status_refuses_a_path_as_release_id(tmp_path: Path) -> None:
    (tmp_path / "docs/releases/x").mkdir(parents=True)
    (tmp_path / "docs/releases/x/agent_status.json").write_text("{}")
    result = _status("../releases/x", "--repo-root", str(tmp_path / "docs"))
    assert result.exit_code == 2
    assert "not a version-like release id" in result.stderr


# A status file orchd writes once FUs land on a release branch (sha fields are full 40 hex).
HEAD = "4f1c2a9b7e3d5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
MERGE = "c0ffee1234567890abcdef1234567890abcdef12"
KEPT = "cursor/fu-202-search-index-51aa"
RELEASE_FILE = {
    "release_id": "v0.3.0",
    "orchestrator": {"agent_id": "orch-1", "status": "failed", "current_batch": 1},
    "integration_branch": "release/v0.3.0",
    "integration_sha": HEAD,
    "base_branch": "main",
    "completed_fus": ["FU-201"],
    "batches": [
        {
            "batch_id": 0,
            "status": "completed",
            "landed_sha": HEAD,
            "gate": {"status": "no_tests", "tests": []},
            "feature_units": [
                {
                    "fu_id": "FU-201",
                    "status": "completed",
                    "attempts": 1,
                    "duration_s": 300,
                    "branch": "cursor/fu-201-auth-4e2a",
                    "delivered_branch": "cursor/fu-201-auth-4e2a",
                    "delivered_sha": "e" * 40,
                    "merge_commit": MERGE,
                    "landed_at": "2026-11-30T10:20:00Z",
                }
            ],
        },
        {
            "batch_id": 1,
            "status": "skipped",
            "gate": {"status": "failed", "tests": [{"id": "IT-007", "status": "failed"}]},
            "feature_units": [
                {
                    "fu_id": "FU-202",
                    "status": "deferred",
                    "attempts": 1,
                    "branch": KEPT,
                    "delivered_branch": KEPT,
                    "error": f"deferred: batch skipped (IT-007 failed); its branch {KEPT} is kept",
                }
            ],
        },
    ],
}


def _release_branch_status(tmp_path: Path) -> Result:
    folder = tmp_path / "docs/releases/in_progress/v0.3.0"
    folder.mkdir(parents=True)
    (folder / "agent_status.json").write_text(json.dumps(RELEASE_FILE, indent=2))
    return _status("v0.3.0", "--repo-root", str(tmp_path))


def _row(stdout: str, key: str) -> list[str]:
    """The cells of an FU's row (`FU-201`) or of a batch's row in the batch table (`0`)."""
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) < 3:
            continue
        if cells[1] == key or (cells[0] == key and not cells[1].startswith("FU-")):
            return cells
    raise AssertionError(f"no row for {key} in:\n{stdout}")


def test_status_shows_a_gate_with_no_tests_as_passed_with_no_tests_ran(tmp_path: Path) -> None:
    result = _release_branch_status(tmp_path)
    assert result.exit_code == FAILED, result.stderr
    assert result.stdout.startswith("v0.3.0 — failed (batch 1)\n")
    assert _row(result.stdout, "0")[1:3] == ["completed", "passed (no tests ran)"]
    assert _row(result.stdout, "1")[1:3] == ["skipped", "failed: IT-007"]


def test_status_lists_a_deferred_fus_kept_branch(tmp_path: Path) -> None:
    result = _release_branch_status(tmp_path)
    assert result.exit_code == FAILED, result.stderr
    assert _row(result.stdout, "FU-202")[2] == "deferred"
    assert _row(result.stdout, "FU-202")[-1] == "branch kept"
    assert f"FU-202: deferred: batch skipped (IT-007 failed); its branch {KEPT} is kept" in (
        " ".join(result.stdout.split())
    )


def test_status_fits_80_columns(tmp_path: Path) -> None:
    """Was: `completed` wrapped as `complete`/`d`, PR links over 5 lines, agent ids cut."""
    result = _release_branch_status(tmp_path)
    assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    assert _row(result.stdout, "FU-201")[2] == "completed"
    assert result.exit_code == FAILED, result.stderr


def test_status_names_the_release_branch_and_its_head(tmp_path: Path) -> None:
    result = _release_branch_status(tmp_path)
    assert result.exit_code == FAILED, result.stderr
    assert result.stdout.splitlines()[2] == (
        "release branch release/v0.3.0 at 4f1c2a9b7e3d (base main)"
    )


def test_status_shows_a_landed_fus_short_merge_commit_and_the_batchs_landed_sha(
    tmp_path: Path,
) -> None:
    result = _release_branch_status(tmp_path)
    assert result.exit_code == FAILED, result.stderr
    assert _row(result.stdout, "FU-201")[2] == "completed"
    assert _row(result.stdout, "FU-201")[-1] == "c0ffee123456"
    assert _row(result.stdout, "0")[-1] == "4f1c2a9b7e3d"


def test_status_does_not_call_a_deferral_orchd_recorded_itself_a_workers(tmp_path: Path) -> None:
    result = _release_branch_status(tmp_path)
    assert result.exit_code == FAILED, result.stderr
    assert "deferred" in result.stdout
    assert "written by a worker or by hand" not in result.stderr


# --- the exit code says the release's state; the open question names its answer -------------


def _write(tmp_path: Path, orchestrator: dict[str, Any], **top: Any) -> Path:
    data = {
        **RELEASE_FILE,
        "orchestrator": {"agent_id": "orch-1", "current_batch": 1, **orchestrator},
        **top,
    }
    folder = tmp_path / "docs/releases/in_progress/v0.3.0"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent_status.json"
    path.write_text(json.dumps(data))
    return path


@contextlib.contextmanager
def _orchd_running(status_path: Path, state_dir: Path | None = None) -> Iterator[None]:
    """Hold the release lock as a running orchd does (an flock on `orchd.pid` in the release's
    folder of orchd's state dir)."""
    pid_file = pid_path(status_path, state_dir)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(pid_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


AWAITING = {
    "kind": "batch_failure",
    "batch_id": 1,
    "choices": ["retry", "fix", "skip", "abort"],
    "reason": "FU-202 needs_human: launch failed: repository_access: no access",
}


@pytest.mark.parametrize(
    ("orchestrator", "orchd_runs", "code"),
    [
        ({"status": "failed"}, False, FAILED),
        ({"status": "aborted"}, False, ABORTED),
        ({"status": "running", "pid": 1}, True, RUNNING),
        ({"status": "running", "pid": 1, "awaiting": AWAITING}, True, WAITING),
        ({"status": "running", "pid": 1}, False, STOPPED),  # crashed or killed
        ({"status": "running", "awaiting": AWAITING}, False, STOPPED),  # nobody to answer
    ],
)
def test_status_exit_code_says_the_release_state(
    tmp_path: Path, orchestrator: dict[str, Any], orchd_runs: bool, code: int
) -> None:
    path = _write(tmp_path, orchestrator)
    with _orchd_running(path) if orchd_runs else contextlib.nullcontext():
        result = _status("v0.3.0", "--repo-root", str(tmp_path))
        as_json = _status("v0.3.0", "--repo-root", str(tmp_path), "--json")
    assert (result.exit_code, as_json.exit_code) == (code, code), result.stdout
    if orchd_runs:
        assert f"orchd (pid {os.getpid()}) is running this release" in result.stdout
    if code == STOPPED:
        assert "no orchd is running this release; `orchd start v0.3.0` resumes it" in (
            result.stdout.splitlines()
        )


def test_a_detached_release_says_its_agents_kept_running_and_start_adopts_them(
    tmp_path: Path,
) -> None:
    _write(tmp_path, {"status": "detached"})
    result = _status("v0.3.0", "--repo-root", str(tmp_path))
    assert result.exit_code == STOPPED
    assert (
        "detached: its agents kept running; `orchd start v0.3.0` adopts them"
        in result.stdout.splitlines()
    )


def test_status_looks_for_the_running_orchd_in_the_state_dir_it_is_given(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, {"status": "running", "pid": 1})
    state = tmp_path / "service-state"
    with _orchd_running(path, state):
        given = _status("v0.3.0", "--repo-root", str(tmp_path), "--state-dir", str(state))
        default = _status("v0.3.0", "--repo-root", str(tmp_path))
    assert given.exit_code == RUNNING, given.stdout
    assert default.exit_code == STOPPED, default.stdout


def test_the_open_question_comes_with_the_exact_command_that_answers_it(tmp_path: Path) -> None:
    path = _write(tmp_path, {"status": "running", "pid": 1, "awaiting": AWAITING})
    with _orchd_running(path):
        result = _status("v0.3.0", "--repo-root", str(tmp_path))
    lines = result.stdout.splitlines()
    assert (
        "waiting for you: batch 1 failed: FU-202 needs_human: launch failed: repository_access: "
        "no access" in " ".join(result.stdout.split())
    )
    assert f"answer with: orchd decide v0.3.0 retry|fix|skip|abort --repo-root {tmp_path}" in lines
    assert "awaiting: {" not in result.stdout  # was the raw JSON
    assert result.exit_code == WAITING


def test_status_shows_one_fu_in_full_by_its_number(tmp_path: Path) -> None:
    _write(tmp_path, {"status": "failed"})
    result = _status("v0.3.0", "202", "--repo-root", str(tmp_path))
    assert result.exit_code == FAILED
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == "FU-202 — deferred (batch 1), attempt 1"
    assert f"branch {KEPT}" in lines


def test_status_of_an_unknown_fu_lists_the_releases_fus(tmp_path: Path) -> None:
    _write(tmp_path, {"status": "failed"})
    result = _status("v0.3.0", "FU-999", "--repo-root", str(tmp_path))
    assert result.exit_code == NO_SUCH_RELEASE
    assert result.stderr == "orchd: FU-999: is not one of: FU-201, FU-202\n"


def test_one_escalation_counts_as_one_failure(tmp_path: Path) -> None:
    """Was `2 error(s)`: the FU's error and its batch's failure quoting it are one failure."""
    message = "run ERROR: The agent hit an unrecoverable error.; escalated: P2 allows 0 retries"
    errors = [
        {"at": "2026-11-30T10:10:00Z", "fu_id": "FU-202", "batch_id": 1, "message": message},
        {
            "at": "2026-11-30T10:10:00Z",
            "fu_id": None,
            "batch_id": 1,
            "message": f"batch 1 failed: FU-202 needs_human: {message}",
        },
    ]
    _write(tmp_path, {"status": "failed"}, errors=errors)
    result = _status("v0.3.0", "--repo-root", str(tmp_path))
    assert "1 failure recorded; last: batch 1 failed: FU-202 needs_human: run ERROR" in (
        " ".join(result.stdout.split())
    )
    assert "error(s)" not in result.stdout


def test_statuses_orchd_wrote_are_not_called_a_workers(tmp_path: Path) -> None:
    """Was `status 'deferred' was written by a worker or by hand` for orchd's own entries; an
    entry carrying orchd's fields is orchd's, whatever its status and error say."""
    data = json.loads(json.dumps(RELEASE_FILE))
    units = data["batches"][1]["feature_units"]
    units[0]["error"] = "cancelled: its batch failed"  # deferred later, reason overwritten
    units.append({"fu_id": "FU-203", "status": "blocked", "attempts": 0, "run_id": None})
    units.append({"fu_id": "FU-204", "status": "delivered", "progress": 1})  # by hand
    folder = tmp_path / "docs/releases/in_progress/v0.3.0"
    folder.mkdir(parents=True)
    (folder / "agent_status.json").write_text(json.dumps(data))
    result = _status("v0.3.0", "--repo-root", str(tmp_path))
    written_by_hand = [line for line in result.stderr.splitlines() if "by hand" in line]
    assert written_by_hand == [
        "note: batches[1].feature_units[2][FU-204]: status 'delivered' was written by a worker "
        "or by hand, not by orchd"
    ]


def test_the_eta_uses_the_plans_estimates_and_parallelism(tmp_path: Path) -> None:
    """neotoma v0.1.0's schedule estimates FU-000 at 0.5 days and FU-002 at 0.25; they took
    40m and 20m of agent time: 10m per estimated hour for the 26 FUs left, 3 at a time."""
    with resources.as_file(resources.files("orchestrator").joinpath("data/demo")) as src:
        shutil.copytree(src, tmp_path / "repo")
    done = {"status": "delivered", "attempts": 1}
    data = {
        "release_id": "v0.1.0",
        "orchestrator": {"agent_id": "o", "status": "running", "current_batch": 0},
        "batches": [
            {
                "batch_id": 0,
                "feature_units": [
                    {"fu_id": "FU-000", **done, "run_time_s": 2400},
                    {"fu_id": "FU-002", **done, "run_time_s": 1200},
                ],
            },
            *({"batch_id": i + 1, "feature_units": [{"fu_id": f"FU-9{i:02d}"}]} for i in range(26)),
        ],
    }
    folder = tmp_path / "repo/docs/releases/in_progress/v0.1.0"
    (folder / "agent_status.json").write_text(json.dumps(data))
    result = _status("v0.1.0", "--repo-root", str(tmp_path / "repo"))
    flat = " ".join(result.stdout.split())
    assert "of estimates left (26 FUs) × 10m00s per estimated hour (the pace of 2 finished)" in (
        flat
    )
    assert "÷ 3 at once" in flat
