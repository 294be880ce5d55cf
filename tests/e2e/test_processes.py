"""Whole processes over loopback: `orchd fake-cursor` and `orchd start`, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo

pytestmark = pytest.mark.slow

RELEASE = "v0.1.0"
KEY = "e2e-secret-key-123"


def _bundle(tmp_path: Path) -> Path:
    with resources.as_file(resources.files("orchestrator").joinpath("data/demo")) as src:
        shutil.copytree(src, tmp_path / "repo")
    return tmp_path / "repo"


@pytest.fixture
def fake_cursor(tmp_path: Path) -> Iterator[str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "time_scale: 600\nheartbeat_interval_s: 60\ndefaults: {creating_s: 0, duration_s: 3600}\n"
    )
    with FakeCursorProcess(api_key=KEY, scenario=scenario) as fake:
        yield fake.url


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_fake/stats", timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


def _orchd(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `orchd ARGS` to its end, as a user's shell would."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def _env(url: str, repo_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "CURSOR_CLOUD_API_URL": url,
        "CURSOR_CLOUD_API_KEY": KEY,
        "REPO_URL": repo_url,
    }


@pytest.fixture
def remote(tmp_path: Path) -> str:
    """A throwaway bare repo (the seed project on `main`) agents and orchd push to."""
    return seed_repo(tmp_path / "remote.git")


def test_sigterm_mid_batch_cancels_every_active_run_and_exits_3(
    tmp_path: Path, fake_cursor: str, remote: str
) -> None:
    repo = _bundle(tmp_path)
    state = tmp_path / "state"
    status_file = repo / "docs/releases/in_progress" / RELEASE / "agent_status.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "start",
            RELEASE,
            "--repo-root",
            str(repo),
            "--poll-interval",
            "0.2",
            "--state-dir",
            str(state),
            "--plain",
        ],
        env=_env(fake_cursor, remote),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if status_file.exists() and '"running"' in status_file.read_text():
                launched = _stats(fake_cursor)["launches_per_fu"]
                if launched:
                    break
            time.sleep(0.1)
        shown = _orchd("status", RELEASE, "--repo-root", str(repo), timeout_s=30)
        assert f"orchd (pid {proc.pid}) is running this release" in shown.stdout
        second = _orchd(
            "start",
            RELEASE,
            "--repo-root",
            str(repo),
            "--state-dir",
            str(state),
            env=_env(fake_cursor, remote),
        )
        assert second.returncode == 2
        assert f"another orchd (pid {proc.pid}) is running this release" in second.stderr
        still = _orchd("status", RELEASE, "--repo-root", str(repo), timeout_s=30)
        assert f"orchd (pid {proc.pid}) is running this release" in still.stdout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, err
    data = json.loads(status_file.read_text())
    assert data["orchestrator"]["status"] == "aborted"
    stats = _stats(fake_cursor)
    assert stats["launches_per_fu"]
    assert set(stats["cancels_per_fu"]) == set(stats["launches_per_fu"]) - set(
        data["completed_fus"]
    )
    assert KEY not in out + err + status_file.read_text()
    # the release branch holds exactly the FUs that landed before the abort, nothing half-done
    log = subprocess.run(
        [
            "git",
            f"--git-dir={tmp_path / 'remote.git'}",
            "log",
            "--first-parent",
            "--format=%(trailers:key=Orchd-FU,valueonly,separator=)",
            "release/v0.1.0",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert sorted(log) == sorted(data["completed_fus"])
    assert (state / "repos").is_dir()  # orchd's git cache is where --state-dir says
    after = _orchd("status", RELEASE, "--repo-root", str(repo), timeout_s=30)
    assert "is running this release" not in after.stdout
    assert "aborted" in after.stdout


def test_missing_env_is_one_line_naming_the_variable_and_writes_nothing(tmp_path: Path) -> None:
    repo = _bundle(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURSOR_", "REPO_URL"))}
    result = _orchd("start", RELEASE, "--repo-root", str(repo), env=env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "CURSOR_CLOUD_API_URL" in result.stderr
    assert not (repo / "docs/releases/in_progress" / RELEASE / "agent_status.json").exists()


def test_a_malformed_webhook_url_is_bad_input_without_echoing_it(
    tmp_path: Path, remote: str
) -> None:
    repo = _bundle(tmp_path)
    env = {
        **_env("http://127.0.0.1:9/v1", remote),
        "ORCHD_NOTIFY_URL": "https://hooks.example:4o3/T/tok3n",
    }
    result = _orchd("start", RELEASE, "--repo-root", str(repo), env=env)
    assert result.returncode == 2
    assert "ORCHD_NOTIFY_URL" in result.stderr
    assert "tok3n" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("repo_url", "branch", "problem"),
    [
        # https on loopback where nothing listens: no network is needed to see the refusal
        (
            "https://127.0.0.1:9/acme/neotoma",
            "main",
            "REPO_URL: the release branch cannot be set up",
        ),
        (None, "develop", "RELEASE_BRANCH 'develop' is not a branch of the remote"),
        # a token in the URL would reach Cursor and the git cache: refused, never echoed
        (
            "https://x-access-token:ghp_s3cr3t@127.0.0.1:9/acme/neotoma",
            "main",
            "REPO_URL carries credentials (value not shown)",
        ),
    ],
)
def test_a_remote_orchd_cannot_use_is_bad_input_in_one_line(
    tmp_path: Path, fake_cursor: str, remote: str, repo_url: str | None, branch: str, problem: str
) -> None:
    repo = _bundle(tmp_path)
    env = {**_env(fake_cursor, repo_url or remote), "RELEASE_BRANCH": branch}
    result = _orchd(
        "start",
        RELEASE,
        "--repo-root",
        str(repo),
        "--state-dir",
        str(tmp_path / "state"),
        "--plain",
        env=env,
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1
    assert errors[0].startswith("orchd: ")
    assert problem in errors[0]
    assert not (repo / "docs/releases/in_progress" / RELEASE / "agent_status.json").exists()
    assert KEY not in result.stdout + result.stderr
    assert "ghp_s3cr3t" not in result.stdout + result.stderr
    assert _stats(fake_cursor)["launches_per_fu"] == {}
