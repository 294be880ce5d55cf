"""`orchd detach` from another process: signal the orchd holding the release lock and wait
until it has let go and exited.

Separate from the run: this side never runs a release, it only finds and signals one.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.adapters.release_lock import pid_path, running_orchd
from orchestrator.adapters.status_read import load_status_file
from orchestrator.errors import ExitCode, InputError, OrchdError
from orchestrator.models.status import StatusFile


@dataclass(frozen=True)
class DetachedDaemon:
    """An orchd that `request_detach` saw exit, and the status file it left."""

    pid: int
    snapshot: StatusFile | None


class DetachTimedOut(OrchdError):
    """The orchd asked to detach is still running after the wait (exit 1)."""

    exit_code = ExitCode.RELEASE_FAILED


def request_detach(
    status_path: Path, state_dir: Path | None = None, *, wait_s: float, poll_s: float = 0.1
) -> DetachedDaemon:
    """`orchd detach`: SIGUSR1 to the orchd holding this release's lock (in `state_dir`, as
    `running_orchd`), then wait (at most `wait_s`) until it has let go of the lock and exited,
    so a `start` right after never finds the old one still there."""
    pid = running_orchd(status_path, state_dir)
    if pid is None:
        raise InputError(
            f"{status_path}: no orchd is running this release (nothing to detach; "
            "--state-dir names the state dir of an orchd started with one)"
        )
    if pid <= 0:
        lock = pid_path(status_path, state_dir)
        raise InputError(f"{lock}: the release is locked but holds no pid")
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        raise InputError(
            f"{status_path}: no orchd is running this release (pid {pid} is gone)"
        ) from None
    except PermissionError:
        raise InputError(
            f"cannot signal orchd (pid {pid}): it runs as another user (run this as that user; "
            "under systemd: systemctl reload orchd@<release>)"
        ) from None
    deadline = time.monotonic() + wait_s
    while running_orchd(status_path, state_dir) is not None or not _exited(pid):
        if time.monotonic() >= deadline:
            raise DetachTimedOut(
                f"orchd (pid {pid}) was asked to detach but still runs after {wait_s:g}s "
                "(it may be finishing a git operation; run `orchd detach` again to wait on)"
            )
        time.sleep(poll_s)
    snapshot = load_status_file(status_path)[0] if status_path.exists() else None
    return DetachedDaemon(pid, snapshot)


def _exited(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet (it holds nothing any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): alive until reaped
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
