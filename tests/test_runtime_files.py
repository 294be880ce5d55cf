"""orchd's runtime files (release lock, decisions, gate logs) are in its state dir, in one folder
per status file that every command finds from the same state dir and status file path."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from orchestrator.adapters.release_lock import pid_path, running_orchd
from orchestrator.adapters.state_dir import release_runtime_dir
from orchestrator.daemon import release_lock


def _status(root: Path, release: str = "v0.1.1") -> Path:
    folder = root / "docs" / "releases" / "in_progress" / release
    folder.mkdir(parents=True)
    return folder / "agent_status.json"


def test_each_status_file_has_its_own_folder_named_after_its_release(tmp_path: Path) -> None:
    state = tmp_path / "state"
    one, other = _status(tmp_path / "one"), _status(tmp_path / "other")
    folder = release_runtime_dir(one, state)
    assert folder.parent == state / "releases"
    assert folder.name.startswith("v0.1.1-")
    assert release_runtime_dir(other, state) != folder  # two checkouts never share a lock
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "one")
    assert release_runtime_dir(link / one.relative_to(tmp_path / "one"), state) == folder


def test_the_lock_is_found_with_the_state_dir_it_was_taken_in(tmp_path: Path) -> None:
    status = _status(tmp_path)
    state, elsewhere = tmp_path / "state", tmp_path / "elsewhere"
    with release_lock(status, state):
        assert running_orchd(status, state) == os.getpid()
        assert running_orchd(status, elsewhere) is None
        assert pid_path(status, state).is_relative_to(state)
    assert running_orchd(status, state) is None
    assert sorted(p.name for p in status.parent.iterdir()) == []  # nothing in the checkout


def test_the_default_state_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = _status(tmp_path)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "service-state"))
    with release_lock(status):
        assert running_orchd(status, tmp_path / "service-state") == os.getpid()
        assert running_orchd(status) == os.getpid()


def test_an_older_orchds_files_beside_the_status_file_are_removed_at_start(
    tmp_path: Path,
) -> None:
    status = _status(tmp_path)
    status.write_text("{}\n")
    for suffix in (".lock", ".pid", ".decision", ".decision.taken", ".decision.rejected"):
        status.with_name(status.name + suffix).write_text("")
    with release_lock(status, tmp_path / "state"):
        pass
    assert sorted(p.name for p in status.parent.iterdir()) == ["agent_status.json"]


def test_an_older_orchd_still_holding_its_pid_file_keeps_it(tmp_path: Path) -> None:
    status = _status(tmp_path)
    legacy = status.with_name(status.name + ".pid")
    legacy.write_text("4242\n")
    fd = os.open(legacy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # an orchd from before the upgrade, still running
        with release_lock(status, tmp_path / "state"):
            pass
        assert legacy.read_text() == "4242\n"
    finally:
        os.close(fd)
