"""`agent_spawning.status_file` may only name a status file of this release inside the repository.

Issue 9: `status_file: "package.json"` validated and orchd then overwrote package.json with its
status JSON; an absolute path (or `../`) wrote outside the repository; and with `--release-dir`
the path was resolved against the current directory instead of the release's repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.adapters.release_loader import load_release
from orchestrator.adapters.release_lock import status_path_for
from orchestrator.adapters.release_paths import plain_status_file
from orchestrator.cli import app
from orchestrator.errors import ValidationFailed

RELEASE = "v9.0.0"
FIELD = "execution_strategy.agent_spawning.status_file"
DEFAULT = "remove status_file to keep agent_status.json in the release folder"


def _manifest(status_file: str) -> str:
    return (
        f"release:\n  id: {RELEASE}\nexecution_strategy:\n  type: multi_agent\n"
        f"  agent_spawning:\n    enabled: true\n    status_file: {json.dumps(status_file)}\n"
        "feature_units:\n  - id: FU-1\n"
    )


def _repo(tmp_path: Path, status_file: str) -> Path:
    repo = tmp_path / "repo"
    folder = repo / "docs" / "releases" / "in_progress" / RELEASE
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(_manifest(status_file))
    return repo


def _error(repo: Path, **kwargs: object) -> str:
    with pytest.raises(ValidationFailed) as info:
        load_release(RELEASE, repo_root=repo, **kwargs)  # type: ignore[arg-type]  # test kwargs
    assert len(info.value.errors) == 1, info.value.errors
    return info.value.errors[0].render().split(f"{RELEASE}/", 1)[1]


def test_package_json_is_refused_and_left_alone(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "package.json")
    package = repo / "package.json"
    package.write_text('{"name": "neotoma", "version": "0.2.0"}\n')
    assert _error(repo) == (
        f"manifest.yaml:7:18: {FIELD}: 'package.json' exists and is not an orchd status file "
        "(no `release_id` and `orchestrator` keys): orchd would overwrite it (point status_file "
        f"at a new file such as docs/releases/in_progress/v9.0.0/agent_status.json, or {DEFAULT})"
    )
    assert package.read_text() == '{"name": "neotoma", "version": "0.2.0"}\n'


def test_start_refuses_it_before_writing_anything(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "package.json")
    package = repo / "package.json"
    package.write_text('{"name": "neotoma"}\n')
    env = {
        "REPO_URL": "https://github.com/o/r",
        "CURSOR_CLOUD_API_URL": "http://127.0.0.1:9",
        "CURSOR_CLOUD_API_KEY": "k",
    }
    result = CliRunner().invoke(app, ["start", RELEASE, "--repo-root", str(repo)], env=env)
    assert result.exit_code == 2, result.output
    assert "'package.json' exists and is not an orchd status file" in result.stderr
    assert package.read_text() == '{"name": "neotoma"}\n'
    assert sorted(p.name for p in repo.iterdir()) == ["docs", "package.json"]


@pytest.mark.parametrize(
    ("status_file", "problem"),
    [
        ("/etc/orchd-status.json", "'/etc/orchd-status.json' is outside the repository"),
        ("../outside.json", "'../outside.json' is outside the repository"),
        ("docs/../../outside.json", "'docs/../../outside.json' is outside the repository"),
    ],
)
def test_a_path_outside_the_repository_is_refused(
    tmp_path: Path, status_file: str, problem: str
) -> None:
    repo = _repo(tmp_path, status_file)
    error = _error(repo)
    assert error.startswith(f"manifest.yaml:7:18: {FIELD}: {problem} ({repo.resolve()})"), error


def test_a_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "status/agent_status.json")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (repo / "status").symlink_to(outside)
    assert "'status/agent_status.json' is outside the repository" in _error(repo)
    assert list(outside.iterdir()) == []


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    """neotoma's v0.2.1 (HEAD) names its human-written status.md as status_file."""
    repo = _repo(tmp_path, "docs/releases/v9.0.0/status.md")
    assert _error(repo) == (
        f"manifest.yaml:7:18: {FIELD}: 'docs/releases/v9.0.0/status.md' does not end in .json: "
        "orchd would write its status JSON there (use a path such as "
        f"docs/releases/v9.0.0/agent_status.json, or {DEFAULT})"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "exists and is not JSON: orchd would overwrite it"),
        ('["release_id", "orchestrator"]', "exists and is not an orchd status file"),
        ('{"release_id": "v9.0.0"}', "exists and is not an orchd status file"),
        (
            '{"release_id": "v0.1.0", "orchestrator": {}}',
            "is the status file of release 'v0.1.0', not 'v9.0.0'",
        ),
    ],
)
def test_an_existing_file_must_be_this_releases_status_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    repo = _repo(tmp_path, "state.json")
    (repo / "state.json").write_text(content)
    assert f"{FIELD}: 'state.json' {problem}" in _error(repo)
    assert (repo / "state.json").read_text() == content


