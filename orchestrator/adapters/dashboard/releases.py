"""Find every release under a repo and read its status file, never writing, never locking.

Releases live in `docs/releases/in_progress/<id>`, `docs/releases/<id>` and
`docs/releases/archived/<folder>/<id>` (listed in that order; the first folder of an id wins,
as `orchd status` picks it). A folder is a release when it holds a manifest or a status file.
The status file is the manifest's `agent_spawning.status_file` when that names one in the repo,
else the folder's `agent_status.json`. The manifest is parsed only when it changes, so a scan
every half second costs a few `stat`s. Reads take no lock: orchd's writer renames whole files
into place, and a shared lock here could make a starting daemon think another one holds the
release.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from orchestrator.adapters.manifest_yaml import parse_manifest
from orchestrator.adapters.release_paths import RELEASE_ID_RE
from orchestrator.adapters.status_read import load_status_file
from orchestrator.core.release_view import Place, release_view, unread_view
from orchestrator.errors import OrchdError
from orchestrator.models.dashboard import ReleaseView

MANIFEST = "manifest.yaml"
STATUS_FILE = "agent_status.json"
Signature = tuple[int, int, int] | None
"""(mtime_ns, size, inode) of a status file, None when absent: what changes on each write."""


@dataclass(frozen=True)
class Found:
    release_id: str
    location: str
    folder: Path
    status_path: Path  # where its status file is, or would be once orchd starts it
    max_parallel: int | None


@dataclass(frozen=True)
class _ManifestFacts:
    status_file: str | None
    max_parallel: int | None


def signature(path: Path) -> Signature:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Newest first within a folder: v0.10.0 after v0.9.1, numerically."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def _children(folder: Path) -> list[Path]:
    try:
        entries = [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []
    return sorted(entries, key=lambda p: _version_key(p.name), reverse=True)


class ReleaseFinder:
    """The releases under one repo root; remembers parsed manifests by their signature."""

    def __init__(self, repo_root: Path) -> None:
        self.repo_root = repo_root.absolute()
        self.releases_dir = self.repo_root / "docs" / "releases"
        self._manifests: dict[Path, tuple[Signature, _ManifestFacts]] = {}
        self._lock = threading.Lock()  # page, API, SSE and scrapes read from worker threads

    def _folders(self) -> list[tuple[str, Path]]:
        found = [("in_progress", p) for p in _children(self.releases_dir / "in_progress")]
        found += [("releases", p) for p in _children(self.releases_dir)]
        for archive in _children(self.releases_dir / "archived"):
            found += [(f"archived/{archive.name}", p) for p in _children(archive)]
        return [
            (where, p)
            for where, p in found
            if RELEASE_ID_RE.fullmatch(p.name)
            and ((p / MANIFEST).is_file() or (p / STATUS_FILE).is_file())
        ]

    def _manifest(self, path: Path) -> _ManifestFacts | None:
        sig = signature(path)
        if sig is None:
            return None
        with self._lock:
            cached = self._manifests.get(path)
        if cached is not None and cached[0] == sig:
            return cached[1]
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        data, _problems = parse_manifest(text, file=str(path))
        facts = _ManifestFacts(
            status_file=data.limits.status_file if data.readable else None,
            max_parallel=data.limits.effective_parallel if data.readable else None,
        )
        with self._lock:
            self._manifests[path] = (sig, facts)
        return facts

    def _named_status(self, value: str | None) -> Path | None:
        """The manifest's status_file when it is a `.json` path inside the repo (as start
        requires), else None."""
        if not value or not value.endswith(".json"):
            return None
        relative = PurePosixPath(value)
        if relative.is_absolute() or ".." in relative.parts or relative.parts[:1] == (".git",):
            return None
        return self.repo_root / relative

    def find(self) -> list[Found]:
        by_id: dict[str, list[tuple[str, Path]]] = {}
        for where, folder in self._folders():
            by_id.setdefault(folder.name, []).append((where, folder))
        result = []
        for release_id, places in by_id.items():
            where, folder = places[0]
            facts = next(
                (f for _, p in places if (f := self._manifest(p / MANIFEST)) is not None), None
            )
            named = self._named_status(facts.status_file if facts else None)
            copies = [p / STATUS_FILE for _, p in places if (p / STATUS_FILE).is_file()]
            if named is not None and named.is_file():
                status_path = named
            elif copies:
                status_path = copies[0]
            else:
                status_path = named or folder / STATUS_FILE
            result.append(
                Found(
                    release_id=release_id,
                    location=where,
                    folder=folder,
                    status_path=status_path,
                    max_parallel=facts.max_parallel if facts else None,
                )
            )
        return result


def read_view(found: Found, repo_root: Path, now: datetime) -> ReleaseView:
    """The release's view from its status file as it is now (a missing file: not_started)."""
    sig = signature(found.status_path)
    place = Place(
        release_id=found.release_id,
        location=found.location,
        repo_root=str(repo_root),
        status_file=None if sig is None else str(found.status_path),
        file_written_at=None if sig is None else datetime.fromtimestamp(sig[0] / 1e9, UTC),
        max_parallel=found.max_parallel,
    )
    if sig is None:
        return unread_view(place, "not_started")
    try:
        snapshot, notes = load_status_file(found.status_path)
    except OrchdError as exc:
        if not os.path.exists(found.status_path):  # removed between stat and read
            return unread_view(place, "not_started")
        return unread_view(place, "unreadable", read_error=str(exc))
    return release_view(snapshot, notes, place, now)
