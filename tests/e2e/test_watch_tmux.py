"""`orchd watch` as a person uses it: in a real terminal (tmux), from another shell, while the
status file changes under it. Each test reads the screen (capture-pane) and types keys."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.release_lock import pid_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

AGENT = "bc-5f1e0c2d-7a3b-4c9d-8e6f-0123456789ab"
WAIT_S = 10.0


def release(status: str = "running", landed: int = 1) -> dict[str, Any]:
    """v0.3.0 with three FUs in one batch; the first `landed` have landed."""
    units: list[dict[str, Any]] = []
    for index, fu_id in enumerate(("FU-201", "FU-202", "FU-203")):
        if index < landed:
            units.append(
                {
                    "fu_id": fu_id,
                    "status": "completed",
                    "attempts": 1,
                    "duration_s": 600,
                    "merge_commit": f"{index}" * 40,
                    "delivered_branch": f"cursor/{fu_id.lower()}-work-4e2a",
                }
            )
        elif index == landed:
            units.append(
                {
                    "fu_id": fu_id,
                    "status": "running",
                    "attempts": 2,
                    "worker_agent_id": AGENT,
                    "started_at": "2026-11-30T10:00:00Z",
                    "branch": f"cursor/{fu_id.lower()}-work-9f00",
                }
            )
        else:
            units.append({"fu_id": fu_id, "status": "pending", "attempts": 0})
    return {
        "release_id": "v0.3.0",
        "orchestrator": {
            "agent_id": "orch-1",
            "status": status,
            "current_batch": 0,
            "started_at": "2026-11-30T09:50:00Z",
            "completed_at": "2026-11-30T11:00:00Z" if status == "completed" else None,
            "pid": os.getpid(),
        },
        "batches": [{"batch_id": 0, "status": "running", "feature_units": units}],
        "errors": [
            {
                "at": "2026-11-30T10:05:00Z",
                "fu_id": "FU-202",
                "batch_id": 0,
                "message": "run ERROR: attempt 1 hit an unrecoverable error",
            }
        ],
    }


def write(path: Path, data: dict[str, Any]) -> None:
    """As orchd's writer does: a whole new file, renamed over the old one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


class Pane:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-100")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def wait_for(self, text: str) -> str:
        """The screen once it shows `text` (the watcher polls every 0.5 s)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
            time.sleep(0.1)


@pytest.fixture
def status_file(tmp_path: Path) -> Path:
    folder = tmp_path / "docs/releases/in_progress/v0.3.0"
    folder.mkdir(parents=True)
    path = folder / "agent_status.json"
    write(path, release())
    # what a running orchd leaves in its state dir: its pid (the lock itself is not needed)
    pid_file = pid_path(path, tmp_path / "state")
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{os.getpid()}\n")
    return path


@pytest.fixture
def pane(tmp_path: Path, status_file: Path) -> Iterator[Pane]:
    """`orchd watch v0.3.0` in an 80×40 terminal; the shell prints its exit code after."""
    socket = f"orchd-test-{uuid.uuid4().hex[:12]}"
    command = (
        f"{shlex.quote(sys.executable)} -m orchestrator watch v0.3.0 "
        f"--repo-root {shlex.quote(str(tmp_path))} --state-dir {shlex.quote(str(tmp_path))}/state;"
        " echo EXIT=$?; sleep 60"
    )
    pane = Pane(socket)
    terminal = ["new-session", "-d", "-x", "80", "-y", "40"]
    subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *terminal, "sh", "-c", command],
        check=True,
        timeout=10,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    try:
        yield pane
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10)


def test_watch_shows_the_release_and_redraws_when_the_file_changes(
    pane: Pane, status_file: Path
) -> None:
    screen = pane.wait_for("landed 1/3")
    assert "v0.3.0 — running (batch 0)" in screen
    assert f"FU-202 agent {AGENT}" in screen
    assert f"orchd (pid {os.getpid()}) is running it" in screen
    assert "type an FU number + Enter: its details · e: errors · Esc: back · q: quit" in screen
    assert max(len(line) for line in screen.splitlines()) <= 80

    write(status_file, release(landed=2))

    screen = pane.wait_for("landed 2/3")
    assert "landed 1/3" not in screen
    assert f"FU-203 agent {AGENT}" in screen


def test_keys_show_an_fus_detail_and_the_errors_and_q_quits(pane: Pane) -> None:
    pane.wait_for("landed 1/3")

    pane.keys("202")
    pane.wait_for("FU: 202_")
    pane.keys("Enter")
    screen = pane.wait_for("FU-202 — running (batch 0), attempt 2")
    assert "cursor/fu-202-work-9f00" in screen
    assert AGENT in screen
    assert "landed 1/3" not in screen  # the detail replaced the report

    pane.keys("e")
    screen = pane.wait_for("errors (1 failure)")
    assert "10:05:00  FU-202: run ERROR: attempt 1 hit an unrecoverable error" in screen

    pane.keys("Escape")
    pane.wait_for("landed 1/3")
    pane.keys("q")
    screen = pane.wait_for("EXIT=10")  # still running: `orchd status`'s code for it
    assert "v0.3.0 — running (batch 0)" in screen  # the last view stays on the screen


def test_watch_ends_with_the_release_and_its_exit_code(pane: Pane, status_file: Path) -> None:
    pane.wait_for("landed 1/3")

    write(status_file, release(status="completed", landed=3))

    screen = pane.wait_for("EXIT=0")
    assert "v0.3.0 — completed (batch 0)" in screen
    assert "landed 3/3 · took 1h10m00s" in screen
