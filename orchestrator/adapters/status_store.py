"""The status file store: the single writer task and the atomic, locked file replace.

Only `StatusWriter.run` writes `agent_status.json`. Everyone else sends events. Each write goes
to a temp file in the same directory (a rename is atomic only within one filesystem), is flushed
and fsynced, replaces the old file with `os.replace`, and the directory is fsynced; an advisory
`flock` on the status file's directory is held while replacing, so tools following the same
protocol (`flock -s <dir> cat <dir>/agent_status.json`) never see a torn file (and plain readers
never do either, since rename is atomic). Nothing else is left beside the file: the temp file is
renamed into place or removed, and the lock needs no file of its own.

A write that fails (disk full, read-only directory, out of file descriptors) does not end the
release: the writer keeps applying events and retries with capped backoff; the daemon exits 4
when the final state could not be written. At start the writer removes temp files a killed orchd
left beside the file.

The file is compact JSON (`jq .` pretty-prints it), rendered incrementally: the reducer is
copy-on-write, so an FU entry that did not change is the same object as at the last write and
its cached bytes are reused; only changed entries are serialized again. Writes are coalesced to
what a reader needs: every `coalesce_s` for a small file, down to `_SCALE_INTERVAL_S` for a big
one (`write_interval_s`), so a release of thousands of FUs writes at most twice a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic import BaseModel

from orchestrator.adapters.durable_file import durable_temp, fsync_dir, remove_stale_temps
from orchestrator.adapters.threads import in_thread
from orchestrator.core.reducer import apply
from orchestrator.models.events import StatusEvent
from orchestrator.models.status import BatchEntry, FuEntry, StatusFile

log = structlog.get_logger("orchd.status")


_SMALL_FILE_BYTES = 256 << 10  # up to here (~400 FUs) writes keep the `coalesce_s` cadence
_WRITE_BUDGET_BPS = 1 << 20  # beyond it, the pause keeps writes near a MiB a second …
_SCALE_INTERVAL_S = 0.5  # … but is never longer: a big file is still written twice a second


def write_interval_s(coalesce_s: float, size_bytes: int) -> float:
    """The pause after a write of `size_bytes`: `coalesce_s` for a small file (the live board
    and `orchd watch` stay lively), longer for a big one, up to `_SCALE_INTERVAL_S`."""
    if size_bytes <= _SMALL_FILE_BYTES:
        return coalesce_s
    return max(coalesce_s, min(_SCALE_INTERVAL_S, size_bytes / _WRITE_BUDGET_BPS))


def render(snapshot: StatusFile) -> bytes:
    """The file's bytes from scratch: compact JSON with a trailing newline."""
    return Renderer().render(snapshot)


class Renderer:
    """Compact JSON of successive snapshots, serializing only what changed since the last one.

    Keyed by identity: the reducer never mutates an entry, it copies the path it changes, so
    the same object means the same bytes. The cache holds the objects it keyed, so an id is
    never reused while cached. Keys keep the models' field order (the order `model_dump` has).
    """

    def __init__(self) -> None:
        self._fus: dict[str, tuple[FuEntry, bytes]] = {}
        self._batches: list[tuple[BatchEntry, bytes]] = []
        self.serialized = 0  # FU entries serialized (not taken from the cache) so far

    def render(self, snapshot: StatusFile) -> bytes:
        old_batches = self._batches
        batches: list[tuple[BatchEntry, bytes]] = []
        fus: dict[str, tuple[FuEntry, bytes]] = {}
        for index, batch in enumerate(snapshot.batches):
            old = old_batches[index] if index < len(old_batches) else None
            if old is not None and old[0] is batch:  # none of its entries changed
                for entry in batch.feature_units:
                    cached = self._fus.get(entry.fu_id)
                    if cached is not None:
                        fus[entry.fu_id] = cached
                batches.append(old)
                continue
            units = b",".join(self._fu(entry, fus) for entry in batch.feature_units)
            batches.append((batch, _with_raw(batch, "feature_units", b"[" + units + b"]")))
        self._batches, self._fus = batches, fus
        body = b"[" + b",".join(raw for _, raw in batches) + b"]"
        return _with_raw(snapshot, "batches", body) + b"\n"

    def _fu(self, entry: FuEntry, fus: dict[str, tuple[FuEntry, bytes]]) -> bytes:
        cached = self._fus.get(entry.fu_id)
        if cached is None or cached[0] is not entry:
            cached = (entry, entry.model_dump_json().encode())
            self.serialized += 1
        fus[entry.fu_id] = cached
        return cached[1]


def _with_raw(model: BaseModel, name: str, raw: bytes) -> bytes:
    """`model` as compact JSON with the field `name` given as ready JSON bytes, in its place."""
    names = list(type(model).model_fields)
    before = set(names[: names.index(name)])
    head = model.model_dump_json(include=before).encode()[1:-1]
    tail = model.model_dump_json(exclude={*before, name}).encode()[1:-1]
    field = b'"' + name.encode() + b'":' + raw
    return b"{" + b",".join(part for part in (head, field, tail) if part) + b"}"


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Advisory lock on the file's directory (exclusive for the writer, shared for readers):
    a lock file beside it would be one more file in the user's checkout."""
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
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


