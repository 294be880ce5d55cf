"""The dashboard in a real headless browser (Debian's chromium, driven by Playwright): the FU
rows and progress numbers a person reads, then a status-file change that appears without a
reload, with the question it raises and the command that answers it. Screenshots are kept
under pytest's tmp dir (their paths are printed)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.dashboard.server_process import running_dashboard
from tests.dashboard.status_files import (
    RELEASE,
    at,
    make_repo,
    mid_run,
    twenty_minutes_ago,
    write_atomically,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run does)"
    ),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIVE_WITHIN_MS = 2000  # the promise: a status-file change is on the page within 2 s


@pytest.fixture
def browser_page() -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def _rows(page: Page) -> dict[str, str]:
    cells = page.eval_on_selector_all(
        "tr.fu-row", "rows => rows.map(r => [r.dataset.fu, r.dataset.status])"
    )
    return dict(cells)


def test_the_page_follows_the_status_file_without_reloading(
    tmp_path: Path, browser_page: Page
) -> None:
    t0 = twenty_minutes_ago()
    status = make_repo(tmp_path / "repo", t0)
    page = browser_page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    with running_dashboard(tmp_path / "repo") as dashboard:
        page.goto(dashboard.url + f"releases/{RELEASE}")
        page.wait_for_selector("#live[data-state=live]")
        loaded_at = page.evaluate("window.orchdLoadedAt")

        assert _rows(page) == {
            "FU-001": "completed",
            "FU-002": "completed",
            "FU-003": "running",
            "FU-004": "failed",
            "FU-005": "pending",
            "FU-006": "pending",
        }
        assert page.inner_text(".progress-text") == "2/6 landed (33.3%)"
        assert page.locator('svg.timeline g.fu[data-fu="FU-003"] rect.open').count() == 1
        assert (
            page.locator('svg.timeline g.fu[data-fu="FU-002"] text.attempts').text_content() == "a2"
        )
        before = tmp_path / "dashboard-before.png"
        page.screenshot(path=before, full_page=True)

        data = mid_run(t0)
        fu3, _fu4, fu5 = data["batches"][1]["feature_units"]
        fu3.update(status="completed", completed_at=at(1150, t0), duration_s=300.0, progress=1.0)
        data["completed_fus"].append("FU-003")
        fu5.update(
            status="running",
            worker_agent_id="bc-00000000-0000-4000-8000-000000000005",
            started_at=at(1150, t0),
            last_update=at(1150, t0),
            attempts=1,
        )
        data["orchestrator"]["awaiting"] = {
            "kind": "batch_failure",
            "batch_id": 1,
            "choices": ["retry", "skip"],
            "since": at(1160, t0),
            "reason": "FU-004 failed",
        }
        data["alerts"] = [{"kind": "high_failure_rate", "message": "1 of 3 FUs failed in batch 1"}]
        write_atomically(status, data)

        page.wait_for_function(
            "() => document.querySelector('tr.fu-row[data-fu=\"FU-003\"]').dataset.status"
            " === 'completed'",
            timeout=LIVE_WITHIN_MS,
        )

        assert page.evaluate("window.orchdLoadedAt") == loaded_at  # the same page: no reload
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert _rows(page)["FU-005"] == "running"
        assert page.inner_text(".progress-text") == "3/6 landed (50.0%)"
        assert "1 of 3 FUs failed in batch 1" in page.inner_text(".banner.alert")
        commands = page.locator(".banner.question code.command").all_inner_texts()
        root = tmp_path / "repo"
        assert commands == [
            f"orchd decide {RELEASE} retry --batch 1 --repo-root {root}",
            f"orchd decide {RELEASE} skip --batch 1 --repo-root {root}",
        ]
        after = tmp_path / "dashboard-after.png"
        page.screenshot(path=after, full_page=True)

    print(f"\nscreenshots: {before} {after}")
    assert problems == []  # no script error, nothing the page's CSP blocked
