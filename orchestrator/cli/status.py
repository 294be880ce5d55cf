"""`orchd status`: show a release's status file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.adapters.console import ProgressView
from orchestrator.adapters.release_loader import load_status_file
from orchestrator.adapters.report import status_report
from orchestrator.adapters.status_store import read_bytes_locked
from orchestrator.cli.options import (
    ReleaseDir,
    RepoRoot,
    fail,
    locate_status_file,
    release_dir_copy,
)
from orchestrator.daemon import running_orchd
from orchestrator.errors import ExitCode, OrchdError


def status(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.1.")],
    repo_root: RepoRoot = Path("."),
    release_dir: ReleaseDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the file as it is.")] = False,
) -> None:
    """Show a release's status: its release branch, each FU and batch (or the raw file, --json)."""
    try:
        path = locate_status_file(release_id, repo_root, release_dir)
    except OrchdError as exc:
        raise fail(exc) from None
    if not path.exists():
        found = release_dir_copy(release_id, repo_root, release_dir)
        if found is None or found == path:
            typer.echo(
                f"orchd: {path}: no status file yet (run `orchd start {release_id}`)", err=True
            )
            raise typer.Exit(int(ExitCode.BAD_INPUT))
        typer.echo(
            f"note: {path} (the manifest's status_file) does not exist; showing {found}", err=True
        )
        path = found
    if as_json:
        typer.echo(read_bytes_locked(path).decode(), nl=False)
        return
    try:
        snapshot, notes = load_status_file(path)
    except OrchdError as exc:
        raise fail(exc) from None
    view = ProgressView(live=False)
    view.console.print(status_report(snapshot))
    pid = running_orchd(path)
    if pid is not None:
        typer.echo(f"orchd (pid {pid}) is running this release")
    elif snapshot.orchestrator.status in {"running", "pending"}:
        typer.echo("no orchd is running this release (the file is from a run that stopped)")
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    if snapshot.errors:
        typer.echo(f"{len(snapshot.errors)} error(s); last: {snapshot.errors[-1].message}")
    awaiting = snapshot.orchestrator.awaiting
    if awaiting:
        typer.echo(f"awaiting: {json.dumps(awaiting)}")


def register(app: typer.Typer) -> None:
    app.command()(status)
