"""Command line: parse argv, call one function, map errors to exit codes.

Each command group lives in its own module under `orchestrator.cli` and registers itself on
the app; this module only assembles them. Building the commands (and `--help`) needs only their
signatures, so command modules import the daemon, the engine, the Cursor client, the servers
and the renderers inside the command, not at module top: `orchd --help` stays quick. `orchd
<command> …` registers only that command's module (`orchd status` imports no other command);
`app`, for `--help`, completion, typos and tests, has them all.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from orchestrator import __version__

COMMAND_MODULES = {  # in the order `orchd --help` lists them
    "doctor": "doctor",
    "fake-cursor": "fake_cursor",
    "start": "start",
    "status": "status",
    "demo": "demo",
    "validate": "validate",
    "schema": "validate",
    "plan": "plan",
    "decide": "decide",
    "watch": "watch",
    "dashboard": "dashboard",
    "detach": "detach",
}
"""Each command's module (`version` is built in); tests/test_cli_smoke.py checks it is whole."""


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


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


def version() -> None:
    """Print orchd's version."""
    typer.echo(__version__)


def build_app(command: str | None = None) -> typer.Typer:
    """The command line with every command, or with `command` alone (one it knows)."""
    built = typer.Typer(no_args_is_help=True, help="orchd: release orchestrator.")
    built.callback()(_root)
    built.command()(version)
    every = list(dict.fromkeys(COMMAND_MODULES.values()))
    wanted = [COMMAND_MODULES[command]] if command else every
    for name in wanted:
        importlib.import_module(f"orchestrator.cli.{name}").register(built)
    return built


def __getattr__(name: str) -> typer.Typer:
    """`app`, every command registered, built on first use."""
    if name != "app":
        raise AttributeError(name)
    built = build_app()
    globals()["app"] = built
    return built


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else None
    build_app(first if first in COMMAND_MODULES else None)()
