"""Crash-safe file writes: a fsynced temp file beside the target, and a fsynced directory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def durable_temp(path: Path, data: bytes) -> Iterator[str]:
    """A temp file next to `path` holding `data` on disk; removed unless moved into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def fsync_dir(directory: Path) -> None:
    """Make a rename or link in `directory` survive a power cut."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
