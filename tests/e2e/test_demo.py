"""`make demo` is a promise to every newcomer: it must finish green and show its evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

BRANCH = "release/v0.1.0"


@dataclass(frozen=True)
class Demo:
    result: subprocess.CompletedProcess[str]
    workdir: Path
    dashboard_url: str = ""
    dashboard_seen: Any = None  # GET /api/releases while the demo ran
    dashboard_after: str = ""  # what connecting after the demo gave

    @property
    def remote(self) -> Path:
        return self.workdir / "remote.git"

    def status(self) -> dict[str, Any]:
        path = self.workdir / "docs/releases/in_progress/v0.1.0/agent_status.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One `orchd demo` run (about 25 s) for every test here, as a newcomer runs it."""
    workdir = tmp_path_factory.mktemp("demo")
    argv = [sys.executable, "-m", "orchestrator", "demo", "--plain", "--workdir", str(workdir)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    url, seen = "", None
    for line in proc.stdout:  # the dashboard is asked while the demo runs
        lines.append(line)
        if line.startswith("dashboard: http://"):
            url = line.split()[1]
            seen = httpx.get(url + "api/releases", timeout=10).json()
            break
    out, err = proc.communicate(timeout=120)
    result = subprocess.CompletedProcess(argv, proc.returncode, "".join(lines) + out, err)
    try:
        httpx.get(url, timeout=2) if url else None
        after = "still answering"
    except httpx.TransportError as exc:
        after = type(exc).__name__
    return Demo(result, workdir, url, seen, after)


def _git(remote: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={remote}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def test_demo_runs_neotoma_v010_to_completion_within_the_limits(demo: Demo) -> None:
    result = demo.result
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "release v0.1.0: completed" in out
    assert "calendar time" in out
    assert "at most 3 runs at once (limit 3)" in out
    status = demo.status()
    assert status["orchestrator"]["status"] == "completed"
    assert len(status["completed_fus"]) == 28
    assert [b["batch_id"] for b in status["batches"]][:4] == [0, 0.5, 0.6, 0.7]
    retried = [f for b in status["batches"] for f in b["feature_units"] if f["attempts"] > 1]
    assert [f["fu_id"] for f in retried] == ["FU-055"]  # the scripted failure, retried once
    assert "demo-key-not-a-secret" not in out + result.stderr


def test_demo_builds_release_branch_from_gated_merges_on_its_own_remote(demo: Demo) -> None:
    result = demo.result
    assert result.returncode == 0, result.stderr[-2000:]
    remote = demo.remote
    status = demo.status()
    fus = {f["fu_id"]: f for b in status["batches"] for f in b["feature_units"]}

    # 28 FU merges on the first-parent line, one per FU, each carrying orchd's trailers
    log = _git(
        remote,
        "log",
        "--first-parent",
        "--format=%H %P|%(trailers:key=Orchd-FU,valueonly,separator=)"
        "|%(trailers:key=Orchd-Release,valueonly,separator=)",
        BRANCH,
    ).splitlines()
    merges = [line for line in log if line.split("|")[1]]
    assert len(merges) == 28
    assert len(log) == 29
    assert {line.split("|")[1] for line in merges} == set(fus)
    assert {line.split("|")[2] for line in merges} == {"v0.1.0"}
    assert all(len(line.split("|")[0].split()) == 3 for line in merges)  # --no-ff: 2 parents
    assert log[-1].split()[0] == _git(remote, "rev-parse", "main").strip()  # started from main

    # the branch is where the status file says, and each FU's merge commit is on it
    head = _git(remote, "rev-parse", BRANCH).strip()
    assert (status["integration_branch"], status["integration_sha"]) == (BRANCH, head)
    on_branch = {line.split()[0] for line in log}
    assert {f["merge_commit"] for f in fus.values()} <= on_branch
    assert {f["status"] for f in fus.values()} == {"completed"}
    assert all(f["landed_at"] and f["delivered_branch"] for f in fus.values())
    # every file an agent added is on the release branch
    files = _git(remote, "ls-tree", "-r", "--name-only", BRANCH, "fu/").split()
    assert sorted(files) == sorted(f"fu/{fu}.md" for fu in fus)

    # every batch's gate ran real tests in its candidate's worktree and passed
    for batch in status["batches"]:
        gate = batch["gate"]
        assert gate["status"] == "passed", batch["batch_id"]
        assert gate["tests"]
        assert {t["status"] for t in gate["tests"]} == {"passed"}
    assert status["full_suite"]["status"] == "passed"
    # its log is in the demo's state dir, not in the release's folder of the checkout
    log_path = Path(status["full_suite"]["tests"][0]["log"])
    assert log_path.is_relative_to(demo.workdir / "state")  # `orchd demo`'s state dir
    assert "ok: checked 28 FU file(s)" in log_path.read_text()
    assert not (demo.workdir / "docs/releases/in_progress/v0.1.0/gate_logs").exists()

    # the user sees the branch, as `git log --first-parent --oneline` prints it
    out = result.stdout
    assert f"{BRANCH} on the demo remote (28 FU merges;" in out
    oneline = _git(remote, "log", "--first-parent", "--oneline", "--no-decorate", BRANCH)
    assert all(f"  {line}" in out for line in oneline.splitlines())
    assert "Merge FU-000 (cursor/fu-000-" in out


def test_demo_serves_the_dashboard_while_it_runs(demo: Demo) -> None:
    assert demo.dashboard_url.startswith("http://127.0.0.1:"), demo.result.stdout[:2000]
    assert f"dashboard: {demo.dashboard_url} (live while the demo runs)" in demo.result.stdout
    releases = demo.dashboard_seen["releases"]
    assert [r["release_id"] for r in releases] == ["v0.1.0"]
    assert demo.dashboard_after == "ConnectError"  # stopped with the demo
