"""The status file store: the single writer task and the atomic, locked file replace.

Only `StatusWriter.run` writes `agent_status.json`. Everyone else sends events. Each write goes
to a temp file in the same directory, is flushed and fsynced, replaces the old file with
`os.replace`, and the directory is fsynced; an advisory `flock` on `<file>.lock` is held while
replacing, so tools following the same protocol never see a torn file (and plain readers never
do either, since rename is atomic).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from orchestrator.adapters.durable_file import durable_temp, fsync_dir
from orchestrator.adapters.threads import in_thread
from orchestrator.core.reducer import apply
from orchestrator.models.events import StatusEvent
from orchestrator.models.status import StatusFile


def render(snapshot: StatusFile) -> bytes:
    """The file's bytes: pretty JSON as the seed writes it, with a trailing newline."""
    data = snapshot.model_dump(mode="json")
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Advisory lock on `<file>.lock` (exclusive for the writer, shared for readers)."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with durable_temp(path, data) as tmp_name:
        with file_lock(path):
            os.replace(tmp_name, path)
        fsync_dir(path.parent)


def read_bytes_locked(path: Path) -> bytes:
    """Read the file under a shared lock (for `orchd status`)."""
    with file_lock(path, shared=True):
        return path.read_bytes()


def open_event_channel() -> tuple[
    MemoryObjectSendStream[StatusEvent], MemoryObjectReceiveStream[StatusEvent]
]:
    """Unbounded: an FU task never blocks on the writer."""
    return anyio.create_memory_object_stream[StatusEvent](max_buffer_size=math.inf)


class StatusWriter:
    """Owns the snapshot; applies events in order and writes at most once per `coalesce_s`."""

    def __init__(
        self,
        path: Path,
        snapshot: StatusFile,
        *,
        coalesce_s: float = 0.1,
        on_change: Callable[[StatusFile], None] | None = None,
    ) -> None:
        self.path = path
        self.snapshot = snapshot
        self.coalesce_s = coalesce_s
        self.writes = 0
        self._on_change = on_change
        self._written: StatusFile | None = None

    async def run(self, events: ObjectReceiveStream[StatusEvent]) -> StatusFile:
        """Apply events until every sender has closed; the last state is always written."""
        async with events:
            try:
                async for event in events:
                    self.snapshot = apply(self.snapshot, event)
                    self._drain(events)
                    await self.flush()
                    await anyio.sleep(self.coalesce_s)
            finally:
                self._drain(events)
                with anyio.CancelScope(shield=True):
                    await self.flush()
        return self.snapshot

    def _drain(self, events: ObjectReceiveStream[StatusEvent]) -> None:
        receive_nowait = getattr(events, "receive_nowait", None)
        if receive_nowait is None:
            return
        while True:
            try:
                event = receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return
            self.snapshot = apply(self.snapshot, event)

    async def flush(self) -> None:
        if self.snapshot is self._written:
            return
        snapshot = self.snapshot
        data = render(snapshot)
        await in_thread(lambda: write_atomic(self.path, data))
        self._written = snapshot
        self.writes += 1
        if self._on_change is not None:
            self._on_change(snapshot)
