"""`orchd validate` (print the plan or every problem) and `orchd schema` (JSON Schemas)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.errors import ExitCode, InputError, ValidationFailed
from orchestrator.models.strategy import StrategyType

if TYPE_CHECKING:
    from pydantic import BaseModel


class SchemaName(StrEnum):
    MANIFEST = "manifest"
    STATUS = "status"
    DASHBOARD = "dashboard"


def validate(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.1.")],
    repo_root: Annotated[Path, typer.Option(help="Root of the neotoma checkout.")] = Path("."),
    release_dir: Annotated[
        Path | None, typer.Option(help="Release folder (default: docs/releases/…/<id>).")
    ] = None,
    strategy: Annotated[
        StrategyType | None, typer.Option(help="Override execution_strategy.type.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
    strict_batches: Annotated[
        bool, typer.Option(help="Also check the seed's rule: a batch waits for all earlier ones.")
    ] = False,
) -> None:
    """Read a release's files and print the plan; exit 2 with one line per problem."""
    from orchestrator.adapters.plan_report import render_plan
    from orchestrator.adapters.release_loader import load_release

    try:
        plan = load_release(
            release_id,
            repo_root=repo_root,
            release_dir=release_dir,
            strategy_override=strategy,
            strict=strict,
            strict_batches=strict_batches,
        )
    except ValidationFailed as exc:
        for error in exc.errors:
            typer.echo(error.render(), err=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except InputError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    typer.echo(render_plan(plan), nl=False)


def schema(
    name: Annotated[
        SchemaName, typer.Argument(help="manifest (the plan), status or dashboard (its JSON).")
    ],
) -> None:
    """Print the JSON Schema of the release plan, of agent_status.json, or of the dashboard's
    GET /api/releases."""
    from orchestrator.models.dashboard import ReleaseList
    from orchestrator.models.release import ReleasePlan
    from orchestrator.models.status import StatusFile

    models: dict[SchemaName, type[BaseModel]] = {
        SchemaName.MANIFEST: ReleasePlan,
        SchemaName.STATUS: StatusFile,
        SchemaName.DASHBOARD: ReleaseList,
    }
    model = models[name]
    typer.echo(json.dumps(model.model_json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("schema")(schema)
