"""Settings come from env with one-line errors; `orchd doctor` reports each check, never the key."""

from __future__ import annotations

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
from tests.cursor.conftest import API_KEY, ROOT, error_json

GOOD_ENV = {
    "CURSOR_CLOUD_API_URL": ROOT + "/v1",
    "CURSOR_CLOUD_API_KEY": API_KEY,
    "REPO_URL": "https://github.com/org/neotoma",
    "RELEASE_BRANCH": "release/v0.2.0",
}
ME = {"apiKeyName": "ci key", "createdAt": "2026-01-01T00:00:00Z", "userEmail": "dev@example.com"}


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
async def test_doctor_passes_with_good_env_and_accepted_key() -> None:
    with respx.MockRouter(base_url=ROOT) as router:
        router.get("/v1/me").respond(200, json=ME)
        checks = await run_checks(GOOD_ENV, transport=httpx.MockTransport(router.async_handler))
    assert all(c.ok for c in checks), [c.render() for c in checks]
    assert checks[-1].render() == "ok    Cursor API key: accepted: key 'ci key' of dev@example.com"


@pytest.mark.asyncio
async def test_doctor_reports_each_problem_on_its_own_line_without_the_key() -> None:
    env = {**GOOD_ENV, "REPO_URL": "git@github.com:org/repo.git"}
    del env["RELEASE_BRANCH"]
    with respx.MockRouter(base_url=ROOT) as router:
        router.get("/v1/me").respond(401, json=error_json("unauthorized", f"bad key {API_KEY}"))
        checks = await run_checks(env, transport=httpx.MockTransport(router.async_handler))
    lines = [c.render() for c in checks]
    assert [c.ok for c in checks] == [True, True, False, False, False]
    assert lines[2].startswith("FAIL  REPO_URL: must be an https URL")
    assert lines[3] == "FAIL  RELEASE_BRANCH: is not set (the branch agents start from)"
    assert "unauthorized" in lines[4]
    assert all(API_KEY not in line for line in lines)


def test_doctor_command_exits_2_and_names_missing_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in GOOD_ENV:
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 2
    assert "FAIL  CURSOR_CLOUD_API_URL: is not set" in result.stdout
    assert "FAIL  Cursor API key: not checked" in result.stdout
