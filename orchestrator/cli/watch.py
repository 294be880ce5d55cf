"""`orchd watch`: the status report, live, from any shell, until the release ends.

Read-only: it polls the status file (no port, no lock) and exits with `orchd status`'s code
for the state the release ended in (or was in when you pressed q).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.options import (
    ReleaseDir,
    RepoRoot,
    StateDir,
    fail,
    find_again_options,
    locate_release,
)
from orchestrator.cli.status import EXIT_CODES_HELP, print_report
from orchestrator.errors import OrchdError

if TYPE_CHECKING:
    from orchestrator.models.status import StatusFile


def _load(path: Path) -> StatusFile:
    from orchestrator.adapters.status_read import load_status_file

    return load_status_file(path)[0]


def watch(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.1.")],
    repo_root: RepoRoot = Path("."),
    release_dir: ReleaseDir = None,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="Seconds between looks at the file.")
    ] = 0.5,
    state_dir: StateDir = None,
) -> None:
    """Watch a release live, until it ends (keys: FU number + Enter, e errors, q quit)."""
    from orchestrator.adapters.watch_screen import Watch, WatchSource
    from orchestrator.cli.release_state import (
        ReleaseState,
        orchd_alive,
        plan_facts,
        release_state,
    )

    try:
        path, loaded = locate_release(release_id, repo_root, release_dir)
    except OrchdError as exc:
        raise fail(exc) from None
    plan = plan_facts(loaded)
    source = WatchSource(
        path=path,
        load=_load,
        orchd_pid=lambda: orchd_alive(path, state_dir),
        parallel=plan.parallel,
        estimates_h=plan.estimates_h,
        options=find_again_options(repo_root, release_dir, state_dir),
        release_id=release_id,
    )
    session = Watch(source, poll_s=poll)
    if sys.stdin.isatty() and sys.stdout.isatty():
        snapshot = session.run_terminal(sys.stdin, sys.stdout)
    else:
        snapshot = session.run_plain(sys.stdout)
    if snapshot is None:
        typer.echo(f"orchd: {path}: no status file yet (run `orchd start {release_id}`)", err=True)
        raise typer.Exit(int(ReleaseState.NO_SUCH_RELEASE))
    pid = orchd_alive(path, state_dir)
    state = release_state(snapshot, orchd_running=pid is not None)
    print_report(
        snapshot,
        pid=pid,
        state=state,
        parallel=plan.parallel,
        estimates_h=plan.estimates_h,
        options=source.options,
    )
    raise typer.Exit(int(state))


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES_HELP)(watch)
