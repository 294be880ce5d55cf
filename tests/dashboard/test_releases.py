"""Which releases the dashboard lists and which file it reads for each: neotoma's own repo as it
is, worker-written status files, and a manifest that keeps its status file elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.dashboard.releases import ReleaseFinder, read_view
from tests.dashboard.status_files import NOW, RELEASE, make_repo, mid_run, write_atomically

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "neotoma"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="neotoma fixtures not present")


@needs_fixtures
def test_neotomas_releases_are_listed_in_progress_first_then_released_then_archived() -> None:
    finder = ReleaseFinder(FIXTURES / "head")

    listed = [
        (found.release_id, found.location, read_view(found, finder.repo_root, NOW).status)
        for found in finder.find()
    ]

    assert listed == [
        ("v0.3.11", "in_progress", "not_started"),
        ("v0.2.0", "in_progress", "completed"),  # as the original script left it
        ("v0.2.1", "releases", "not_started"),  # its manifest names status.md: not one of ours
        ("v0.1.1", "releases", "not_started"),
        ("v0.1.0", "releases", "running"),
        ("v1.0.0", "archived/aspirational", "not_started"),
    ]


@needs_fixtures
def test_every_status_file_neotomas_workers_wrote_is_shown_not_refused() -> None:
    shown = set()
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        finder = ReleaseFinder(folder)
        for found in finder.find():
            view = read_view(found, finder.repo_root, NOW)
            assert view.read_error is None, (folder.name, view.read_error)
            assert view.fus or view.status_file is None
            shown.add(view.status_file)

    written = {str(p) for p in FIXTURES.glob("*/docs/releases/**/agent_status.json")}
    assert shown - {None} == written


def test_the_manifests_status_file_is_read_where_it_says(tmp_path: Path) -> None:
    make_repo(tmp_path)
    manifest = tmp_path / "docs/releases/in_progress" / RELEASE / "manifest.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "  max_parallel_fus: 3\n",
            "  max_parallel_fus: 5\n  agent_spawning:\n    status_file: state/release.json\n",
        )
    )
    data = mid_run()
    data["batches"][2]["feature_units"][0]["status"] = "skipped"
    write_atomically(tmp_path / "state" / "release.json", data)

    found = next(f for f in ReleaseFinder(tmp_path).find() if f.release_id == RELEASE)
    view = read_view(found, tmp_path, NOW)

    assert view.status_file == str(tmp_path / "state" / "release.json")
    assert view.fus[-1].status == "skipped"
    assert view.metrics.max_parallel_fus == 5


def test_a_status_file_that_is_not_json_is_shown_as_unreadable_in_one_line(
    tmp_path: Path,
) -> None:
    status = make_repo(tmp_path)
    status.write_text('{"release_id": "v0.2.0", "orchestrator": ')

    found = next(f for f in ReleaseFinder(tmp_path).find() if f.release_id == RELEASE)
    view = read_view(found, tmp_path, NOW)

    assert view.status == "unreadable"
    assert view.read_error == (
        f"{status}:1:42: agent_status.json: not valid JSON: Expecting value "
        "(fix or remove the file)"
    )
