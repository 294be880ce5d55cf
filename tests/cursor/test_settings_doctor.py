"""Settings come from env with one-line errors; `orchd doctor` reports each check, never the key."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from orchestrator.adapters.cursor.settings import (
    build_http_client,
    client_settings_from_env,
    normalize_base_url,
)
from orchestrator.cli import app
from orchestrator.cli.doctor import check_branch, check_repo_url, run_checks
from orchestrator.errors import InputError
from orchestrator.fakecursor.seed_repo import seed_repo
from tests.cursor.conftest import API_KEY, ROOT, error_json

GOOD_ENV = {
    "CURSOR_CLOUD_API_URL": ROOT + "/v1",
    "CURSOR_CLOUD_API_KEY": API_KEY,
    "REPO_URL": "https://github.com/org/neotoma",
    "RELEASE_BRANCH": "release/v0.2.0",
}
ME = {"apiKeyName": "ci key", "createdAt": "2026-01-01T00:00:00Z", "userEmail": "dev@example.com"}


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    """GOOD_ENV on a seeded local repo (branch `main`): doctor's git checks never leave the box."""
    return {**GOOD_ENV, "REPO_URL": seed_repo(tmp_path / "remote.git"), "RELEASE_BRANCH": "main"}


# doctor only looks at the state dir (it writes nothing): a path no test creates
NO_STATE = Path(tempfile.gettempdir()) / "orchd-doctor-test-state-never-created"


async def _doctor(env: dict[str, str], status: int = 200, body: object = ME) -> list[str]:
    env = {"STATE_DIRECTORY": str(NO_STATE), **env}
    with respx.MockRouter(base_url=ROOT) as router:
        router.get("/v1/me").respond(status, json=body)
        checks = await run_checks(env, transport=httpx.MockTransport(router.async_handler))
    return [c.render() for c in checks]


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        ("https://api.cursor.com/v1", "https://api.cursor.com"),
        ("https://api.cursor.com/v1/", "https://api.cursor.com"),
        ("https://api.cursor.com", "https://api.cursor.com"),
        ("http://127.0.0.1:4311/v1", "http://127.0.0.1:4311"),
        ("https://proxy.example/cursor/v1", "https://proxy.example/cursor"),
    ],
)
def test_base_url_is_normalised_to_the_root(raw: str, root: str) -> None:
    assert normalize_base_url(raw) == root


@pytest.mark.parametrize(
    ("missing", "problem"),
    [("CURSOR_CLOUD_API_URL", "CURSOR_CLOUD_API_URL is not set"), ("CURSOR_CLOUD_API_KEY", "KEY")],
)
def test_missing_variable_is_named(missing: str, problem: str) -> None:
    env = {k: v for k, v in GOOD_ENV.items() if k != missing}
    with pytest.raises(InputError, match=problem):
        client_settings_from_env(env)


def test_settings_hold_the_key_secretly_and_read_the_auth_scheme() -> None:
    settings = client_settings_from_env({**GOOD_ENV, "CURSOR_AUTH_SCHEME": "Bearer"})
    assert settings.base_url == ROOT
    assert settings.auth_scheme == "bearer"
    assert settings.api_key.get_secret_value() == API_KEY
    with pytest.raises(InputError, match="CURSOR_AUTH_SCHEME"):
        client_settings_from_env({**GOOD_ENV, "CURSOR_AUTH_SCHEME": "digest"})
    with pytest.raises(InputError, match="http"):
        client_settings_from_env({**GOOD_ENV, "CURSOR_CLOUD_API_URL": "api.cursor.com"})


@pytest.mark.asyncio
async def test_http_client_has_explicit_timeouts() -> None:
    async with build_http_client(client_settings_from_env(GOOD_ENV)) as http:
        assert http.timeout.connect == 10.0
        assert http.timeout.read == 30.0


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://github.com/org/repo", True),
        ("https://github.com/org/repo.git", True),
        ("https://gitlab.example/group/sub/repo", True),
        ("git@github.com:org/repo.git", False),
        ("http://github.com/org/repo", False),
        ("https://token@github.com/org/repo", False),
        ("https://github.com/org", False),
        ("https://user:tok@github.com/org/repo", False),
        ("ssh://git@github.com/org/repo.git", False),
        # a local repository (what the fake Cursor's agents and the demo work on)
        ("/srv/git/neotoma.git", True),
        ("./remote.git", True),
        ("file:///srv/git/neotoma.git", True),
        ("file://localhost/srv/git/neotoma.git", True),
        ("file://fileserver/srv/git/neotoma.git", False),
    ],
)
def test_repo_url_shape(url: str, ok: bool) -> None:
    assert (check_repo_url(url) is None) is ok


@pytest.mark.parametrize(
    ("branch", "ok"),
    [("main", True), ("release/v0.2.0", True), ("bad branch", False), ("a..b", False)],
)
def test_branch_name_shape(branch: str, ok: bool) -> None:
    assert (check_branch(branch) is None) is ok


