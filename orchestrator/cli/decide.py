"""`orchd decide`: answer a release that waits for a human (failed batch, checkpoint).

The daemon publishes what it waits for in the status file (`orchestrator.awaiting`); this
command checks the answer against it, drops it in the release's control file (in orchd's state
dir, found from the status file's path as the daemon finds it) and waits briefly to report
whether a running orchd took it.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.options import ReleaseDir, RepoRoot, StateDir, fail, locate_status_file
from orchestrator.errors import ExitCode, OrchdError


class Action(StrEnum):
    RETRY = "retry"
    FIX = "fix"
    SKIP = "skip"
    ABORT = "abort"
    CONTINUE = "continue"


def _bad(message: str) -> typer.Exit:
    typer.echo(f"orchd: {message}", err=True)
    return typer.Exit(int(ExitCode.BAD_INPUT))


def _batch_of(awaiting: dict[str, Any]) -> Decimal | None:
    from orchestrator.models.batch_id import parse_batch_id

    try:
        return parse_batch_id(awaiting.get("batch_id"))
    except ValueError:
        return None


def _choices_of(awaiting: dict[str, Any]) -> list[str]:
    choices = awaiting.get("choices")
    if not isinstance(choices, list):
        return []
    return [str(choice) for choice in choices]


def _describe_awaited(awaiting: dict[str, Any]) -> str:
    from orchestrator.models.batch_id import format_batch_id

    kind = str(awaiting.get("kind") or "decision").replace("_", " ")
    batch = _batch_of(awaiting)
    return kind if batch is None else f"{kind} of batch {format_batch_id(batch)}"


def _check_against_awaiting(
    release_id: str,
    awaiting: dict[str, Any] | None,
    action: Action,
    batch: Decimal | None,
    *,
    force: bool,
) -> Decimal | None:
    """The batch the decision is for; exits 2 when the answer does not fit the question."""
    from orchestrator.models.batch_id import format_batch_id

    if not awaiting:
        if force:
            return batch
        raise _bad(
            f"release {release_id} is not waiting for a decision "
            f"(see `orchd status {release_id}`; --force queues one for later anyway)"
        )
    choices = _choices_of(awaiting)
    if choices and action.value not in choices:
        raise _bad(
            f"{action.value} is not a choice for the {_describe_awaited(awaiting)}; "
            f"choose one of: {', '.join(choices)}"
        )
    awaited_batch = _batch_of(awaiting)
    if batch is not None and awaited_batch is not None and batch != awaited_batch:
        raise _bad(
            f"--batch {format_batch_id(batch)}: release {release_id} is waiting on batch "
            f"{format_batch_id(awaited_batch)} ({_describe_awaited(awaiting)})"
        )
    return batch if batch is not None else awaited_batch


def decide(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.1.")],
    action: Annotated[Action, typer.Argument(help="retry, fix, skip, abort or continue.")],
    batch: Annotated[
        str | None, typer.Option("--batch", help="The batch the decision is for (checked).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded in the log.")] = "",
    all_fus: Annotated[
        bool, typer.Option("--all", help="retry: relaunch every FU of the batch, not only failed.")
    ] = False,
    repo_root: RepoRoot = Path("."),
    release_dir: ReleaseDir = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for a running orchd to take it.")
    ] = 10.0,
    force: Annotated[
        bool, typer.Option("--force", help="Queue even when nothing is awaited yet.")
    ] = False,
    state_dir: StateDir = None,
) -> None:
    """Decide for a release waiting on a human. Exit 0 delivered, 1 queued, 2 refused."""
    from orchestrator.adapters.decisions import (
        Decision,
        decision_path,
        rejection_of,
        submit_decision,
        wait_consumed,
    )
    from orchestrator.adapters.state_dir import release_runtime_dir, resolve_state_dir
    from orchestrator.adapters.status_read import load_status_file
    from orchestrator.models.batch_id import parse_batch_id

    batch_id: Decimal | None = None
    if batch is not None:
        try:
            batch_id = parse_batch_id(batch)
        except ValueError as exc:
            raise _bad(f"--batch: {exc}") from None
    if all_fus and action is not Action.RETRY:
        raise _bad(f"--all applies to retry only, not {action.value}")
    try:
        path = locate_status_file(release_id, repo_root, release_dir)
    except OrchdError as exc:
        raise fail(exc) from None
    if not path.exists():
        raise _bad(f"{path}: no status file (has `orchd start {release_id}` run?)")
    try:
        snapshot, _notes = load_status_file(path)
    except OrchdError as exc:
        raise fail(exc) from None
    batch_id = _check_against_awaiting(
        release_id, snapshot.orchestrator.awaiting, action, batch_id, force=force
    )
    decision = Decision(action=action.value, batch_id=batch_id, all_fus=all_fus, reason=reason)
    control = release_runtime_dir(path, resolve_state_dir(state_dir))
    try:
        submit_decision(control, decision)
    except OrchdError as exc:
        raise fail(exc) from None
    if wait_consumed(control, wait, decision_id=decision.id):
        rejected = rejection_of(control, decision.id)
        if rejected is not None:
            raise _bad(f"orchd did not use it: {rejected} (see `orchd status {release_id}`)")
        typer.echo(f"delivered: {decision.describe()}")
        return
    typer.echo(
        f"queued: no orchd took it within {wait:g}s (is it running? orchd status "
        f"{release_id}); a running orchd takes it when it next waits, a restart discards it "
        f"(it is in {decision_path(control)}: an orchd started with another --state-dir "
        "does not see it)"
    )
    raise typer.Exit(int(ExitCode.RELEASE_FAILED))


def register(app: typer.Typer) -> None:
    app.command()(decide)
