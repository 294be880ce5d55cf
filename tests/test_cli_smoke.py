import typer
from typer.testing import CliRunner

from orchestrator import __version__
from orchestrator.cli import app


def test_version_command_prints_package_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_every_command_is_found_when_it_is_invoked_alone() -> None:
    """`orchd <command>` registers only that command's module: the map must name them all."""
    from orchestrator.cli import COMMAND_MODULES, build_app

    everything = typer.main.get_group(build_app())
    assert set(everything.commands) == {*COMMAND_MODULES, "version"}
    for command in COMMAND_MODULES:
        assert command in typer.main.get_group(build_app(command)).commands
