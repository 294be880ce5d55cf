"""`orchd decide` answering a waiting `orchd start`, all as real processes over loopback.

A release whose batch fails for good waits for a human (`--on-batch-failure wait`); a second
process answers with `orchd decide`, exactly as an operator would from another terminal.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo

pytestmark = pytest.mark.slow

RELEASE = "v0.1.0"
KEY = "e2e-decide-SECRET-key-789"
ORCHD = [sys.executable, "-m", "orchestrator"]
PROCESS_TIMEOUT_S = 30.0
BRANCH = f"release/{RELEASE}"
TERMINAL_RUNS = {"FINISHED", "ERROR", "EXPIRED", "CANCELLED"}
NO_ACCESS = {"create_error": {"status": 403, "code": "repository_access", "message": "no access"}}
# 36000x: a simulated minute takes 1.7 ms, so every run is over by the first look at it.
FAST = {
    "time_scale": 36000,
    "heartbeat_interval_s": 600,
    "defaults": {"creating_s": 0, "duration_s": 60, "tool_calls": 1},
}


@dataclass
class Webhook:
    """A local notification receiver: every POST's headers and body, in arrival order."""

    url: str
    posts: list[tuple[dict[str, str], str]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    received: list[tuple[dict[str, str], str]] = []
    lock = threading.Lock()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            with lock:
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        # the path stands in for a Slack-style token; orchd must never log it
        yield Webhook(f"http://127.0.0.1:{server.server_address[1]}/hooks/T0KEN", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _bundle(tmp_path: Path) -> Path:
    with resources.as_file(resources.files("orchestrator").joinpath("data/demo")) as src:
        shutil.copytree(src, tmp_path / "repo")
    return tmp_path / "repo"


def _git(remote: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={remote}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=PROCESS_TIMEOUT_S,
    ).stdout


def _landed_fus(remote: Path) -> list[str]:
    """The FUs merged on release/v0.1.0's first-parent line, from their Orchd-FU trailers."""
    return _git(
        remote,
        "log",
        "--first-parent",
        "--format=%(trailers:key=Orchd-FU,valueonly,separator=)",
        BRANCH,
    ).split()


def _status_file(repo: Path) -> Path:
    return repo / "docs/releases/in_progress" / RELEASE / "agent_status.json"


def _stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after a bounded wait; close every pipe."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture
def fake_cursor(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """`orchd fake-cursor` with the scenario the test names (via indirect parametrisation)."""
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({**FAST, "fus": request.param}))
    with FakeCursorProcess(api_key=KEY, scenario=scenario, start_timeout_s=15) as fake:
        yield fake.url


def _fake_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_fake/stats", timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


@dataclass
class Started:
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()


StartRelease = Callable[..., "Started"]  # (repo, env, *extra `orchd start` options)


@pytest.fixture
def start_release(tmp_path: Path) -> Iterator[StartRelease]:
    """Runs `orchd start` with output in files (a full pipe would stall it); stops it after."""
    started: list[Started] = []

    def run(repo: Path, env: dict[str, str], *extra: str) -> Started:
        out, err = tmp_path / "start.out", tmp_path / "start.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [
                    *ORCHD,
                    "start",
                    RELEASE,
                    "--repo-root",
                    str(repo),
                    "--poll-interval",
                    "0.2",
                    "--on-batch-failure",
                    "wait",
                    "--on-checkpoint",
                    "continue",
                    "--state-dir",
                    str(tmp_path / "state"),
                    "--plain",
                    *extra,
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        started.append(Started(proc, out, err))
        return started[-1]

    try:
        yield run
    finally:
        for each in started:
            _stop(each.proc)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A throwaway bare repo holding the seed project on `main`; its tests are the gates'."""
    seed_repo(tmp_path / "remote.git")
    return tmp_path / "remote.git"


def _env(url: str, remote: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CURSOR_CLOUD_API_URL": url,
        "CURSOR_CLOUD_API_KEY": KEY,
        "REPO_URL": remote.as_uri(),
        **extra,
    }


def _wait_for_batch_failure(status_file: Path, started: Started) -> dict[str, Any]:
    """Poll the status file (bounded) until orchd waits on a batch failure; return the file."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while time.monotonic() < deadline:
        assert started.proc.poll() is None, f"orchd start exited early:\n{started.output()}"
        if status_file.exists():
            data: dict[str, Any] = json.loads(status_file.read_text())
            awaiting = data["orchestrator"].get("awaiting") or {}
            if awaiting.get("kind") == "batch_failure":
                return data
        time.sleep(0.05)
    raise AssertionError(f"no batch_failure awaited within {PROCESS_TIMEOUT_S} s")


def _decide(repo: Path, action: str) -> subprocess.CompletedProcess[str]:
    """`orchd decide` with the state dir `orchd start` was given (`start_release`)."""
    state = repo.parent / "state"
    return subprocess.run(
        [*ORCHD, "decide", RELEASE, action, "--repo-root", str(repo), "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
    )


def _fu_statuses(data: dict[str, Any]) -> dict[str, str]:
    return {fu["fu_id"]: fu["status"] for b in data["batches"] for fu in b["feature_units"]}


@pytest.mark.parametrize(
    "fake_cursor",
    # FU-002 would run for a simulated 600 hours: only a cancel can end it.
    [{"FU-000": NO_ACCESS, "FU-002": {"duration_s": 2_160_000}}],
    indirect=True,
)
def test_decide_abort_ends_a_waiting_release_with_exit_3_and_one_notification_per_event(
    tmp_path: Path, fake_cursor: str, webhook: Webhook, start_release: StartRelease, remote: Path
) -> None:
    repo = _bundle(tmp_path)
    status_file = _status_file(repo)
    started = start_release(repo, _env(fake_cursor, remote, ORCHD_NOTIFY_URL=webhook.url))

    waiting = _wait_for_batch_failure(status_file, started)
    assert waiting["orchestrator"]["awaiting"]["batch_id"] == 0
    assert "no access" in waiting["orchestrator"]["awaiting"]["reason"]
    decided = _decide(repo, "abort")
    code = started.proc.wait(timeout=PROCESS_TIMEOUT_S)

    assert decided.returncode == 0, decided.stderr
    assert decided.stdout.startswith("delivered:")
    assert "abort" in decided.stdout
    assert code == 3, started.output()
    data = json.loads(status_file.read_text())
    assert data["orchestrator"]["status"] == "aborted"
    assert data["orchestrator"]["awaiting"] is None
    assert [(d["kind"], d["batch_id"], d["action"]) for d in data["decisions"]] == [
        ("batch_failure", 0, "abort")
    ]
    statuses = _fu_statuses(data)
    assert (statuses["FU-000"], statuses["FU-002"]) == ("needs_human", "cancelled")
    # nothing else was launched, and nothing is left running at Cursor
    stats = _fake_stats(fake_cursor)
    assert stats["create_errors_per_fu"] == {"FU-000": 1}
    assert stats["launches_per_fu"] == {"FU-002": 1}
    assert stats["cancels_per_fu"] == {"FU-002": 1}
    assert {run["status"] for run in stats["runs"]} <= TERMINAL_RUNS

    events = Counter(body["event"] for body in webhook.bodies())
    assert events == {"fu.escalated": 1, "batch.failed": 1, "release.finished": 1}
    for headers, body in webhook.posts:
        assert isinstance(json.loads(body)["text"], str)
        assert KEY not in body
        assert KEY not in json.dumps(headers)
        assert "authorization" not in headers
    finished = next(b for b in webhook.bodies() if b["event"] == "release.finished")
    assert finished["status"] == "aborted"
    output = started.output()
    assert KEY not in output + status_file.read_text()
    assert "T0KEN" not in output
    # nothing landed: the release branch is still the base it was created from
    assert _git(remote, "rev-parse", BRANCH) == _git(remote, "rev-parse", "main")


@pytest.mark.parametrize("fake_cursor", [{"FU-105": NO_ACCESS}], indirect=True)
def test_decide_skip_defers_the_batch_blocks_its_dependants_and_finishes_the_rest(
    tmp_path: Path, fake_cursor: str, start_release: StartRelease, remote: Path
) -> None:
    # FU-105 is batch 4's only FU; batch 6 (FU-202, FU-205) depends on it, nothing else does.
    repo = _bundle(tmp_path)
    status_file = _status_file(repo)
    started = start_release(repo, _env(fake_cursor, remote))

    waiting = _wait_for_batch_failure(status_file, started)
    assert waiting["orchestrator"]["awaiting"]["batch_id"] == 4
    decided = _decide(repo, "skip")
    code = started.proc.wait(timeout=PROCESS_TIMEOUT_S)

    assert decided.returncode == 0, decided.stderr
    assert decided.stdout.startswith("delivered:")
    assert code == 1, started.output()
    data = json.loads(status_file.read_text())
    assert data["orchestrator"]["status"] == "failed"
    assert [(d["kind"], d["batch_id"], d["action"]) for d in data["decisions"]] == [
        ("checkpoint", 0.6, "continue"),
        ("batch_failure", 4, "skip"),
    ]
    statuses = _fu_statuses(data)
    assert len(statuses) == 28
    assert statuses.pop("FU-105") == "deferred"
    assert (statuses.pop("FU-202"), statuses.pop("FU-205")) == ("blocked", "blocked")
    assert set(statuses.values()) == {"completed"}
    batches = {b["batch_id"]: b["status"] for b in data["batches"]}
    assert (batches[4], batches[6], batches[7]) == ("skipped", "failed", "completed")
    assert sorted(data["completed_fus"]) == sorted(statuses)
    stats = _fake_stats(fake_cursor)
    assert stats["launches_per_fu"] == dict.fromkeys(statuses, 1)
    assert "blocked: dependency FU-105 is deferred" in started.stdout.read_text()
    # the release branch holds every landed FU once, and never the deferred or blocked ones
    assert sorted(_landed_fus(remote)) == sorted(data["completed_fus"])


def _fake_git(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_fake/git", timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


# FU-101's agent breaks the project's tests (tests/run.sh) and undoes that on a follow-up.
@pytest.mark.parametrize(
    "fake_cursor",
    [{"FU-101": {"git_edit": "break_tests", "fix_on_follow_up": True}}],
    indirect=True,
)
def test_decide_fix_sends_the_failing_log_to_the_agents_and_lands_the_fixed_batch(
    tmp_path: Path, fake_cursor: str, start_release: StartRelease, remote: Path
) -> None:
    # batch 2 is FU-101 and FU-102; its gate runs the seed project's tests in a worktree of the
    # candidate that merges both, and fails on FU-101's change.
    repo = _bundle(tmp_path)
    status_file = _status_file(repo)
    started = start_release(repo, _env(fake_cursor, remote))

    waiting = _wait_for_batch_failure(status_file, started)
    assert waiting["orchestrator"]["awaiting"]["batch_id"] == 2
    batch = next(b for b in waiting["batches"] if b["batch_id"] == 2)
    assert batch["gate"]["status"] == "failed"
    assert "failed" in {t["status"] for t in batch["gate"]["tests"]}
    # the failed candidate never reached the release branch
    held = _landed_fus(remote)
    assert "FU-101" not in held
    assert "FU-102" not in held
    assert "broken by" not in _git(remote, "show", f"{BRANCH}:tests/run.sh")

    decided = _decide(repo, "fix")
    code = started.proc.wait(timeout=PROCESS_TIMEOUT_S)

    assert decided.returncode == 0, decided.stderr
    assert code == 0, started.output()
    data = json.loads(status_file.read_text())
    assert data["orchestrator"]["status"] == "completed"
    assert [
        (d["kind"], d["batch_id"], d["action"])
        for d in data["decisions"]
        if d["kind"] == "batch_failure"
    ] == [("batch_failure", 2, "fix")]
    assert set(_fu_statuses(data).values()) == {"completed"}
    batch = next(b for b in data["batches"] if b["batch_id"] == 2)
    assert batch["gate"]["status"] == "passed"
    # FU-101's own agent got a follow-up with the failing test's output, and fixed its branch
    (agent,) = [a for a in _fake_git(fake_cursor)["agents"] if a["fu"] == "FU-101"]
    assert len(agent["runs"]) == 2
    assert "broken by FU-101" in agent["runs"][1]["prompt"]
    # the release branch: every FU once, and the project's tests as they were on main
    assert sorted(_landed_fus(remote)) == sorted(data["completed_fus"])
    assert len(data["completed_fus"]) == 28
    assert _git(remote, "show", f"{BRANCH}:tests/run.sh") == _git(
        remote, "show", "main:tests/run.sh"
    )


@pytest.mark.parametrize(
    "fake_cursor",
    [{"FU-101": {"git_edit": "break_tests", "fix_on_follow_up": False}}],
    indirect=True,
)
def test_decide_skip_after_a_failed_gate_keeps_the_branches_off_the_release_branch(
    tmp_path: Path, fake_cursor: str, start_release: StartRelease, remote: Path
) -> None:
    repo = _bundle(tmp_path)
    status_file = _status_file(repo)
    started = start_release(repo, _env(fake_cursor, remote))

    waiting = _wait_for_batch_failure(status_file, started)
    assert waiting["orchestrator"]["awaiting"]["batch_id"] == 2
    decided = _decide(repo, "skip")
    code = started.proc.wait(timeout=PROCESS_TIMEOUT_S)

    assert decided.returncode == 0, decided.stderr
    assert code == 1, started.output()  # dependants were blocked: not every FU landed
    data = json.loads(status_file.read_text())
    statuses = _fu_statuses(data)
    assert (statuses["FU-101"], statuses["FU-102"]) == ("deferred", "deferred")
    blocked = {fu for fu, status in statuses.items() if status == "blocked"}
    assert {"FU-103", "FU-105", "FU-058"} <= blocked
    # blocked dependants were never launched
    assert not blocked & set(_fake_stats(fake_cursor)["launches_per_fu"])
    # the deferred FUs' branches are kept on the remote for a human; the release branch never
    # held them, nor the broken test script
    fus = {fu["fu_id"]: fu for b in data["batches"] for fu in b["feature_units"]}
    for fu_id in ("FU-101", "FU-102"):
        branch = fus[fu_id]["delivered_branch"] or fus[fu_id]["branch"]
        assert _git(remote, "rev-parse", f"refs/heads/{branch}").strip()
    landed = _landed_fus(remote)
    assert sorted(landed) == sorted(data["completed_fus"])
    assert not {"FU-101", "FU-102"} & set(landed)
    assert "broken by" not in _git(remote, "show", f"{BRANCH}:tests/run.sh")