@pytest.mark.asyncio
async def test_doctor_passes_with_good_env_git_remote_and_accepted_key(
    local_env: dict[str, str],
) -> None:
    lines = await _doctor(local_env)
    assert all(line.startswith("ok  ") for line in lines), lines
    assert lines[2] == (
        f"ok    REPO_URL: {local_env['REPO_URL']} "
        "(a local repo: only `orchd fake-cursor` agents can work on it)"
    )
    assert lines[4].startswith("ok    git: 2.")
    assert lines[4].endswith("(needs 2.38.0+)")
    assert lines[5] == "ok    remote: answers git ls-remote (1 branch(es))"
    assert lines[6] == "ok    release base branch: main exists on the remote"
    assert lines[-2] == "ok    Cursor API key: accepted: key 'ci key' of dev@example.com"
    assert lines[-1] == (
        f"ok    state dir: {NO_STATE} (git cache, gate worktrees and logs, release locks, "
        "decisions), to be created"
    )


@pytest.mark.asyncio
async def test_doctor_reports_each_problem_on_its_own_line_without_the_key() -> None:
    env = {**GOOD_ENV, "REPO_URL": "git@github.com:org/repo.git"}
    del env["RELEASE_BRANCH"]
    lines = await _doctor(env, 401, error_json("unauthorized", f"bad key {API_KEY}"))
    assert [line[:4] for line in lines] == ["ok  ", "ok  ", "FAIL", "ok  ", "ok  "] + [
        "FAIL"
    ] * 3 + ["ok  "]
    assert lines[2].startswith("FAIL  REPO_URL: must be an https URL")
    # unset, `orchd start` cuts the release branch from main: so does doctor's check
    assert lines[3] == "ok    RELEASE_BRANCH: not set: main (the release branch's base)"
    assert lines[5] == "FAIL  remote: not checked: REPO_URL is not usable"
    assert "unauthorized" in lines[7]
    assert all(API_KEY not in line for line in lines)


@pytest.mark.asyncio
async def test_doctor_refuses_credentials_in_the_repo_url_without_showing_or_using_them() -> None:
    # loopback, and never contacted: the URL is refused before any git command
    env = {**GOOD_ENV, "REPO_URL": "https://x-access-token:ghp_S3CRET@127.0.0.1:9/org/repo"}
    lines = await _doctor(env)
    assert lines[2].startswith("FAIL  REPO_URL: must not contain credentials")
    assert "host's git credentials" in lines[2]
    assert lines[5].startswith("FAIL  remote: not checked")
    assert all("S3CRET" not in line for line in lines)


@pytest.mark.asyncio
async def test_doctor_names_a_release_branch_the_remote_does_not_have(
    local_env: dict[str, str],
) -> None:
    lines = await _doctor({**local_env, "RELEASE_BRANCH": "develop"})
    assert lines[5] == "ok    remote: answers git ls-remote (1 branch(es))"
    assert lines[6] == (
        "FAIL  release base branch: develop is not a branch of the remote "
        "(set RELEASE_BRANCH to the branch the release starts from)"
    )


@pytest.mark.asyncio
async def test_doctor_says_when_the_remote_does_not_answer(
    tmp_path: Path, local_env: dict[str, str]
) -> None:
    missing = (tmp_path / "nothing-here.git").as_uri()
    lines = await _doctor({**local_env, "REPO_URL": missing})
    assert lines[5].startswith("FAIL  remote: git ls-remote failed (exit 128)")
    assert "git credentials" in lines[5]
    assert lines[6] == "FAIL  release base branch: not checked: the remote did not answer"


@pytest.mark.asyncio
async def test_doctor_without_git_says_so_and_skips_the_remote(
    tmp_path: Path, local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    lines = await _doctor(local_env)
    assert lines[4] == "FAIL  git: git is not installed (orchd needs git 2.38.0 or newer)"
    assert lines[5] == "FAIL  remote: not checked: git is not usable"
    assert lines[-2].startswith("ok    Cursor API key")


@pytest.mark.asyncio
async def test_doctor_refuses_a_git_older_than_2_38(
    local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def old_git() -> tuple[int, int, int]:
        return (2, 34, 1)

    monkeypatch.setattr("orchestrator.adapters.git.git_version", old_git)
    lines = await _doctor(local_env)
    assert lines[4] == "FAIL  git: 2.34.1 is too old (orchd needs 2.38.0+)"
    assert lines[5] == "FAIL  remote: not checked: git is not usable"


def test_doctor_command_exits_2_and_names_missing_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in GOOD_ENV:
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 2
    assert "FAIL  CURSOR_CLOUD_API_URL: is not set" in result.stdout
    assert "FAIL  Cursor API key: not checked" in result.stdout


@pytest.mark.asyncio
async def test_doctor_fails_a_state_dir_orchd_cannot_create(
    tmp_path: Path, local_env: dict[str, str]
) -> None:
    (tmp_path / "state").write_text("")  # a file where the folder should be
    lines = await _doctor({**local_env, "STATE_DIRECTORY": str(tmp_path / "state" / "orchd")})
    assert lines[-1] == (
        f"FAIL  state dir: {tmp_path}/state/orchd (git cache, gate worktrees and logs, release "
        f"locks, decisions): {tmp_path}/state is not a folder"
    )


def test_doctor_checks_the_state_dir_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in GOOD_ENV:
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["doctor", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2  # the variables are missing
    assert result.stdout.splitlines()[-1] == (
        f"ok    state dir: {tmp_path} (git cache, gate worktrees and logs, release locks, "
        "decisions)"
    )
