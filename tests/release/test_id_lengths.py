"""Ids that name files and branches are length-checked: one line and exit 2, never an OSError.

Issue 9: a release id of 256+ characters gave an `OSError: File name too long` traceback from
`orchd validate`, `status` and `start`; so did a long FU id once docs/feature_units/ existed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.adapters.release_loader import load_release
from orchestrator.cli import app
from orchestrator.errors import LocatedError, ValidationFailed

LONG_RELEASE = "v1." + "0" * 300  # version-like, so only its length is wrong
HEADER = "release:\n  id: v9.0.0\nexecution_strategy:\n  type: multi_agent\n"


def _repo(tmp_path: Path) -> Path:
    """A checkout with the folders a long name would be looked up in."""
    (tmp_path / "docs" / "releases" / "in_progress").mkdir(parents=True)
    (tmp_path / "docs" / "feature_units" / "completed").mkdir(parents=True)
    return tmp_path


def test_a_long_release_id_is_one_line_not_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(LocatedError) as info:
        load_release(LONG_RELEASE, repo_root=_repo(tmp_path))
    assert info.value.render() == (
        "<command line>: RELEASE_ID: is 303 characters long, at most 64: it names folders and "
        "branches (use a plain id such as v0.1.1)"
    )


@pytest.mark.parametrize("command", ["validate", "status", "decide"])
def test_every_command_refuses_a_long_release_id_with_exit_two(
    tmp_path: Path, command: str
) -> None:
    args = [command, LONG_RELEASE, "--repo-root", str(_repo(tmp_path))]
    if command == "decide":
        args.append("continue")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "is 303 characters long, at most 64" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not isinstance(result.exception, OSError)


def test_start_refuses_a_long_release_id_before_anything_else_is_read(tmp_path: Path) -> None:
    env = {
        "REPO_URL": "https://github.com/o/r",
        "CURSOR_CLOUD_API_URL": "http://127.0.0.1:9",
        "CURSOR_CLOUD_API_KEY": "k",
    }
    result = CliRunner().invoke(
        app, ["start", LONG_RELEASE, "--repo-root", str(_repo(tmp_path))], env=env
    )
    assert result.exit_code == 2, result.output
    assert "is 303 characters long, at most 64" in result.stderr
    assert not isinstance(result.exception, OSError)


def _errors(tmp_path: Path, text: str) -> list[str]:
    folder = _repo(tmp_path) / "docs" / "releases" / "in_progress" / "v9.0.0"
    folder.mkdir()
    (folder / "manifest.yaml").write_text(text)
    with pytest.raises(ValidationFailed) as info:
        load_release("v9.0.0", repo_root=tmp_path)
    return [e.render().split("v9.0.0/", 1)[1] for e in info.value.errors]


def test_a_long_fu_id_is_a_located_error(tmp_path: Path) -> None:
    long_id = "FU-" + "x" * 300
    text = (
        HEADER + f"feature_units:\n  - id: {long_id}\n  - id: FU-2\n    dependencies: [{long_id}]\n"
    )
    assert _errors(tmp_path, text) == [
        "manifest.yaml:6:9: feature_units[0].id: FU id FU-xxxxxxxxxxxxxxxxx… is 303 characters "
        "long, at most 100: it names files and branches (use a short id)",
        "manifest.yaml:8:20: feature_units[FU-2].dependencies[0]: FU id FU-xxxxxxxxxxxxxxxxx… is "
        "303 characters long, at most 100: it names files and branches "
        "(use a short id such as FU-100)",
    ]


def test_a_batch_id_with_hundreds_of_digits_is_a_located_error(tmp_path: Path) -> None:
    text = (
        HEADER
        + "feature_units:\n  - id: FU-1\n"
        + "execution_schedule:\n  batches:\n    - batch_id: 1e300\n      feature_units: [FU-1]\n"
    )
    assert _errors(tmp_path, text) == [
        "manifest.yaml:9:17: execution_schedule.batches[0].batch_id: batch id '1e+300' is too "
        "long: at most 12 digits (it names log files and branches) "
        "(use a number such as 0, 0.5 or 3)"
    ]
