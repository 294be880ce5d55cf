"""`orchd dashboard` as a real process on 127.0.0.1, as a person starts it."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> int:
        """SIGTERM, as systemd or Ctrl-C would; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=START_TIMEOUT_S):
            raise TimeoutError("orchd dashboard printed no URL")
    line = process.stdout.readline().strip()
    if not line.startswith("http://"):
        err = process.stderr.read() if process.stderr and process.poll() is not None else ""
        raise RuntimeError(f"orchd dashboard did not start: {line!r} {err}")
    return line


@contextlib.contextmanager
def running_dashboard(
    repo_root: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[Dashboard]:
    """`orchd dashboard --repo-root ROOT --port 0 ARGS…`; stopped (and checked) on exit."""
    environment = {k: v for k, v in os.environ.items() if k != "ORCHD_DASHBOARD_TOKEN"}
    environment.update(env or {})
    command = [sys.executable, "-m", "orchestrator", "dashboard", "--repo-root", str(repo_root)]
    process = subprocess.Popen(
        [*command, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    board = Dashboard(url="", process=process)
    try:
        board.url = _first_line(process)
        yield board
    finally:
        board.stop()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
