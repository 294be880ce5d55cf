"""`orchd fake-cursor` as a child process: for the demo, end-to-end tests and the benchmark."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from pathlib import Path


class FakeCursorProcess:
    """Starts the fake on a free loopback port; `url` is its base URL (ending in `/v1`)."""

    def __init__(
        self,
        *,
        api_key: str,
        scenario: Path | None = None,
        start_timeout_s: float = 20.0,
        max_active_agents: int | None = None,
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "orchestrator",
            "fake-cursor",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--api-key",
            api_key,
        ]
        if scenario is not None:
            argv += ["--scenario", str(scenario)]
        if max_active_agents is not None:
            argv += ["--max-active-agents", str(max_active_agents)]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], start_timeout_s)
        self.url = self.proc.stdout.readline().strip() if ready else ""
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError("orchd fake-cursor did not start (run it by hand to see why)")

    @property
    def root(self) -> str:
        """The server root, where the `/_fake/...` inspection endpoints live."""
        return self.url.removesuffix("/v1")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time; always reaps and closes the pipe."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> FakeCursorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
