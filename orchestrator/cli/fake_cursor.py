"""`orchd fake-cursor`: serve the fake Cursor API on loopback for demos and end-to-end tests.

The base URL is the first stdout line (flushed), so a parent process can read it and connect.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.errors import InputError


def _announce(base_url: str) -> None:
    sys.stdout.write(base_url + "\n")  # stdout is the interface: line 1 is the URL
    sys.stdout.flush()


def fake_cursor(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    api_key: Annotated[
        str, typer.Option("--api-key", help="Key clients must send.", show_default=False)
    ] = "test-key",
    scenario: Annotated[
        Path | None, typer.Option(help="YAML/JSON scenario file scripting runs and faults.")
    ] = None,
    time_scale: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per real second (3600: an hour takes 1 s)."),
    ] = None,
    max_active_agents: Annotated[
        int | None,
        typer.Option(
            "--max-active-agents",
            min=1,
            help=(
                "Cap on concurrently active agents (an agent holds a slot until archived or"
                " deleted); creates and unarchives beyond it are refused, by default with 403"
                " agent_limit_exceeded. Overrides the scenario's active_agent_cap.limit and keeps"
                " its scripted answer."
            ),
        ),
    ] = None,
) -> None:
    """Serve a fake Cursor Cloud Agents v1 API until SIGTERM/SIGINT; print its base URL first."""
    import anyio

    from orchestrator.fakecursor.app import FakeCursor
    from orchestrator.fakecursor.scenario import Scenario, load_scenario
    from orchestrator.fakecursor.server import run_fake_cursor

    try:
        plan = load_scenario(scenario) if scenario is not None else Scenario()
    except InputError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(int(exc.exit_code)) from None
    if time_scale is not None and time_scale <= 0:
        typer.echo("--time-scale: must be > 0", err=True)
        raise typer.Exit(2)
    if max_active_agents is not None:
        plan = plan.with_active_agent_cap(max_active_agents)
    fake = FakeCursor(plan, api_key=api_key, time_scale=time_scale)
    try:
        anyio.run(run_fake_cursor, fake, host, port, _announce)
    except InputError as exc:  # a busy port: one line, not uvicorn's traceback
        typer.echo(f"orchd: {exc}", err=True)
        raise typer.Exit(int(exc.exit_code)) from None


def register(app: typer.Typer) -> None:
    app.command("fake-cursor")(fake_cursor)
