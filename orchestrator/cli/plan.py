"""`orchd plan`: predict a release's makespan under orchd's policy, before running it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import ReleaseDir, RepoRoot
from orchestrator.errors import ExitCode, InputError, ValidationFailed


class CheckpointMode(StrEnum):
    CONTINUE = "continue"
    WAIT = "wait"


def plan(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.0.")],
    repo_root: RepoRoot = Path("."),
    release_dir: ReleaseDir = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Also write the Gantt chart as SVG to this file.")
    ] = None,
    on_checkpoint: Annotated[
        CheckpointMode,
        typer.Option(help="continue: checkpoints hold nothing; wait: they hold later batches."),
    ] = CheckpointMode.CONTINUE,
    answer_hours: Annotated[
        float,
        typer.Option(help="With --on-checkpoint wait: hours a person takes to answer.", min=0.0),
    ] = 0.0,
    gate_minutes: Annotated[
        float, typer.Option(help="Minutes one batch gate takes (gates run one at a time).", min=0.0)
    ] = 0.0,
    width: Annotated[int, typer.Option(help="Chart width in columns.", min=40)] = 80,
) -> None:
    """Predict the release's makespan (orchd's policy) beside the lower bound, the strict-batch
    barrier and the sequential sum, with a Gantt chart of the predicted schedule."""
    from orchestrator.adapters.plan_chart import comparison_lines, in_unit, svg_gantt, text_gantt
    from orchestrator.adapters.release_loader import load_release
    from orchestrator.core.estimates import plan_durations_h
    from orchestrator.core.simulate import Limits, compare, simulate

    try:
        loaded = load_release(release_id, repo_root=repo_root, release_dir=release_dir)
    except ValidationFailed as exc:
        for error in exc.errors:
            typer.echo(error.render(), err=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except InputError as exc:
        typer.echo(f"orchd: {exc}", err=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    durations = plan_durations_h(loaded)
    slots = loaded.limits.effective_parallel
    high = loaded.limits.max_high_risk_in_parallel
    limits = Limits(
        slots,
        high,
        checkpoint_wait_h=answer_hours if on_checkpoint is CheckpointMode.WAIT else None,
        gate_h=gate_minutes / 60.0,
    )
    try:
        result = compare(loaded, durations, limits)
    except ValueError as exc:
        typer.echo(f"orchd: {release_id}: {exc}", err=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    unit = loaded.estimate_unit
    known = sum(1 for f in durations if loaded.fu(f).estimate_hours)
    typer.echo(
        f"Release {release_id}: {len(durations)} FUs in {len(loaded.batches)} batches, "
        f"{slots} slot(s) ({high} high-risk)"
    )
    if known < len(durations):
        default = next(h for f, h in durations.items() if not loaded.fu(f).estimate_hours)
        typer.echo(
            f"estimates for {known} of {len(durations)} FUs; the others count "
            f"{in_unit(default, unit)} each (the median)"
        )
    for line in comparison_lines(result, unit, slots=slots, high_risk=high):
        typer.echo(line)
    if loaded.checkpoints:
        after = ", ".join(format(c.after_batch, "f") for c in loaded.checkpoints)
        if on_checkpoint is CheckpointMode.WAIT:
            free = simulate(loaded, durations, Limits(slots, high, gate_h=limits.gate_h))
            cost = result.predicted.makespan_h - free.makespan_h
            typer.echo(f"  checkpoints after batch {after} hold later batches until answered:")
            typer.echo(f"  +{in_unit(cost, unit)} against --on-checkpoint continue")
        else:
            typer.echo(f"  checkpoints after batch {after} hold nothing (continue)")
    typer.echo("")
    for line in text_gantt(result.predicted.bars, unit, width=width):
        typer.echo(line)
    if svg is not None:
        try:
            svg.write_text(
                svg_gantt(result.predicted.bars, unit, title=f"{release_id} (predicted)")
            )
        except OSError as exc:
            typer.echo(f"orchd: {svg}: cannot write: {exc.strerror}", err=True)
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        typer.echo(f"\nSVG written to {svg}")


def register(app: typer.Typer) -> None:
    app.command()(plan)
