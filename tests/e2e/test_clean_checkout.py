"""After a run, the user's checkout holds only the status file: the lock, the `orchd decide`
control files, the gate logs and worktrees are in orchd's state dir, where every command finds
them from the same inputs (`--state-dir`, else the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo

pytestmark = pytest.mark.slow

RELEASE = "v0.0.1"
KEY = "e2e-clean-SECRET-key"
TIMEOUT_S = 60
MANIFEST = """\
release: {id: "v0.0.1", name: "Tiny", status: "in_progress"}
execution_strategy: {type: "multi_agent", max_parallel_fus: 2}
feature_units:
  - {id: "FU-001", name: "one", priority: "P0", risk_level: "low", dependencies: []}
  - {id: "FU-002", name: "two", priority: "P0", risk_level: "low", dependencies: ["FU-001"]}
execution_schedule:
  batches:
    - {batch_id: 0, feature_units: ["FU-001"], dependencies: []}
    - {batch_id: 1, feature_units: ["FU-002"], dependencies: ["FU-001"]}
checkpoints:
  checkpoint_review_after_batch: 0
"""
ORCHD = [sys.executable, "-m", "orchestrator"]


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


def _checkout(tmp_path: Path) -> Path:
    """A user's git checkout with the release committed (and each FU's spec)."""
    repo = tmp_path / "checkout"
    folder = repo / "docs" / "releases" / "in_progress" / RELEASE
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(MANIFEST)
    for fu in ("FU-001", "FU-002"):
        spec = repo / "docs" / "feature_units" / "in_progress" / fu / f"{fu}_spec.md"
        spec.parent.mkdir(parents=True)
        spec.write_text(f"# {fu}\n")
    _git(repo, "init", "--quiet", "--initial-branch", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "--quiet", "-m", "release v0.0.1")
    return repo


def _awaiting(status_file: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(status_file.read_text())
    except (OSError, ValueError):
        return {}
    return data["orchestrator"].get("awaiting") or {}


def test_a_run_with_a_gate_and_a_decision_leaves_only_the_status_file_in_the_checkout(
    tmp_path: Path,
) -> None:
    repo = _checkout(tmp_path)
    status_file = repo / "docs" / "releases" / "in_progress" / RELEASE / "agent_status.json"
    state = tmp_path / "state"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("time_scale: 600\ndefaults: {creating_s: 0, duration_s: 300}\n")
    remote = seed_repo(tmp_path / "remote.git")
    with FakeCursorProcess(api_key=KEY, scenario=scenario) as fake:
        env = {
            **os.environ,
            "CURSOR_CLOUD_API_URL": fake.url,
            "CURSOR_CLOUD_API_KEY": KEY,
            "REPO_URL": remote,
            "STATE_DIRECTORY": str(state),  # what --state-dir also says, for every command
        }
        with (tmp_path / "start.out").open("w") as out, (tmp_path / "start.err").open("w") as err:
            start = subprocess.Popen(
                [
                    *ORCHD,
                    "start",
                    RELEASE,
                    "--repo-root",
                    str(repo),
                    "--state-dir",
                    str(state),
                    "--gate-command",
                    "sh tests/run.sh",
                    "--on-checkpoint",
                    "wait",
                    "--plain",
                    "--poll-interval",
                    "0.1",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        try:
            deadline = time.monotonic() + TIMEOUT_S
            while _awaiting(status_file).get("kind") != "checkpoint":
                assert start.poll() is None, (tmp_path / "start.err").read_text()
                assert time.monotonic() < deadline, "no checkpoint reached"
                time.sleep(0.1)
            shown = subprocess.run(
                [*ORCHD, "status", RELEASE, "--repo-root", str(repo)],
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
            assert f"orchd (pid {start.pid}) is running this release" in shown.stdout
            decided = subprocess.run(
                [
                    *ORCHD,
                    "decide",
                    RELEASE,
                    "continue",
                    "--repo-root",
                    str(repo),
                    "--state-dir",  # the one `orchd start` was given
                    str(state),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
            assert decided.returncode == 0, decided.stdout + decided.stderr
            assert decided.stdout.startswith("delivered: continue batch 0")
            code = start.wait(timeout=TIMEOUT_S)
        finally:
            if start.poll() is None:
                start.kill()
                start.wait()
    assert code == 0, (tmp_path / "start.err").read_text()

    # the checkout: the status file is the only new file; nothing else was written there
    assert _git(repo, "status", "--porcelain", "--untracked-files=all").splitlines() == [
        f"?? docs/releases/in_progress/{RELEASE}/agent_status.json"
    ]
    # what moved is in the release's folder of the state dir
    (runtime,) = (state / "releases").iterdir()
    assert runtime.name.startswith(f"{RELEASE}-")
    assert (runtime / "status_file").read_text() == f"{os.path.realpath(status_file)}\n"
    assert (runtime / "orchd.pid").read_text() == ""  # released at exit
    assert json.loads((runtime / "decision.taken.json").read_text())["action"] == "continue"
    logs = sorted(p.name for p in (runtime / "gate_logs").iterdir())
    assert logs == ["batch-0.log", "batch-1.log", "batch-full.log"]
    data = json.loads(status_file.read_text())
    assert data["batches"][0]["gate"]["tests"][0]["log"] == str(runtime / "gate_logs/batch-0.log")
