"""The page is built from files anyone (a worker agent, a hand edit) may have written: what they
hold is shown as text, never run as markup or followed as a script link."""

from __future__ import annotations

from typing import Any

from orchestrator.adapters.dashboard.page import release_fragment
from orchestrator.adapters.dashboard.timeline_svg import tick_step_s, tick_text
from orchestrator.core.release_view import Place, release_view
from orchestrator.core.status_normalise import normalise_status
from tests.dashboard.status_files import NOW, RELEASE, mid_run

PLACE = Place(release_id=RELEASE, location="in_progress", repo_root="/src/app", max_parallel=3)


def _fragment(data: dict[str, Any]) -> str:
    snapshot, notes = normalise_status(data)
    return release_fragment(release_view(snapshot, notes, PLACE, NOW), open_=True)


def test_status_file_text_is_escaped_and_script_links_are_not_links() -> None:
    data = mid_run()
    fu4 = data["batches"][1]["feature_units"][1]
    fu4.update(
        error="<script>alert(1)</script>",
        pr_url="javascript:alert(2)",
        status='failed" onmouseover="alert(3)',
    )
    data["alerts"] = [{"kind": "<img src=x onerror=alert(4)>", "message": "m"}]

    html = _fragment(data)

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert 'onmouseover="alert(3)"' not in html
    assert "<img" not in html
    # a made-up status cannot break out of the class attribute either
    assert 'class="badge st-failedonmouseoveralert"' in html


def test_timeline_ticks_are_round_and_short() -> None:
    assert [tick_step_s(s) for s in (5, 50, 1200, 4 * 3600)] == [1.0, 10.0, 300.0, 3600.0]
    assert [tick_text(t) for t in (0, 30, 300, 7200)] == ["0", "30s", "5m", "2h"]
