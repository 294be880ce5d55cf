"""Whole processes over loopback: `orchd fake-cursor` and `orchd start`, as a user runs them."""

from __future__ import annotations

import contextlib
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
    # `orchd status` finds the lock in the state dir `orchd start --state-dir` was given
    env = {**_env(fake_cursor, remote), "STATE_DIRECTORY": str(state)}
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
        env=env,
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
        shown = _orchd("status", RELEASE, "--repo-root", str(repo), env=env, timeout_s=30)
        assert f"orchd (pid {proc.pid}) is running this release" in shown.stdout
        second = _orchd(
            "start",
            RELEASE,
            "--repo-root",
            str(repo),
            "--state-dir",
            str(state),
            env=env,
        )
        assert second.returncode == 2
        assert f"another orchd (pid {proc.pid}) is running this release" in second.stderr
        still = _orchd("status", RELEASE, "--repo-root", str(repo), env=env, timeout_s=30)
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


def test_every_missing_variable_is_one_line_naming_it_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    repo = _bundle(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURSOR_", "REPO_URL"))}
    result = _orchd("start", RELEASE, "--repo-root", str(repo), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["orchd:", "CURSOR_CLOUD_API_URL"],
        ["orchd:", "CURSOR_CLOUD_API_KEY"],
        ["orchd:", "REPO_URL"],
    ]
    assert all(line.endswith(")") and " is not set (" in line for line in lines)
    assert not (repo / "docs/releases/in_progress" / RELEASE).joinpath("agent_status.json").exists()
    assert "Traceback" not in result.stderr


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


# --- the key is checked first; a status file that cannot be written -------------------------

TINY = "v0.0.1"
TINY_MANIFEST = """\
release: {id: "v0.0.1", name: "Tiny", status: "in_progress"}
execution_strategy:
  type: "multi_agent"
  max_parallel_fus: 2
  agent_spawning: {enabled: true, status_tracking: "file"}
feature_units:
  - {id: "FU-001", name: "one", priority: "P0", risk_level: "low", dependencies: []}
  - {id: "FU-002", name: "two", priority: "P0", risk_level: "low", dependencies: []}
execution_schedule:
  batches:
    - {batch_id: 0, feature_units: ["FU-001", "FU-002"], dependencies: []}
"""


def _tiny_release(tmp_path: Path) -> tuple[Path, Path]:
    """A two-FU release in a fresh repo root; (repo root, the status file orchd writes)."""
    folder = tmp_path / "repo" / "docs" / "releases" / "in_progress" / TINY
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(TINY_MANIFEST)
    return tmp_path / "repo", folder / "agent_status.json"


@contextlib.contextmanager
def _fake_with(tmp_path: Path, scenario: str) -> Iterator[str]:
    """`orchd fake-cursor` on its own scenario (runs of 0.5 s real time); its base URL."""
    path = tmp_path / "quick.yaml"
    path.write_text(f"time_scale: 600\ndefaults: {{creating_s: 0, duration_s: 300}}\n{scenario}")
    with FakeCursorProcess(api_key=KEY, scenario=path) as fake:
        yield fake.url


def _requests(url: str) -> list[str]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_fake/requests", timeout=5) as resp:
        items: list[dict[str, Any]] = json.load(resp)["items"]
    return [f"{item['method']} {item['path']}" for item in items]


def _start_tiny(
    repo: Path, tmp_path: Path, env: dict[str, str], *, boot: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`orchd start` on the tiny release to its end (`boot`: Python run first, in-process)."""
    argv = ["start", TINY, "--repo-root", str(repo), "--state-dir", str(tmp_path / "state")]
    argv += ["--plain", "--poll-interval", "0.2"]
    if boot is None:
        return _orchd(*argv, env=env)
    return subprocess.run(
        [sys.executable, "-c", boot + "\nfrom orchestrator.cli import main\nmain()", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _errors(stderr: str) -> list[str]:
    """orchd's own error lines: stderr also holds warnings (the tiny release's FUs have no
    spec) and JSON log lines, and never a traceback."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("orchd: ")]


def test_a_key_cursor_refuses_stops_the_start_before_anything_is_launched_or_written(
    tmp_path: Path, remote: str
) -> None:
    repo, status_file = _tiny_release(tmp_path)
    with _fake_with(tmp_path, "") as url:
        result = _start_tiny(repo, tmp_path, {**_env(url, remote), "CURSOR_CLOUD_API_KEY": "nope"})
        seen = _requests(url)
    assert result.returncode == 2, result.stderr
    assert _errors(result.stderr) == [
        "orchd: CURSOR_CLOUD_API_KEY: Cursor refused the key (GET /v1/me: Cursor 401 "
        "unauthorized: Invalid or missing API key.); nothing was launched (`orchd doctor` "
        "checks the key)"
    ]
    assert seen == ["GET /v1/me"]
    assert sorted(p.name for p in status_file.parent.iterdir()) == ["manifest.yaml"]
    assert not (tmp_path / "state").exists()
    assert "nope" not in result.stdout + result.stderr


def test_an_api_failing_the_key_check_stops_the_start_in_one_line(
    tmp_path: Path, remote: str
) -> None:
    repo, status_file = _tiny_release(tmp_path)
    failing = "server_errors: {status: 503, rate: 1.0, paths: [/v1/me]}\n"
    with _fake_with(tmp_path, failing) as url:
        result = _start_tiny(repo, tmp_path, _env(url, remote))
        seen = _requests(url)
    assert result.returncode == 2, result.stderr
    assert _errors(result.stderr) == [
        "orchd: CURSOR_CLOUD_API_URL: the Cursor API could not check the key (GET /v1/me: "
        "Cursor 503 stream_unavailable: Scripted server error.); nothing was launched (try "
        "again; `orchd doctor` checks the URL and the key)"
    ]
    assert seen == ["GET /v1/me"] * 3  # a few quick retries, then the answer
    assert sorted(p.name for p in status_file.parent.iterdir()) == ["manifest.yaml"]


def test_an_api_nobody_answers_at_stops_the_start_in_one_line(tmp_path: Path, remote: str) -> None:
    repo, status_file = _tiny_release(tmp_path)
    result = _start_tiny(repo, tmp_path, _env("http://127.0.0.1:9/v1", remote))
    assert result.returncode == 2, result.stderr
    lines = _errors(result.stderr)
    assert len(lines) == 1
    assert lines[0].startswith(
        "orchd: CURSOR_CLOUD_API_URL: the Cursor API could not check the key (GET /v1/me: "
        "Cursor transport_error: "
    )
    assert sorted(p.name for p in status_file.parent.iterdir()) == ["manifest.yaml"]


# the disk fills up as soon as the file would show a running agent, and stays full
FULL_DISK = """\
import errno, json, os
from orchestrator.adapters import status_store

_write = status_store.write_atomic
_full = []

def write_atomic(path, data):
    doc = json.loads(data)
    if _full or any(u["status"] == "running" for b in doc["batches"] for u in b["feature_units"]):
        _full.append(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    _write(path, data)

status_store.write_atomic = write_atomic
"""


def test_a_disk_full_to_the_end_runs_the_release_then_exits_4_in_one_line(
    tmp_path: Path, remote: str
) -> None:
    repo, status_file = _tiny_release(tmp_path)
    # a temp file a kill -9 left mid-write: removed when the writer starts
    status_file.with_name(".agent_status.json.x1y2z3_q.tmp").write_text('{"half": ')
    with _fake_with(tmp_path, "") as url:
        result = _start_tiny(repo, tmp_path, _env(url, remote), boot=FULL_DISK)
        stats = _stats(url)
    assert result.returncode == 4, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert _errors(result.stderr) == [
        f"orchd: {status_file}: the status file could not be written (No space left on "
        "device); the release ended completed but the file may show an earlier state (once it "
        f"can be written, `orchd start {TINY}` picks up from it)"
    ]
    events = [json.loads(line)["event"] for line in result.stderr.splitlines() if line[:1] == "{"]
    assert "status.write_failed" in events
    assert events.count("status.write_gave_up") == 1
    # supervision went on: each agent ran once to its end, none was cancelled
    assert stats["launches_per_fu"] == {"FU-001": 1, "FU-002": 1}
    assert stats["cancels_per_fu"] == {}
    assert json.loads(status_file.read_text())["orchestrator"]["status"] == "running"
    assert sorted(p.name for p in status_file.parent.iterdir() if p.name.endswith(".tmp")) == []
    assert KEY not in result.stdout + result.stderr
