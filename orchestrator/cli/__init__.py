"""Command line: parse argv, call one function, map errors to exit codes.

Each command group lives in its own module under `orchestrator.cli` and registers itself on
`app`; this module only assembles them. Building the commands (and `--help`) needs only their
signatures, so command modules import the daemon, the engine, the Cursor client, the servers
and the renderers inside the command, not at module top: `orchd --help` stays quick.
"""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator import __version__

app = typer.Typer(no_args_is_help=True, help="orchd: release orchestrator.")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print orchd's version."
        ),
    ] = False,
) -> None:
    """orchd runs a release: one Cursor Cloud Agent per Feature Unit, in parallel, under limits."""
    # Logs go to stderr (JSON when not a terminal); `start` and `demo` set their own level.
    from orchestrator.adapters.logging import configure_logging

    configure_logging(level="warning")


@app.command()
def version() -> None:
    """Print orchd's version."""
    typer.echo(__version__)


def _register_commands() -> None:
    """Import command modules for their side effect of adding commands to `app`."""
    # One import line per command module; keep sorted.
    from orchestrator.cli import doctor

    doctor.register(app)
    from orchestrator.cli import fake_cursor

    fake_cursor.register(app)
    from orchestrator.cli import start

    start.register(app)
    from orchestrator.cli import status

    status.register(app)
    from orchestrator.cli import demo

    demo.register(app)
    from orchestrator.cli import validate

    validate.register(app)
    from orchestrator.cli import plan

    plan.register(app)
    from orchestrator.cli import decide

    decide.register(app)
    from orchestrator.cli import watch

    watch.register(app)
    from orchestrator.cli import dashboard

    dashboard.register(app)
    from orchestrator.cli import detach

    detach.register(app)


_register_commands()


def main() -> None:
    app()
