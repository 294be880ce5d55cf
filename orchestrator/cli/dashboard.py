"""`orchd dashboard`: serve the read-only release dashboard, its JSON and `/metrics`.

The URL is the first stdout line (flushed), so scripts and tests can read it (`--port 0`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import RepoRoot
from orchestrator.errors import ExitCode

TOKEN_ENV = "ORCHD_DASHBOARD_TOKEN"
MIN_TOKEN_LENGTH = 16


def _bad(message: str) -> typer.Exit:
    typer.echo(f"orchd: {message}", err=True)
    return typer.Exit(int(ExitCode.BAD_INPUT))


def _checked(token: str, where: str) -> str:
    if not token:
        raise _bad(f"{where}: the token is empty")
    if len(token) < MIN_TOKEN_LENGTH:
        raise _bad(
            f"{where}: the token is {len(token)} characters, at least {MIN_TOKEN_LENGTH} "
            "(make one with: openssl rand -hex 32)"
        )
    return token


def read_token(token_file: Path | None, env: Mapping[str, str]) -> str | None:
    """`--token-file` (its first line), else `$ORCHD_DASHBOARD_TOKEN`, else none."""
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise _bad(f"--token-file {token_file}: cannot read ({reason})") from None
        lines = text.strip().splitlines()
        return _checked(lines[0].strip() if lines else "", f"--token-file {token_file}")
    if TOKEN_ENV in env:
        return _checked(env[TOKEN_ENV].strip(), TOKEN_ENV)
    return None


def dashboard(
    repo_root: RepoRoot = Path("."),
    host: Annotated[
        str, typer.Option(help="Interface to listen on; anything but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8765,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help=f"File holding the access token (else ${TOKEN_ENV}); required off loopback.",
        ),
    ] = None,
) -> None:
    """Serve a read-only web dashboard of every release under the repo, with live updates,
    its JSON (/api/releases) and Prometheus metrics (/metrics)."""
    import anyio

    from orchestrator.adapters.dashboard.app import DashboardConfig, create_app
    from orchestrator.adapters.dashboard.releases import ReleaseFinder
    from orchestrator.adapters.dashboard.server import bind, is_loopback, serve, url_of
    from orchestrator.clock import utcnow

    token = read_token(token_file, os.environ)
    if token is None and not is_loopback(host):
        raise _bad(
            f"--host {host} is not loopback: the dashboard would be open to the network; "
            f"give it a token with --token-file FILE or ${TOKEN_ENV}"
        )
    finder = ReleaseFinder(repo_root)
    if not finder.releases_dir.is_dir():
        raise _bad(f"{finder.releases_dir}: not found (point --repo-root at the repository)")
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise _bad(f"--host {host} --port {port}: cannot listen ({exc.strerror or exc})") from None
    count = len(finder.find())
    url = url_of(sock)

    def announce() -> None:
        sys.stdout.write(url + "\n")  # line 1 is the interface: the URL
        sys.stdout.write(
            f"orchd dashboard: {count} release(s) under {finder.releases_dir}; read-only; "
            f"JSON at {url}api/releases, Prometheus at {url}metrics\n"
        )
        if token is not None:
            sys.stdout.write(
                f"token required: sign in at {url}login, or send Authorization: Bearer\n"
            )
        sys.stdout.flush()

    app = create_app(DashboardConfig(repo_root=repo_root.absolute(), now=utcnow, token=token))
    with sock:
        anyio.run(serve, app, sock, announce)


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
