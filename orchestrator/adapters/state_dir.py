"""Where orchd keeps what is not the release's record: its state directory.

The git cache, gate worktrees, and per release the lock, the `orchd decide` control files and
the gate logs live here, never beside the status file in the user's checkout (where they would
show in `git status`). Every command finds a release's folder from the same two inputs: the
state dir (`--state-dir`, else the environment) and the status file's path.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_LENGTH = 40


def default_state_dir(env: Mapping[str, str]) -> Path:
    """`$STATE_DIRECTORY` (systemd's StateDirectory=orchd), else `$XDG_STATE_HOME/orchd`, else
    `~/.local/state/orchd`: orchd's own files, never the user's checkout."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    xdg = env.get("XDG_STATE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "orchd"


def resolve_state_dir(state_dir: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """`--state-dir` when given, else the default from `env` (the process environment)."""
    if state_dir is not None:
        return state_dir
    return default_state_dir(os.environ if env is None else env)


def release_runtime_dir(status_path: Path, state_dir: Path) -> Path:
    """`<state>/releases/<folder>-<hash>/`: one folder per status file, named by the status
    file's folder (the release id in neotoma's layout) and a hash of its real absolute path, so
    two checkouts of one release never share a lock or a decision."""
    real = os.path.realpath(status_path)
    digest = hashlib.sha256(real.encode(errors="surrogateescape")).hexdigest()[:12]
    name = _UNSAFE.sub("_", Path(real).parent.name)[:_NAME_LENGTH].strip("._") or "release"
    return state_dir / "releases" / f"{name}-{digest}"
