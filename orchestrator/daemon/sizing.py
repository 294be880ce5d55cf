"""How big the process may grow: Cursor request slots and streams sized to the release's
parallelism and the open-file limit, the limit itself raised, the garbage collector calmed.

Separate from the run: pure arithmetic and process knobs, set once before anything opens.
"""

from __future__ import annotations

import gc
import resource
from dataclasses import dataclass

import structlog

log = structlog.get_logger("orchd.daemon")

NOTIFY_CONNECTIONS = 2  # the webhook shares the request client, outside the request slots
_RESERVED_FILES = 256  # descriptors kept for everything but streams: git, gates, the status file
_STREAM_SLACK = 8  # streams beyond one per run: a reconnect may overlap the old one's close


@dataclass(frozen=True)
class ConnectionSizes:
    """How many Cursor requests may be in flight, and how many streams may be open, at once."""

    in_flight: int
    keep_alive: int
    streams: int


def connection_sizes(parallel: int, open_files: int) -> ConnectionSizes:
    """Sized to the work: a request slot per run up to 32 (a run has at most one request at a
    time, mostly none; more in flight only queue in the event loop), a quarter of them kept
    alive (httpcore checks every idle connection on each request), and a stream per run;
    streams get what the open-file limit leaves after the requests and `_RESERVED_FILES`, the
    other runs are polled."""
    in_flight = min(32, max(8, parallel))
    budget = open_files - in_flight - NOTIFY_CONNECTIONS - _RESERVED_FILES
    keep_alive = max(4, in_flight // 4)
    return ConnectionSizes(in_flight, keep_alive, max(0, min(parallel + _STREAM_SLACK, budget)))


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (a stream per agent needs thousands of
    descriptors; systemd and most shells start at 1024) and return the soft limit now."""
    unlimited = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != unlimited and (hard == unlimited or soft < hard):
        # an unlimited hard limit (macOS) is capped by the kernel: try smaller targets in turn
        for target in [hard] if hard != unlimited else [1 << 20, 1 << 16, 10240]:
            if target <= soft:
                break
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            except (ValueError, OSError):
                continue
            break
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    effective = 1 << 20 if soft == resource.RLIM_INFINITY else soft
    log.debug("process.open_files", soft_limit=effective, hard_limit=hard)
    return effective


_GC_YOUNG_THRESHOLD = 10_000  # CPython's default is 700


def collect_garbage_less_often() -> None:
    """A release keeps thousands of tasks, streams and status entries alive for hours: at
    CPython's default the collector runs every 700 allocations, and each time the heap grew
    by a quarter it walks all of it (half-second stalls of the event loop at 2,000 agents)."""
    young, middle, old = gc.get_threshold()
    if young < _GC_YOUNG_THRESHOLD:
        gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, old)
