"""`orchd start` checks before it runs: every variable at once, the key (`GET /v1/me`), and the
status file an earlier run left, read only under the release lock."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from typer.testing import CliRunner

from orchestrator import daemon
from orchestrator.adapters.cursor.settings import CursorSettings
from orchestrator.adapters.release_lock import pid_path, running_orchd
from orchestrator.adapters.status_read import load_status_file
from orchestrator.cli import app
from orchestrator.daemon import (
    check_api_key,
    env_for_start,
    release_lock,
)
from orchestrator.daemon import prepare as daemon_prepare
from orchestrator.errors import ExitCode, InputError, StatusWriteFailed
from orchestrator.models.status import StatusFile

RELEASE = "v0.0.1"
ROOT = "https://api.test"
KEY = "sk-test-SECRET-0123456789"
MANIFEST = """\
release: {id: "v0.0.1", name: "Tiny", status: "in_progress"}
execution_strategy: {type: "multi_agent", max_parallel_fus: 1}
feature_units:
  - {id: "FU-001", name: "one", priority: "P0", risk_level: "low", dependencies: []}
execution_schedule:
  batches:
    - {batch_id: 0, feature_units: ["FU-001"], dependencies: []}
"""
ENV = {
    "CURSOR_CLOUD_API_URL": ROOT + "/v1",
    "CURSOR_CLOUD_API_KEY": KEY,
    "REPO_URL": "https://github.com/acme/neotoma",
}


# --- environment ------------------------------------------------------------------------------


def test_every_missing_variable_is_reported_at_once_one_line_each() -> None:
    with pytest.raises(InputError) as caught:
        env_for_start({})
    assert str(caught.value).splitlines() == [
        "CURSOR_CLOUD_API_URL is not set (export it, e.g. https://api.cursor.com/v1)",
        "CURSOR_CLOUD_API_KEY is not set (create a key in the Cursor dashboard)",
        "REPO_URL is not set (export the repository agents work on, e.g. "
        "https://github.com/owner/repo)",
    ]
    assert caught.value.exit_code is ExitCode.BAD_INPUT


def test_unusable_values_are_reported_with_the_missing_ones() -> None:
    env = {"CURSOR_CLOUD_API_URL": "api.cursor.com", "REPO_URL": "https://u:tok3n@example.com/r"}
    with pytest.raises(InputError) as caught:
        env_for_start(env)
    lines = str(caught.value).splitlines()
    assert [line.split(" ")[0] for line in lines] == [
        "CURSOR_CLOUD_API_URL:",
        "CURSOR_CLOUD_API_KEY",
        "REPO_URL",
    ]
    assert "tok3n" not in str(caught.value)


def test_the_cli_prints_each_problem_on_its_own_orchd_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["start", RELEASE, "--repo-root", str(tmp_path)], env={})
    assert result.exit_code == 2
    assert [line.split(" ")[:2] for line in result.stderr.splitlines()] == [
        ["orchd:", "CURSOR_CLOUD_API_URL"],
        ["orchd:", "CURSOR_CLOUD_API_KEY"],
        ["orchd:", "REPO_URL"],
    ]


# --- the key ----------------------------------------------------------------------------------


def _cursor() -> CursorSettings:
    return CursorSettings(base_url=ROOT, api_key=SecretStr(KEY))


async def _check(status: int, body: dict[str, Any]) -> tuple[InputError | None, int]:
    with respx.MockRouter(base_url=ROOT) as router:
        route = router.get("/v1/me").respond(status, json=body)
        try:
            await check_api_key(_cursor(), transport=httpx.MockTransport(router.async_handler))
        except InputError as exc:
            return exc, route.call_count
    return None, route.call_count


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@pytest.mark.asyncio
async def test_an_accepted_key_passes() -> None:
    me = {"apiKeyName": "ci", "createdAt": "2026-01-01T00:00:00Z"}
    assert await _check(200, me) == (None, 1)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "code"), [(401, "unauthorized"), (403, "role_forbidden"), (403, "plan_required")]
)
async def test_a_key_cursor_refuses_is_bad_input_in_one_line(status: int, code: str) -> None:
    error, calls = await _check(status, _error(code, f"no: {KEY}"))
    assert error is not None
    assert calls == 1  # a refusal is final: no retry
    assert error.exit_code is ExitCode.BAD_INPUT
    assert str(error) == (
        f"CURSOR_CLOUD_API_KEY: Cursor refused the key (GET /v1/me: Cursor {status} {code}: "
        "no: [REDACTED]); nothing was launched (`orchd doctor` checks the key)"
    )


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_an_api_that_fails_the_check_is_bad_input_after_a_few_quick_retries() -> None:
    error, calls = await _check(502, _error("upstream_error", "try later"))
    assert error is not None
    assert calls == 3
    assert error.exit_code is ExitCode.BAD_INPUT
    assert str(error) == (
        "CURSOR_CLOUD_API_URL: the Cursor API could not check the key (GET /v1/me: Cursor 502 "
        "upstream_error: try later); nothing was launched (try again; `orchd doctor` checks "
        "the URL and the key)"
    )
    assert "\n" not in str(error)


# --- the status file an earlier run left ------------------------------------------------------


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-FU release with the status file of an earlier run; the key check passes."""
    folder = tmp_path / "docs" / "releases" / "in_progress" / RELEASE
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(MANIFEST)
    status = folder / "agent_status.json"
    earlier = {
        "release_id": RELEASE,
        "orchestrator": {"agent_id": "orchd_old", "status": "running"},
        "batches": [],
    }
    status.write_text(json.dumps(earlier))

    async def key_accepted(cursor: CursorSettings, **_: Any) -> None:
        del cursor

    monkeypatch.setattr(daemon, "check_api_key", key_accepted)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return status


