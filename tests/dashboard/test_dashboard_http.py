"""`orchd dashboard` over real loopback HTTP: the JSON API against its schema, the page,
`/metrics` read by prometheus-client's own parser, and live updates over SSE."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from prometheus_client.openmetrics.parser import text_fd_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.dashboard.server_process import Dashboard, running_dashboard
from tests.dashboard.status_files import RELEASE, at, make_repo, mid_run, write_atomically

pytestmark = pytest.mark.slow
LIVE_WITHIN_S = 2.0  # the promise: a status-file change is on the page within 2 s


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("repo")
    make_repo(root)
    with running_dashboard(root) as dashboard:
        yield dashboard


class _FuRows(HTMLParser):
    """FU id → status, as the page's FU table shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "fu-row":
            self.rows[str(a["data-fu"])] = str(a["data-status"])


def fu_rows(html: str) -> dict[str, str]:
    parser = _FuRows()
    parser.feed(html)
    return parser.rows


def test_api_lists_every_release_in_progress_first_and_matches_its_schema(
    board: Dashboard,
) -> None:
    schema = json.loads(CliRunner().invoke(app, ["schema", "dashboard"]).stdout)

    body = httpx.get(board.url + "api/releases").json()

    jsonschema.validate(body, schema)
    assert [(r["release_id"], r["location"], r["status"]) for r in body["releases"]] == [
        ("v0.3.0", "in_progress", "not_started"),  # a manifest, no status file yet
        (RELEASE, "in_progress", "running"),
        ("v0.1.0", "releases", "completed"),
    ]


def test_api_release_gives_the_numbers_the_page_shows(board: Dashboard) -> None:
    view = httpx.get(board.url + f"api/releases/{RELEASE}").json()

    assert (view["progress"]["landed"], view["progress"]["total"]) == (2, 6)
    m = view["metrics"]
    assert (m["max_parallel_fus"], m["active_agents"], m["utilization"]) == (3, 1, 0.3333)
    assert (m["failure_rate"], m["retry_rate"], m["mean_fu_duration_s"]) == (0.1667, 0.1667, 750.0)
    assert [a["fu_id"] for a in view["active_agents"]] == ["FU-003"]
    assert view["release_branch"]["head"] == "b" * 40


def test_an_unknown_release_is_a_404_naming_it(board: Dashboard) -> None:
    response = httpx.get(board.url + "api/releases/v9.9.9")

    assert response.status_code == 404
    assert "no release 'v9.9.9' under" in response.json()["error"]


def test_the_page_shows_every_fu_of_every_release(board: Dashboard) -> None:
    page = httpx.get(board.url).text
    single = httpx.get(board.url + f"releases/{RELEASE}").text

    rows = fu_rows(single)
    assert rows == {
        "FU-001": "completed",
        "FU-002": "completed",
        "FU-003": "running",
        "FU-004": "failed",
        "FU-005": "pending",
        "FU-006": "pending",
    }
    assert 'data-landed="2" data-total="6"' in single
    assert "2/6 landed (33.3%)" in single
    assert 'id="release-v0.1.0"' in page
    assert 'id="release-v0.3.0"' in page
    assert 'href="https://cursor.com/agents/bc-00000000-0000-4000-8000-000000000003"' in single


def _metrics(board: Dashboard) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(board.url + "metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_are_prometheus_text_one_set_per_release(board: Dashboard) -> None:
    samples = _metrics(board)

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted({"release": RELEASE, **labels}.items())))]

    assert value("orchd_release_feature_units") == 6
    assert value("orchd_release_landed_ratio") == pytest.approx(1 / 3)
    assert value("orchd_release_active_agents") == 1
    assert value("orchd_release_agent_utilization_ratio") == 0.3333
    assert value("orchd_release_failure_ratio") == 0.1667
    assert value("orchd_release_retry_ratio") == 0.1667
    assert value("orchd_release_fu_duration_mean_seconds") == 750
    assert value("orchd_release_feature_units_by_status", status="running") == 1
    assert value("orchd_release_feature_units_by_status", status="needs_human") == 0
    assert value("orchd_batch_fu_duration_mean_seconds", batch="0") == 750
    # only batch 1 is in progress; its last sign of life was T0+1100 s
    stalled = {k[1] for k in samples if k[0] == "orchd_batch_seconds_since_progress"}
    assert stalled == {(("batch", "1"), ("release", RELEASE))}
    assert value("orchd_batch_seconds_since_progress", batch="1") > 0
    assert value("orchd_release_info", status="running", location="in_progress") == 1
    # a release with no status file yet is listed, with no numbers invented for it
    assert (
        samples[
            (
                "orchd_release_info",
                (("location", "in_progress"), ("release", "v0.3.0"), ("status", "not_started")),
            )
        ]
        == 1
    )
    assert not any(
        k[0] == "orchd_release_feature_units" and ("release", "v0.3.0") in k[1] for k in samples
    )


def test_metrics_speak_openmetrics_when_the_scraper_asks(board: Dashboard) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = httpx.get(board.url + "metrics", headers={"accept": accept})

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    parsed = openmetrics_families(io.StringIO(response.text))  # type: ignore[no-untyped-call]  # the library's parser has no annotations
    families = {f.name: f for f in parsed}
    active = {s.labels["release"]: s.value for s in families["orchd_release_active_agents"].samples}
    assert active == {RELEASE: 1, "v0.1.0": 0}
    assert response.text.endswith("# EOF\n")


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


def test_a_status_file_change_is_pushed_over_sse_within_two_seconds(tmp_path: Path) -> None:
    status = make_repo(tmp_path)
    with (
        running_dashboard(tmp_path) as dashboard,
        httpx.stream("GET", dashboard.url + f"events?release={RELEASE}", timeout=10) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        kind, first = next(events)  # every (re)connect starts with the releases as they are
        assert (kind, first["id"], fu_rows(first["html"])["FU-003"]) == (
            "release",
            RELEASE,
            "running",
        )

        data = mid_run()
        fu3 = data["batches"][1]["feature_units"][0]
        fu3.update(status="delivered", duration_s=300.0, last_update=at(1150))
        write_atomically(status, data)
        written = time.monotonic()
        kind, update = next(events)
        arrived = time.monotonic() - written

    assert (kind, update["id"]) == ("release", RELEASE)
    assert fu_rows(update["html"])["FU-003"] == "delivered"
    assert arrived <= LIVE_WITHIN_S


def test_the_dashboard_never_writes_into_the_repo(tmp_path: Path) -> None:
    make_repo(tmp_path)

    def tree() -> dict[str, tuple[int, int]]:
        return {
            str(p.relative_to(tmp_path)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(tmp_path.rglob("*"))
        }

    before = tree()
    with running_dashboard(tmp_path) as dashboard:
        for path in ("", f"releases/{RELEASE}", "api/releases", "metrics", "assets/dashboard.js"):
            assert httpx.get(dashboard.url + path).status_code == 200
        with httpx.stream("GET", dashboard.url + "events", timeout=10) as response:
            assert next(_events(response))[0] == "release"

    assert tree() == before


def test_sigterm_stops_it_promptly_even_with_a_browser_listening(tmp_path: Path) -> None:
    make_repo(tmp_path)
    with (
        running_dashboard(tmp_path) as dashboard,
        httpx.stream("GET", dashboard.url + "events", timeout=10) as response,
    ):
        next(_events(response))
        assert dashboard.stop() == 0
