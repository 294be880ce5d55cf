"""orchd as a service, whole processes over loopback (issue 10 §4): `orchd detach` leaves every
agent running and the next `orchd start` adopts them; under systemd (`$NOTIFY_SOCKET`) orchd says
it is ready, where the release is, that its loop is alive, and that it is stopping.

`orchd fake-cursor` plays Cursor (its agents push to a bare repo in tmp_path); the release is
crash_kit's six FUs in three batches.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo
from tests.e2e.crash_kit import FUS, RELEASE, agents_by_fu, fake_get, fake_reset, write_release

pytestmark = pytest.mark.slow

KEY = "service-test-key-456"
SCALE = 1000  # simulated seconds per real second
QUICK: dict[str, Any] = {
    "time_scale": SCALE,
    "heartbeat_interval_s": 100,
    "defaults": {"creating_s": 0, "duration_s": 100, "tool_calls": 1},
}
# FU-101 and FU-102 run 10 s of real time: still running when the detach lands and checked
SLOW_FIRST = {**QUICK, "fus": {"FU-101": {"duration_s": 10_000}, "FU-102": {"duration_s": 10_000}}}


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCursorProcess]:
    scenario = tmp_path_factory.mktemp("fake") / "scenario.yaml"
    scenario.write_text(json.dumps(QUICK))
    with FakeCursorProcess(api_key=KEY, scenario=scenario) as proc:
        yield proc


@dataclass(frozen=True)
class Release:
    repo_root: Path
    status_file: Path
    state_dir: Path
    env: dict[str, str]

    def argv(self, *command: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "orchestrator",
            *command,
            RELEASE,
            "--repo-root",
            str(self.repo_root),
        ]

    def start_argv(self) -> list[str]:
        flags = ["--state-dir", str(self.state_dir), "--plain", "--poll-interval", "0.05"]
        return [*self.argv("start"), *flags, "--on-batch-failure", "fail"]

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.status_file.read_text())
        return data

    def fu(self, fu_id: str) -> dict[str, Any]:
        entries = [e for b in self.status()["batches"] for e in b["feature_units"]]
        return next(e for e in entries if e["fu_id"] == fu_id)


@pytest.fixture
def release(tmp_path: Path, fake: FakeCursorProcess) -> Release:
    repo_root = tmp_path / "checkout"
    status_file = write_release(repo_root)
    env = {
        **os.environ,
        "CURSOR_CLOUD_API_URL": fake.url,
        "CURSOR_CLOUD_API_KEY": KEY,
        "REPO_URL": seed_repo(tmp_path / "remote.git", project="service"),
        "RELEASE_BRANCH": "main",
    }
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(name, None)  # only the test's own manager listens
    return Release(repo_root, status_file, tmp_path / "state", env)


def _wait_for(what: str, check: Any, proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert proc.poll() is None, f"orchd exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.05)


def _running_with_run(release: Release, *fu_ids: str) -> bool:
    try:
        return all(release.fu(f)["status"] == "running" and release.fu(f)["run_id"] for f in fu_ids)
    except (OSError, ValueError, StopIteration, KeyError):
        return False  # not written yet, or mid-write


def test_detach_leaves_the_agents_running_and_the_next_start_adopts_them(
    release: Release, fake: FakeCursorProcess
) -> None:
    fake_reset(fake.root, SLOW_FIRST)
    first = subprocess.Popen(
        release.start_argv(),
        env=release.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(
            "FU-101 and FU-102 running",
            lambda: _running_with_run(release, "FU-101", "FU-102"),
            first,
        )
        detach = subprocess.run(
            [*release.argv("detach"), "--state-dir", str(release.state_dir)],
            env=release.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        out, err = first.communicate(timeout=15)  # `orchd detach` returned: it has exited
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    assert detach.returncode == 0, detach.stderr
    assert re.fullmatch(
        rf"orchd \(pid {first.pid}\) detached from {RELEASE}: [23] agent\(s\) keep running; "
        rf"`orchd start {RELEASE}` adopts them\n",
        detach.stdout,
    ), detach.stdout
    assert first.returncode == 5, err[-2000:]
    assert f"release {RELEASE}: detached" in out

    # the agents run on at Cursor: nothing cancelled or archived, each run still RUNNING
    status = release.status()
    assert status["orchestrator"]["status"] == "detached"
    agents = agents_by_fu(fake_get(fake.root, "/_fake/git"))
    stats = fake_get(fake.root, "/_fake/stats")
    assert stats["cancels_per_fu"] == {}
    requests = [r["path"] for r in fake_get(fake.root, "/_fake/requests")["items"]]
    for fu_id in ("FU-101", "FU-102"):
        [agent] = agents[fu_id]
        assert [r["status"] for r in agent["runs"]] == ["RUNNING"], agent
        assert release.fu(fu_id)["run_id"] == agent["runs"][0]["runId"]
        assert not [p for p in requests if agent["agentId"] in p and p.endswith("/archive")]

    again = subprocess.run(
        release.start_argv(), env=release.env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"release {RELEASE}: completed" in again.stdout
    # no new agent for the FUs that were running: their runs were followed to the end
    stats = fake_get(fake.root, "/_fake/stats")
    assert stats["launches_per_fu"] == dict.fromkeys(FUS, 1)
    assert stats["cancels_per_fu"] == {}
    agents = agents_by_fu(fake_get(fake.root, "/_fake/git"))
    for fu_id in ("FU-101", "FU-102"):
        [agent] = agents[fu_id]
        assert len(agent["runs"]) == 1, agent
        assert release.fu(fu_id)["worker_agent_id"] == agent["agentId"]
    assert release.status()["orchestrator"]["status"] == "completed"


def test_detach_without_a_running_orchd_says_so_in_one_line(release: Release) -> None:
    result = subprocess.run(
        release.argv("detach"), env=release.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"orchd: {release.status_file}: no orchd is running this release (nothing to detach; "
        "--state-dir names the state dir of an orchd started with one)\n"
    )


@dataclass
class Manager:
    """The service manager's end of `$NOTIFY_SOCKET`, read on a thread as systemd would."""

    path: Path
    messages: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def test_under_systemd_orchd_reports_ready_progress_liveness_and_stopping(
    release: Release, fake: FakeCursorProcess, tmp_path: Path
) -> None:
    fake_reset(fake.root, QUICK)
    manager = Manager(tmp_path / "notify.sock")
    try:
        env = {**release.env, "NOTIFY_SOCKET": str(manager.path), "WATCHDOG_USEC": "400000"}
        done = subprocess.run(
            release.start_argv(), env=env, capture_output=True, text=True, timeout=60
        )
        time.sleep(0.2)  # the last datagrams are read
    finally:
        manager.close()
    assert done.returncode == 0, done.stderr[-2000:]

    got = [m for m in manager.messages if m != "WATCHDOG=1"]
    assert "WATCHDOG=1" in manager.messages  # fed from the event loop, every 0.2 s
    ready = next(i for i, m in enumerate(got) if m.startswith("READY=1\n"))
    assert got[ready].startswith(f"READY=1\nSTATUS=starting: release/{RELEASE} at ")
    progress = [m.removeprefix("STATUS=") for m in got[ready + 1 : -1]]
    assert all(not m.startswith(("READY", "STOPPING")) for m in got[ready + 1 : -1])
    # batch 3's FU-302 needs nothing: it runs alongside batch 1 from the start
    assert any(re.fullmatch(r"batches 1, 3: [1-3] running, 0/6 landed", line) for line in progress)
    landed = [int(m.group(1)) for line in progress if (m := re.search(r"(\d)/6 landed", line))]
    assert landed == sorted(landed), progress  # the line follows the release forward
    assert {0, 2, 4, 6} <= set(landed), progress
    assert progress[-1] == "release completed: 6/6 landed"
    assert got[-1] == "STOPPING=1"
