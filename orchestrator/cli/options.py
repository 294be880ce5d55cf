"""Options and helpers every command shares: where the release is, how errors are printed.

Light to import (every command's signature uses it): the release loader is imported when a
release is looked up.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.errors import InputError, OrchdError

if TYPE_CHECKING:
    from orchestrator.models.release import ReleasePlan

STATUS_FILE_NAME = "agent_status.json"
RepoRoot = Annotated[
    Path, typer.Option("--repo-root", help="Root of the repository holding docs/releases/.")
]
ReleaseDir = Annotated[
    Path | None,
    typer.Option("--release-dir", help="Release directory (default docs/releases/in_progress/ID)."),
]
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help=(
            "orchd's own files: git cache, gate worktrees and logs, the release lock, decisions"
            " (default $STATE_DIRECTORY, else $XDG_STATE_HOME/orchd, else ~/.local/state/orchd)."
            " Give every command the same one."
        ),
    ),
]


def fail(exc: OrchdError) -> typer.Exit:
    """Print an expected error in one line per problem and pick its exit code."""
    for line in str(exc).splitlines() or [""]:
        typer.echo(f"orchd: {line}", err=True)
    return typer.Exit(int(exc.exit_code))


def locate_status_file(release_id: str, repo_root: Path, release_dir: Path | None) -> Path:
    """The manifest's status_file when the manifest loads, else the release dir's file."""
    return locate_release(release_id, repo_root, release_dir)[0]


def locate_release(
    release_id: str, repo_root: Path, release_dir: Path | None
) -> tuple[Path, ReleasePlan | None]:
    """The status file (as `locate_status_file`) and the plan, None when it does not load (a
    worker's branch holds only the status file): one load of the release for both."""
    from orchestrator.adapters.release_loader import load_release
    from orchestrator.adapters.release_lock import status_path_for
    from orchestrator.adapters.release_paths import resolve_release_dir

    try:
        plan = load_release(release_id, repo_root=repo_root, release_dir=release_dir)
    except InputError:
        found = release_dir_copy(release_id, repo_root, release_dir)
        if found is not None:
            return found, None
        return resolve_release_dir(release_id, repo_root, release_dir) / STATUS_FILE_NAME, None
    return status_path_for(plan, repo_root), plan


def recorded_status_path(release_id: str, repo_root: Path, release_dir: Path | None) -> Path | None:
    """The status file, found without loading the release: the manifest's `status_file` read
    from its text when it is one plain line, else the release folder's file. None when that
    is not sure (an unusual manifest) or there is no file: load the release to know. What only
    reads the file (`orchd status`) skips the manifest parser and the plan models this way."""
    from orchestrator.adapters.release_paths import (
        MANIFEST,
        locate_release_dir,
        plain_status_file,
        release_repository,
    )

    try:
        folder, _note = locate_release_dir(release_id, repo_root, release_dir)
        text = (folder / MANIFEST).read_text(encoding="utf-8")
    except (InputError, OSError, UnicodeDecodeError):
        return None
    found = plain_status_file(text)
    if found is None:
        return None
    path = folder / STATUS_FILE_NAME
    if found:
        root = release_repository(repo_root, release_dir)
        relative = Path(found)
        if root is None or relative.is_absolute() or ".." in relative.parts:
            return None
        path = root / relative
    return path if path.is_file() else None


def release_dir_copy(release_id: str, repo_root: Path, release_dir: Path | None) -> Path | None:
    """An existing status file in the release dir, even one with no manifest beside it (a
    worker's branch commits only the status file)."""
    from orchestrator.adapters.release_paths import RELEASE_ID_RE

    if release_dir is not None:
        candidates = [release_dir]
    elif RELEASE_ID_RE.fullmatch(release_id):  # never a path built from a bad id
        releases = repo_root / "docs" / "releases"
        candidates = [releases / "in_progress" / release_id, releases / release_id]
    else:
        return None
    for candidate in candidates:
        if (candidate / STATUS_FILE_NAME).is_file():
            return candidate / STATUS_FILE_NAME
    return None


def find_again_options(
    repo_root: Path, release_dir: Path | None, state_dir: Path | None = None
) -> str:
    """The options `orchd decide` (or status) needs to find this release and its running
    orchd again from any directory: absolute paths, only those that differ from the defaults."""
    args = []
    if repo_root.resolve() != Path.cwd().resolve():
        args.append(f"--repo-root {shlex.quote(str(repo_root.resolve()))}")
    if release_dir is not None:
        args.append(f"--release-dir {shlex.quote(str(release_dir.resolve()))}")
    if state_dir is not None:
        args.append(f"--state-dir {shlex.quote(str(state_dir.resolve()))}")
    return " ".join(args)
