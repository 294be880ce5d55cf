"""`orchd --version` and shell completion, as a person installs and uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from orchestrator import __version__
from orchestrator.cli import app

ORCHD = Path(sys.executable).with_name("orchd")  # the installed command, as a shell runs it


def test_version_option_prints_the_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"{__version__}\n")


def _orchd(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORCHD), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )


def test_install_completion_sets_up_bash_to_complete_orchd(tmp_path: Path) -> None:
    installed = _orchd("--install-completion", "bash", HOME=str(tmp_path))
    assert installed.returncode == 0, installed.stderr
    spec = subprocess.run(
        ["bash", "-c", "source ~/.bashrc && complete -p orchd"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert spec.stdout.strip() == "complete -o default -F _orchd_completion orchd"


def test_completion_offers_the_commands_that_match() -> None:
    """What bash asks when a person types `orchd sta<TAB>` / `orchd wa<TAB>`."""
    offered = _orchd(_ORCHD_COMPLETE="complete_bash", COMP_WORDS="orchd sta", COMP_CWORD="1")
    assert offered.stdout.split() == ["start", "status"]
    offered = _orchd(_ORCHD_COMPLETE="complete_bash", COMP_WORDS="orchd wa", COMP_CWORD="1")
    assert offered.stdout.split() == ["watch"]
