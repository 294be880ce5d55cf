"""Crash-safe file writes: a fsynced temp file beside the target, and a fsynced directory."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

# the random part of a `tempfile.mkstemp` name: letters, digits and `_`, never a dot
_MKSTEMP_PART = re.compile(r"[a-z0-9_]+")


def _temp_affixes(path: Path) -> tuple[str, str]:
    return f".{path.name}.", ".tmp"


@contextlib.contextmanager
def durable_temp(path: Path, data: bytes) -> Iterator[str]:
    """A temp file next to `path` holding `data` on disk; removed unless moved into place."""
    prefix, suffix = _temp_affixes(path)
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        yield tmp_name
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temp files `durable_temp` left beside `path` when its process died mid-write
    (kill -9, power cut): `.<name>.<random>.tmp` exactly, so never the temps of another file
    such as `<name>.decision`. Only safe while no one else writes `path` (orchd holds the
    release lock). Returns what was removed."""
    prefix, suffix = _temp_affixes(path)
    removed: list[Path] = []
    try:
        entries = list(path.parent.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        if not _MKSTEMP_PART.fullmatch(name[len(prefix) : -len(suffix)]):
            continue
        if entry.is_file() and not entry.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry)
    return removed


def fsync_dir(directory: Path) -> None:
    """Make a rename or link in `directory` survive a power cut."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
