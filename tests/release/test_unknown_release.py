"""A release id that names no release: every command lists the releases that exist, closest
first, in its one error line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app

ENV = {
    "CURSOR_CLOUD_API_URL": "http://127.0.0.1:9/v1",
    "CURSOR_CLOUD_API_KEY": "sk-test",
    "REPO_URL": "https://github.com/acme/neotoma",
}


def _checkout(tmp_path: Path) -> Path:
    """neotoma's layout: releases in progress, done, archived; a folder that is no release."""
    releases = tmp_path / "docs" / "releases"
    for folder in (
        "in_progress/v0.1.1",
        "v0.1.0",
        "archived/aspirational/v1.0.0",
        "in_progress/v0.2.0",
    ):
        (releases / folder).mkdir(parents=True)
        (releases / folder / "manifest.yaml").write_text("release: {id: x}\n")
    (releases / "templates").mkdir()
    (releases / "templates" / "manifest.yaml").write_text("release: {id: x}\n")
    (releases / "v0.3.0").mkdir()  # no manifest: not a release
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "v0.1.O"],
        ["status", "v0.1.O"],
        ["decide", "v0.1.O", "retry"],
        ["start", "v0.1.O"],
    ],
    ids=lambda args: args[0],
)
def test_a_mistyped_release_id_lists_the_releases_closest_first(
    tmp_path: Path, args: list[str]
) -> None:
    root = _checkout(tmp_path)
    result = CliRunner().invoke(app, [*args, "--repo-root", str(root)], env=ENV)
    assert result.exit_code == 2
    assert result.stderr.removeprefix("orchd: ") == (
        "<command line>: RELEASE_ID: 'v0.1.O' is not a version-like release id (releases in "
        f"{root}/docs/releases, closest first: v0.1.0, v0.1.1, v0.2.0, v1.0.0; use a plain id "
        "such as v0.1.1 (no slashes, no '..', not a path))\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "v0.2.1"],
        ["status", "v0.2.1"],
        ["decide", "v0.2.1", "skip"],
        ["start", "v0.2.1"],
    ],
    ids=lambda args: args[0],
)
def test_an_unknown_release_lists_the_releases_closest_first(
    tmp_path: Path, args: list[str]
) -> None:
    root = _checkout(tmp_path)
    result = CliRunner().invoke(app, [*args, "--repo-root", str(root)], env=ENV)
    assert result.exit_code == 2
    releases = root / "docs" / "releases"
    assert result.stderr.removeprefix("orchd: ") == (
        f"{releases}/in_progress/v0.2.1/manifest.yaml: release: not found (also looked in "
        f"{releases}/v0.2.1, {releases}/archived/aspirational/v0.2.1) (releases in {releases}, "
        "closest first: v0.2.0, v0.1.1, v0.1.0, v1.0.0; or check --repo-root, or pass "
        "--release-dir)\n"
    )


def test_a_checkout_without_releases_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "v0.1.1", "--repo-root", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.endswith(
        f"(no release under {tmp_path}/docs/releases has a manifest.yaml: check --repo-root, "
        "or pass --release-dir)\n"
    )
