"""`orchd status`: a release's status file as a report for 80 columns, or one FU in full, and
an exit code that says the release's state (cli/release_state)."""

from __future__ import annotations

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
    recorded_status_path,
    release_dir_copy,
)
from orchestrator.errors import OrchdError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orchestrator.cli.release_state import ReleaseState
    from orchestrator.models.release import ReleasePlan
    from orchestrator.models.status import StatusFile

FOLD_AFTER = 40  # FU rows `orchd status` lists before it counts the rest

EXIT_CODES_HELP = (
    "Exit code: 0 completed, 1 failed, 2 no such release (or no status file yet), 3 aborted, "
    "10 running, 11 waiting for you (`orchd decide`), 12 stopped with no orchd running it "
    "(`orchd start` resumes)."
)


def find_status_file(
    release_id: str, repo_root: Path, release_dir: Path | None
) -> tuple[Path, ReleasePlan | None]:
    """The release's status file and its plan (None when it does not load); exits 2 with one
    line when there is no status file."""
    from orchestrator.cli.release_state import ReleaseState

    try:
        path, plan = locate_release(release_id, repo_root, release_dir)
    except OrchdError as exc:
        raise fail(exc) from None
    if path.exists():
        return path, plan
    found = release_dir_copy(release_id, repo_root, release_dir)
    if found is None or found == path:
        typer.echo(f"orchd: {path}: no status file yet (run `orchd start {release_id}`)", err=True)
        raise typer.Exit(int(ReleaseState.NO_SUCH_RELEASE))
    typer.echo(
        f"note: {path} (the manifest's status_file) does not exist; showing {found}", err=True
    )
    return found, plan


def _read(path: Path, *, as_json: bool) -> tuple[bytes, StatusFile, list[str]]:
    """The file's bytes (with `--json`, read under the writer's lock), its snapshot and what
    was odd in it; a file that is not JSON exits with one line (after its bytes, with --json)."""
    from orchestrator.adapters.status_read import load_status_file

    raw = b""
    if as_json:
        from orchestrator.adapters.status_store import read_bytes_locked

        raw = read_bytes_locked(path)
    try:
        snapshot, notes = load_status_file(path)
    except OrchdError as exc:
        if as_json:
            typer.echo(raw.decode(errors="replace"), nl=False)
        raise fail(exc) from None
    return raw, snapshot, notes


def _fu_id(snapshot: StatusFile, query: str) -> str:
    from orchestrator.adapters.report_detail import find_fus
    from orchestrator.cli.release_state import ReleaseState

    matches = find_fus(snapshot, query)
    if len(matches) == 1:
        return matches[0]
    known = [fu.fu_id for batch in snapshot.batches for fu in batch.feature_units]
    problem = f"means {', '.join(matches)}" if matches else f"is not one of: {', '.join(known)}"
    typer.echo(f"orchd: {query}: {problem}", err=True)
    raise typer.Exit(int(ReleaseState.NO_SUCH_RELEASE))


def status(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.1.")],
    fu: Annotated[
        str | None,
        typer.Argument(help="Show one FU in full: its id, or its number (105 for FU-105)."),
    ] = None,
    repo_root: RepoRoot = Path("."),
    release_dir: ReleaseDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the file as it is.")] = False,
    state_dir: StateDir = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help=f"List every FU (past {FOLD_AFTER} FUs: those at work or in trouble, the rest "
            "counted by status).",
        ),
    ] = False,
) -> None:
    """Show a release: progress, ETA, the open question, each FU and batch (or one FU)."""
    from orchestrator.adapters.release_lock import running_orchd
    from orchestrator.cli.release_state import plan_facts, recorded_facts, release_state

    # the release is loaded (the manifest parsed) only when the file cannot be found without
    # it, is another release's, or lacks the plan's facts the report needs
    quick = recorded_status_path(release_id, repo_root, release_dir)
    if quick is not None:
        path, loaded = quick, None
    else:
        path, loaded = find_status_file(release_id, repo_root, release_dir)
    raw, snapshot, notes = _read(path, as_json=as_json)
    if quick is not None and snapshot.release_id != release_id:
        quick = None
        path, loaded = find_status_file(release_id, repo_root, release_dir)
        raw, snapshot, notes = _read(path, as_json=as_json)
    pid = running_orchd(path, state_dir)
    state = release_state(snapshot, orchd_running=pid is not None)
    if as_json:
        typer.echo(raw.decode(), nl=False)
        raise typer.Exit(int(state))
    if fu is not None:
        from rich.console import Console

        from orchestrator.adapters.report_detail import fu_detail
        from orchestrator.clock import utcnow

        Console(highlight=False).print(fu_detail(snapshot, _fu_id(snapshot, fu), utcnow()))
        raise typer.Exit(int(state))
    plan = recorded_facts(snapshot)
    if plan is None:  # a file from before orchd recorded the plan's facts in it
        if quick is not None:
            _path, loaded = find_status_file(release_id, repo_root, release_dir)
        plan = plan_facts(loaded)
    print_report(
        snapshot,
        pid=pid,
        state=state,
        parallel=plan.parallel,
        estimates_h=plan.estimates_h,
        options=find_again_options(repo_root, release_dir, state_dir),
        max_fu_rows=None if show_all else FOLD_AFTER,
    )
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    raise typer.Exit(int(state))


def print_report(
    snapshot: StatusFile,
    *,
    pid: int | None,
    state: ReleaseState,
    parallel: int | None = None,
    estimates_h: Mapping[str, float] | None = None,
    options: str = "",
    max_fu_rows: int | None = None,
) -> None:
    """The report, the timing of a finished release, who runs it, and the failures (each
    once: an FU's escalation and its batch's failure are one)."""
    from rich.console import Console
    from rich.text import Text

    from orchestrator.adapters.report import one_line, status_report, timing_line
    from orchestrator.cli.release_state import ReleaseState
    from orchestrator.clock import utcnow
    from orchestrator.core.failures import failures

    console = Console(highlight=False)
    # not cropped: the command that answers the open question stays whole, however long
    report = status_report(
        snapshot,
        now=utcnow(),
        parallel=parallel,
        estimates_h=estimates_h,
        options=options,
        max_fu_rows=max_fu_rows,
    )
    console.print(report, crop=False)
    lines = [timing_line(snapshot)]
    if pid is not None:
        lines.append(f"orchd (pid {pid}) is running this release")
    elif state is ReleaseState.STOPPED and snapshot.orchestrator.status == "detached":
        lines.append(
            f"detached: its agents kept running; `orchd start {snapshot.release_id}` adopts them"
        )
    elif state is ReleaseState.STOPPED:
        lines.append(
            f"no orchd is running this release; `orchd start {snapshot.release_id}` resumes it"
        )
    found = failures(snapshot.errors)
    if found:
        count = f"{len(found)} failure" + ("" if len(found) == 1 else "s")
        lines.append(f"{count} recorded; last: {one_line(found[-1].error.message, 200)}")
    for line in filter(None, lines):
        console.print(Text(line))


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES_HELP)(status)
