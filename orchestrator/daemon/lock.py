"""One orchd per release: the exclusive flock on `orchd.pid` in the state dir, and the
clean-up of what an orchd 0.x left beside the status file.

Separate from the run: `orchd start` takes the lock before it reads the earlier status file,
and holds it for the whole run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from orchestrator.adapters.release_lock import pid_path
from orchestrator.errors import InputError, StatusWriteFailed

_LEGACY_SUFFIXES = (".lock", ".decision", ".decision.taken", ".decision.rejected")
"""What orchd 0.x kept beside the status file, in the user's checkout (and `.pid`)."""


def _remove_legacy_files(status_path: Path) -> None:
    """An earlier orchd's lock and decision files beside the status file: removed, so an
    upgraded checkout's `git status` shows only the status file. Its `.pid` only when no
    orchd holds it."""
    for suffix in _LEGACY_SUFFIXES:
        with contextlib.suppress(OSError):
            status_path.with_name(status_path.name + suffix).unlink(missing_ok=True)
    legacy_pid = status_path.with_name(status_path.name + ".pid")
    try:
        fd = os.open(legacy_pid, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        legacy_pid.unlink()
    except OSError:
        pass  # held by an orchd from before the upgrade, or not ours to remove
    finally:
        os.close(fd)


@contextlib.contextmanager
def release_lock(status_path: Path, state_dir: Path | None = None) -> Iterator[None]:
    """One orchd per release: an exclusive flock on `orchd.pid` (see `pid_path`) holding our
    pid, in the state dir so the user's checkout holds only the status file."""
    lock_file = pid_path(status_path, state_dir)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        (lock_file.parent / "status_file").write_text(f"{os.path.realpath(status_path)}\n")
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise unwritable(lock_file, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise InputError(
                f"{lock_file}: another orchd (pid {other}) is running this release; "
                "stop it first (orchd status shows it)"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            raise unwritable(lock_file, exc) from None
        _remove_legacy_files(status_path)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # ours to clear: we held the lock
    finally:
        os.close(fd)


def unwritable(path: Path, exc: OSError) -> StatusWriteFailed:
    """A file in orchd's state dir could not be written: nothing was launched (exit 4)."""
    reason = exc.strerror or str(exc)
    return StatusWriteFailed(
        f"{path}: cannot write in orchd's state dir ({reason}); nothing was launched "
        "(--state-dir, $STATE_DIRECTORY or $XDG_STATE_HOME choose it)"
    )
