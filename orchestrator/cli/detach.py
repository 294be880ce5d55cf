"""`orchd detach`: stop the orchd running a release without stopping its agents.

For an upgrade or a reboot: the agents keep working on Cursor, the status file says `detached`,
and the next `orchd start` adopts every run (`systemctl reload orchd@<release>` runs this).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import ReleaseDir, RepoRoot, StateDir, fail, locate_status_file
from orchestrator.errors import OrchdError


def detach(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.1.")],
    repo_root: RepoRoot = Path("."),
    release_dir: ReleaseDir = None,
    state_dir: StateDir = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.0, help="Seconds to wait for orchd to exit.")
    ] = 60.0,
) -> None:
    """Stop supervising a running release and leave every agent running; `orchd start` adopts
    them. Exit 0 once that orchd has exited (it exits 5, "detached"), 1 if it still runs after
    --timeout, 2 if no orchd runs this release."""
    from orchestrator.daemon import request_detach
    from orchestrator.models.status import FuStatus, ReleaseStatus

    active = {s.value for s in FuStatus if s.is_active}
    try:
        path = locate_status_file(release_id, repo_root, release_dir)
        gone = request_detach(path, state_dir, wait_s=timeout)
    except OrchdError as exc:
        raise fail(exc) from None
    snapshot = gone.snapshot
    status = snapshot.orchestrator.status if snapshot else None
    if snapshot is None or status != ReleaseStatus.DETACHED.value:
        ended = f"the release is {status}" if status else "it left no status file"
        typer.echo(f"orchd (pid {gone.pid}) exited before it could detach: {ended}")
        return
    running = sorted(
        fu.fu_id for b in snapshot.batches for fu in b.feature_units if fu.status in active
    )
    typer.echo(
        f"orchd (pid {gone.pid}) detached from {release_id}: {len(running)} agent(s) keep "
        f"running; `orchd start {release_id}` adopts them"
    )


def register(app: typer.Typer) -> None:
    app.command()(detach)