def _spy_reads(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Each read of the status file, as the pid holding the release lock at that moment."""
    holders: list[int | None] = []

    def spy(path: Path) -> tuple[StatusFile, list[str]]:
        holders.append(running_orchd(path))
        return load_status_file(path)

    monkeypatch.setattr(daemon_prepare, "load_status_file", spy)
    return holders


def test_the_earlier_status_file_is_read_under_the_release_lock(
    release: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holders = _spy_reads(monkeypatch)
    started: list[StatusFile | None] = []

    async def run_release(*args: Any, existing: StatusFile | None = None, **kw: Any) -> None:
        started.append(existing)
        raise InputError("stop here")

    monkeypatch.setattr(daemon, "run_release", run_release)
    repo_root = release.parents[4]
    result = CliRunner().invoke(app, ["start", RELEASE, "--repo-root", str(repo_root), "--plain"])
    assert result.stderr.splitlines()[-1] == "orchd: stop here"
    assert holders == [os.getpid()]  # read while this process held the lock
    assert started[0] is not None
    assert started[0].orchestrator.agent_id == "orchd_old"


def test_a_second_start_is_refused_without_reading_the_running_ones_file(
    release: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holders = _spy_reads(monkeypatch)
    repo_root = release.parents[4]
    with release_lock(release):  # the running orchd
        result = CliRunner().invoke(app, ["start", RELEASE, "--repo-root", str(repo_root)])
    assert result.exit_code == 2
    assert "another orchd (pid " in result.stderr
    assert holders == []


def test_a_state_dir_that_cannot_hold_the_lock_is_one_line_exit_4(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("")  # the state dir's place is taken by a file: mkdir fails
    status = tmp_path / "v0.0.1" / "agent_status.json"
    with pytest.raises(StatusWriteFailed) as caught, release_lock(status, blocker):
        pass
    assert caught.value.exit_code is ExitCode.STATUS_NOT_WRITTEN
    assert str(caught.value) == (
        f"{pid_path(status, blocker)}: cannot write in orchd's state dir (Not a directory); "
        "nothing was launched (--state-dir, $STATE_DIRECTORY or $XDG_STATE_HOME choose it)"
    )
    assert not status.parent.exists()  # nothing written in the checkout either
