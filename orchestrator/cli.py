"""Command line: parse argv, call one function, map errors to exit codes."""

from __future__ import annotations

import typer

from orchestrator import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, help="orchd: release orchestrator.")


@app.callback()
def _root() -> None:
    """orchd runs a release: one Cursor Cloud Agent per Feature Unit, in parallel, under limits."""


@app.command()
def version() -> None:
    """Print orchd's version."""
    typer.echo(__version__)


def main() -> None:
    app()