def test_a_directory_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "state.json")
    (repo / "state.json").mkdir()
    assert "'state.json' exists and is not a file" in _error(repo)


def test_paths_inside_git_are_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, ".git/orchd.json")
    assert "'.git/orchd.json' is inside .git/" in _error(repo)


def test_a_status_file_of_this_release_is_taken_as_an_absolute_path(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "docs/releases/v9.0.0/agent_status.json")
    existing = repo / "docs/releases/v9.0.0/agent_status.json"
    existing.parent.mkdir(parents=True)
    existing.write_text('{"release_id": "v9.0.0", "orchestrator": {"status": "running"}}')
    plan = load_release(RELEASE, repo_root=repo)
    assert plan.limits.status_file == str(existing)
    assert status_path_for(plan, Path("/somewhere/else")) == existing


def test_with_release_dir_it_is_relative_to_the_releases_repository_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path, "docs/releases/in_progress/v9.0.0/agent_status.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    release_dir = repo / "docs" / "releases" / "in_progress" / RELEASE
    plan = load_release(RELEASE, repo_root=Path("."), release_dir=release_dir)
    expected = repo.resolve() / "docs/releases/in_progress/v9.0.0/agent_status.json"
    assert status_path_for(plan, Path(".")) == expected
    assert not (elsewhere / "docs").exists()


def test_with_release_dir_a_git_checkout_is_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "checkout"
    release_dir = repo / "plans" / RELEASE
    release_dir.mkdir(parents=True)
    (repo / ".git").mkdir()
    (release_dir / "manifest.yaml").write_text(_manifest("plans/v9.0.0/agent_status.json"))
    monkeypatch.chdir(tmp_path)
    plan = load_release(RELEASE, repo_root=Path("."), release_dir=Path("checkout/plans/v9.0.0"))
    assert plan.limits.status_file == str(repo.resolve() / "plans/v9.0.0/agent_status.json")


def test_with_a_release_dir_in_no_repository_it_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release_dir = tmp_path / "loose" / RELEASE
    release_dir.mkdir(parents=True)
    (release_dir / "manifest.yaml").write_text(_manifest("agent_status.json"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationFailed) as info:
        load_release(RELEASE, repo_root=Path("."), release_dir=release_dir)
    assert [e.render() for e in info.value.errors] == [
        f"{release_dir}/manifest.yaml:7:18: {FIELD}: 'agent_status.json' is relative to the "
        f"repository, and --release-dir {release_dir} is in none (no docs/releases/ in its "
        "path, no .git above it) (keep the release under <repository>/docs/releases/, or "
        f"{DEFAULT})"
    ]


def test_validate_prints_the_one_line_and_exits_two(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "/tmp/orchd-status.json")
    result = CliRunner().invoke(app, ["validate", RELEASE, "--repo-root", str(repo)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "'/tmp/orchd-status.json' is outside the repository" in lines[0]
    assert not os.path.exists("/tmp/orchd-status.json")


def test_errors_are_listed_in_file_order(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "package.json")
    manifest = repo / "docs/releases/in_progress/v9.0.0/manifest.yaml"
    manifest.write_text(
        manifest.read_text().replace("  agent_spawning:", "  gate_timeout_s: -1\n  agent_spawning:")
    )
    (repo / "package.json").write_text("{}")
    with pytest.raises(ValidationFailed) as info:
        load_release(RELEASE, repo_root=repo)
    assert [(e.line, e.field) for e in info.value.errors] == [
        (5, "execution_strategy.gate_timeout_s"),
        (8, FIELD),
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('a:\n  b:\n    status_file: "docs/x.json"  # theirs\n', "docs/x.json"),
        ("a:\n  status_file: 'a b.json'\n", "a b.json"),
        ("a:\n  status_file: docs/x.json\n", "docs/x.json"),
        ("a:\n  # status_file: old.json\n  status_file: new.json\n", "new.json"),
        ("a: 1\n", ""),  # no status_file: the release folder's file
        ("a:\n  status_file: {path: x.json}\n", None),  # unusual: the loader decides
        ("a:\n  status_file: *anchor\n", None),
        ('a:\n  status_file: "a\\"b.json"\n', None),
        ("a:\n  status_file: x.json\nb:\n  status_file: y.json\n", None),
        ("status_file: top.json\n", None),  # not under execution_strategy
    ],
)
def test_a_reader_finds_the_status_file_in_the_manifest_text_only_when_it_is_sure(
    text: str, found: str | None
) -> None:
    assert plain_status_file(text) == found
