"""Who may see the dashboard: loopback by default; a token off loopback (or when given),
sent as a Bearer header or through the login form's cookie, never in a URL; and the one-line
refusals when it cannot start."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.dashboard.server_process import Dashboard, running_dashboard
from tests.dashboard.status_files import RELEASE, make_repo

TOKEN = "s3cret-dashboard-token-0123456789"


def _dashboard(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["dashboard", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("repo")
    make_repo(root)
    with running_dashboard(root, env={"ORCHD_DASHBOARD_TOKEN": TOKEN}) as dashboard:
        yield dashboard


@pytest.mark.slow
def test_without_the_token_nothing_is_shown(guarded: Dashboard) -> None:
    for path in ("api/releases", f"api/releases/{RELEASE}", "metrics", "events"):
        response = httpx.get(guarded.url + path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert RELEASE not in response.text
    wrong = httpx.get(guarded.url + "metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    # a person's browser is sent to the login form
    page = httpx.get(guarded.url + f"releases/{RELEASE}", headers={"accept": "text/html"})
    assert (page.status_code, page.headers["location"]) == (303, "../login")


@pytest.mark.slow
def test_a_bearer_token_opens_the_api_and_metrics(guarded: Dashboard) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}

    assert httpx.get(guarded.url + "metrics", headers=headers).status_code == 200
    body = httpx.get(guarded.url + "api/releases", headers=headers).json()
    assert RELEASE in [r["release_id"] for r in body["releases"]]


@pytest.mark.slow
def test_the_login_form_sets_a_cookie_that_is_not_the_token(guarded: Dashboard) -> None:
    with httpx.Client(base_url=guarded.url) as browser:
        form = browser.get("login")
        assert form.status_code == 200
        assert 'name="token"' in form.text
        refused = browser.post("login", data={"token": "guess-guess-guess-guess"})
        assert refused.status_code == 401
        assert "not right" in refused.text
        assert not browser.cookies

        signed_in = browser.post("login", data={"token": TOKEN})

        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "./")
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert TOKEN not in cookie
        page = browser.get("", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert f'id="release-{RELEASE}"' in page.text


@pytest.mark.slow
def test_every_answer_carries_the_security_headers(guarded: Dashboard) -> None:
    response = httpx.get(guarded.url + "login")

    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_non_loopback_host_without_a_token_is_refused(tmp_path: Path) -> None:
    make_repo(tmp_path)

    code, out, err = _dashboard("--repo-root", str(tmp_path), "--host", "0.0.0.0", env={})

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "orchd: --host 0.0.0.0 is not loopback: the dashboard would be open to the network; "
        "give it a token with --token-file FILE or $ORCHD_DASHBOARD_TOKEN"
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "the token is empty"),
        ("short\n", "the token is 5 characters, at least 16 (make one with: openssl rand -hex 32)"),
    ],
)
def test_a_useless_token_file_is_refused_in_one_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    make_repo(tmp_path)
    token_file = tmp_path / "token"
    token_file.write_text(content)

    code, _, err = _dashboard("--repo-root", str(tmp_path), "--token-file", str(token_file))

    assert code == 2
    assert err.splitlines() == [f"orchd: --token-file {token_file}: {problem}"]


def test_a_missing_token_file_is_refused_in_one_line(tmp_path: Path) -> None:
    make_repo(tmp_path)

    code, _, err = _dashboard("--repo-root", str(tmp_path), "--token-file", str(tmp_path / "x"))

    assert code == 2
    assert err.splitlines() == [
        f"orchd: --token-file {tmp_path / 'x'}: cannot read (No such file or directory)"
    ]


def test_a_port_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    make_repo(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code, _, err = _dashboard("--repo-root", str(tmp_path), "--port", str(port))

    assert code == 2
    assert err.splitlines() == [
        f"orchd: --host 127.0.0.1 --port {port}: cannot listen (Address already in use)"
    ]


def test_a_repo_without_releases_is_refused_in_one_line(tmp_path: Path) -> None:
    code, _, err = _dashboard("--repo-root", str(tmp_path))

    assert code == 2
    assert err.splitlines() == [
        f"orchd: {tmp_path}/docs/releases: not found (point --repo-root at the repository)"
    ]
