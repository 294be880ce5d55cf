"""Where a release's status file and lock are, and which orchd holds the lock.

The read-only commands (`orchd status`, `watch`, `decide`) need these three answers and nothing
else of the daemon; importing the daemon would load the engine and the Cursor client on every
`orchd status`. The daemon takes the lock (`release_lock`) in the file `pid_path` names.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.adapters.state_dir import release_runtime_dir, resolve_state_dir

if TYPE_CHECKING:
    from orchestrator.models.release import ReleasePlan

STATUS_FILE_NAME = "agent_status.json"


def status_path_for(plan: ReleasePlan, repo_root: Path) -> Path:
    """`agent_spawning.status_file` (relative to the repo root), else the release dir's file."""
    if plan.limits.status_file:
        path = Path(plan.limits.status_file)
        return path if path.is_absolute() else repo_root / path
    return Path(plan.release_dir) / STATUS_FILE_NAME


def pid_path(status_path: Path, state_dir: Path | None = None) -> Path:
    """`orchd.pid` in the release's folder of the state dir: the release lock, holding the
    running orchd's pid (`--state-dir`, else the environment's state dir)."""
    return release_runtime_dir(status_path, resolve_state_dir(state_dir)) / "orchd.pid"


def running_orchd(status_path: Path, state_dir: Path | None = None) -> int | None:
    """The pid of the orchd holding this release's lock, or None when none is running."""
    lock_file = pid_path(status_path, state_dir)
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
