"""Where a release lives: its id checked, its folder found, its repository named.

Apart from the loader so that what only needs the folder (`orchd status`, `watch`, the
dashboard) does not import the manifest parser, the plan models and the YAML library.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.core.near_names import by_closeness
from orchestrator.errors import LocatedError

MAX_RELEASE_ID_LENGTH = 64
"""A release id names folders (docs/releases/…/<id>, orchd's git cache) and branches."""
RELEASE_ID_RE = re.compile(
    rf"^(?=.{{1,{MAX_RELEASE_ID_LENGTH}}}$)"
    r"v?\d+(?:\.\d+){0,3}(?:[-+][0-9A-Za-z]+(?:[.-][0-9A-Za-z]+)*)?$"
)
MANIFEST = "manifest.yaml"


MAX_LISTED_RELEASES = 8


def existing_releases(repo_root: Path) -> list[str]:
    """Ids of the releases under `docs/releases` (in_progress/, itself, archived/*/): folders
    named like a release id holding a manifest.yaml."""
    releases = repo_root / "docs" / "releases"
    parents = [releases / "in_progress", releases]
    archived = releases / "archived"
    try:
        if archived.is_dir():
            parents += sorted(p for p in archived.iterdir() if p.is_dir())
        return sorted(
            {
                folder.name
                for parent in parents
                if parent.is_dir()
                for folder in parent.iterdir()
                if _is_valid_id(folder.name) and (folder / MANIFEST).is_file()
            }
        )
    except OSError:  # an unreadable folder: the list is a hint, never the error
        return []


def _is_valid_id(release_id: str) -> bool:
    return bool(RELEASE_ID_RE.match(release_id)) and ".." not in release_id


def _releases_here(release_id: str, repo_root: Path) -> str | None:
    """`releases in /repo/docs/releases, closest first: v0.1.0, v0.1.1`, or None if none."""
    found = by_closeness(release_id, existing_releases(repo_root))
    if not found:
        return None
    listed = ", ".join(found[:MAX_LISTED_RELEASES])
    more = len(found) - MAX_LISTED_RELEASES
    if more > 0:
        listed += f" and {more} more"
    closest = "closest first: " if len(found) > 1 else ""
    return f"releases in {repo_root / 'docs' / 'releases'}, {closest}{listed}"


def _check_release_id(release_id: str, repo_root: Path | None) -> None:
    """A release id that cannot be a folder name; the fix names the releases that exist."""
    if len(release_id) > MAX_RELEASE_ID_LENGTH:
        problem = (
            f"is {len(release_id)} characters long, at most {MAX_RELEASE_ID_LENGTH}: "
            "it names folders and branches"
        )
        fix = "use a plain id such as v0.1.1"
    elif not _is_valid_id(release_id):
        problem = f"{release_id!r} is not a version-like release id"
        fix = "use a plain id such as v0.1.1 (no slashes, no '..', not a path)"
    else:
        return
    known = _releases_here(release_id[:MAX_RELEASE_ID_LENGTH], repo_root) if repo_root else None
    raise LocatedError(
        "<command line>", None, None, "RELEASE_ID", problem, f"{known}; {fix}" if known else fix
    )


def locate_release_dir(
    release_id: str, repo_root: Path, release_dir: Path | None
) -> tuple[Path, str | None]:
    """The release directory, and a note when it was found somewhere other than in_progress/."""
    _check_release_id(release_id, None if release_dir is not None else repo_root)
    if release_dir is not None:
        if not release_dir.is_dir():
            raise LocatedError(
                str(release_dir),
                None,
                None,
                "--release-dir",
                "not a directory",
                "pass the folder that holds manifest.yaml",
            )
        return release_dir, None
    releases = repo_root / "docs" / "releases"
    primary = releases / "in_progress" / release_id
    candidates = [primary, releases / release_id]
    archived = releases / "archived"
    if archived.is_dir():
        candidates += sorted(p / release_id for p in archived.iterdir() if p.is_dir())
    for candidate in candidates:
        if (candidate / MANIFEST).is_file():
            note = (
                None
                if candidate == primary
                else f"release dir: {primary} has no {MANIFEST}; using {candidate}"
            )
            return candidate, note
    known = _releases_here(release_id, repo_root)
    raise LocatedError(
        str(primary / MANIFEST),
        None,
        None,
        "release",
        "not found (also looked in " + ", ".join(str(c) for c in candidates[1:]) + ")",
        f"{known}; or check --repo-root, or pass --release-dir"
        if known
        else f"no release under {releases} has a {MANIFEST}: check --repo-root, "
        "or pass --release-dir",
    )


def resolve_release_dir(release_id: str, repo_root: Path, release_dir: Path | None) -> Path:
    """`<repo>/docs/releases/in_progress/<id>`, else `docs/releases/<id>`, else archived/*/<id>."""
    return locate_release_dir(release_id, repo_root, release_dir)[0]


def release_repository(repo_root: Path, release_dir: Path | None) -> Path | None:
    """The repository a release lives in: `--repo-root`, unless `--release-dir` is given.

    Then it is the folder above `docs/releases/` in the release dir's path (neotoma's layout),
    else the nearest folder above it holding `.git`, else unknown (None) — never the current
    directory just because `--repo-root` defaults to it.
    """
    if release_dir is None:
        return repo_root.absolute()
    folder = release_dir.resolve()
    parts = folder.parts
    for index in range(len(parts) - 2, 0, -1):
        if parts[index : index + 2] == ("docs", "releases"):
            return Path(*parts[:index])
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


_STATUS_FILE_LINE = re.compile(
    r"^[ \t]+status_file[ \t]*:[ \t]*(?:\"([^\"\\\\]*)\"|'([^']*)'|([^\s#'\"&*!|>{}\[\],][^\s#]*))"
    r"[ \t]*(?:#.*)?$"
)


def plain_status_file(manifest_text: str) -> str | None:
    """The manifest's `status_file` as its text says it, without parsing the YAML: "" when
    no line names it, the value when exactly one indented line is a plain `status_file: x`
    (quoted or not), None when anything is unusual (the loader must decide)."""
    lines = [
        line
        for line in manifest_text.splitlines()
        if "status_file" in line and not line.lstrip().startswith("#")
    ]
    if not lines:
        return ""
    if len(lines) > 1:
        return None
    match = _STATUS_FILE_LINE.match(lines[0])
    if match is None:
        return None
    value = next(group for group in match.groups() if group is not None)
    return value or None


def read_text(path: Path) -> str:
    """A release file as UTF-8 text; unreadable or not UTF-8 is one located line."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LocatedError(
            str(path), None, None, path.name, "not UTF-8 text", "re-save as UTF-8"
        ) from exc
    except OSError as exc:
        raise LocatedError(
            str(path), None, None, path.name, f"cannot read: {exc.strerror}"
        ) from exc