@dataclass(frozen=True)
class WriteRetry:
    """How the writer retries a write that failed (disk full, read-only, permissions): while the
    release runs, after `first_delay_s` doubling up to `max_delay_s`, for as long as it runs;
    at the end, once more after each of `at_end_delays_s`, then it gives up."""

    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    at_end_delays_s: tuple[float, ...] = (0.5, 1.0, 2.0)

    def delay_s(self, failures: int) -> float:
        """Seconds before the next try after `failures` failed writes in a row (>= 1)."""
        return min(self.first_delay_s * 2.0 ** min(failures - 1, 32), self.max_delay_s)


class StatusWriter:
    """Owns the snapshot; applies events in order and writes at most once per
    `write_interval_s(coalesce_s, size of the file)`.

    A failed write never ends the release: the writer logs it (`status.write_failed`), keeps
    applying events and retries with capped backoff until a write succeeds
    (`status.write_recovered`). `write_error` is the error of the last write when it failed, so
    after `run` it is not None only when the final state could not be written
    (`status.write_gave_up`).
    """

    def __init__(
        self,
        path: Path,
        snapshot: StatusFile,
        *,
        coalesce_s: float = 0.1,
        on_change: Callable[[StatusFile], None] | None = None,
        retry: WriteRetry | None = None,
    ) -> None:
        self.path = path
        self.snapshot = snapshot
        self.coalesce_s = coalesce_s
        self.retry = retry or WriteRetry()
        self.writes = 0
        self.bytes_written = 0
        self._renderer = Renderer()
        self._size = 0  # bytes of the last rendering
        self.write_error: OSError | None = None
        self.failures = 0  # failed writes since the last one that succeeded
        self._on_change = on_change
        self._written: StatusFile | None = None
        self._failing: anyio.Event | None = None
        self.applied = 0  # events applied so far
        self._durable = 0  # events applied by the state last written to disk
        self._wrote = anyio.Event()
        self.log = log.bind(status_file=str(path))

    @property
    def entries_serialized(self) -> int:
        """FU entries serialized so far; those unchanged since the last write are not."""
        return self._renderer.serialized

    async def run(self, events: ObjectReceiveStream[StatusEvent]) -> StatusFile:
        """Apply events until every sender has closed; the last state is always written (or
        retried until `retry` gives up: see `write_error`)."""
        self._failing = anyio.Event()
        async with events:
            try:
                await self._remove_stale_temps()
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._retry_failed_writes)
                    async for event in events:
                        self.snapshot = apply(self.snapshot, event)
                        self.applied += 1
                        self._drain(events)
                        if self.write_error is None:  # else the retry task writes, backing off
                            await self.flush()
                        await anyio.sleep(write_interval_s(self.coalesce_s, self._size))
                    tasks.cancel_scope.cancel()
            finally:
                # the retry task has ended: this is the only write from here on
                self._drain(events)
                with anyio.CancelScope(shield=True):
                    await self._flush_at_end()
        return self.snapshot

    async def _remove_stale_temps(self) -> None:
        """Temp files a killed orchd left beside the status file (`durable_temp`)."""
        try:
            removed = await in_thread(lambda: remove_stale_temps(self.path))
        except OSError as exc:
            self.log.warning("status.stale_temps_kept", error=str(exc))
            return
        if removed:
            self.log.info("status.stale_temps_removed", files=[p.name for p in removed])

    async def _retry_failed_writes(self) -> None:
        while True:
            if self._failing is not None:
                await self._failing.wait()
            await anyio.sleep(self.retry.delay_s(self.failures))
            await self.flush()

    async def _flush_at_end(self) -> None:
        await self.flush()
        for delay in self.retry.at_end_delays_s:
            if self.write_error is None:
                return
            await anyio.sleep(delay)
            await self.flush()
        if self.write_error is not None:
            self.log.error(
                "status.write_gave_up",
                error=_describe(self.write_error),
                failures=self.failures,
                status=self.snapshot.orchestrator.status,
            )

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
            self.applied += 1

    async def flush(self) -> None:
        """Write the snapshot if it changed; a failure is recorded and logged, never raised."""
        if self.snapshot is self._written:
            return
        snapshot = self.snapshot
        applied = self.applied
        data = self._renderer.render(snapshot)
        self._size = len(data)
        try:
            await in_thread(lambda: write_atomic(self.path, data))
        except OSError as exc:
            self._failed(exc)
            return
        self._durable = applied
        self._wrote.set()
        self._wrote = anyio.Event()
        if self.write_error is not None:
            self.log.info("status.write_recovered", failures=self.failures)
            self.write_error = None
            self.failures = 0
            self._failing = anyio.Event()
        self._written = snapshot
        self.writes += 1
        self.bytes_written += len(data)
        if self._on_change is not None:
            self._on_change(snapshot)

    async def durable(self, count: int, timeout_s: float) -> bool:
        """Wait until the first `count` events are on disk (an intent recorded before acting
        on it); False when that did not happen within `timeout_s` (writes failing)."""
        with anyio.move_on_after(timeout_s):
            while self._durable < count:
                await self._wrote.wait()
            return True
        return False

    def _failed(self, exc: OSError) -> None:
        self.write_error = exc
        self.failures += 1
        self.log.warning(
            "status.write_failed",
            error=_describe(exc),
            failures=self.failures,
            retry_in_s=self.retry.delay_s(self.failures),
        )
        if self._failing is not None:
            self._failing.set()


def _describe(exc: OSError) -> str:
    """`No space left on device (errno 28)`: the reason, without the temp file's name."""
    if exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})" if exc.errno else exc.strerror
    return str(exc) or type(exc).__name__
