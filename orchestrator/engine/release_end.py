"""How a release ends: its last status event, the `release.finished` / `release.detached` log
line and the notification, for a run that finished (or aborted) and one that detached.

Separate from supervisor.py, which decides *that* the release ends; this says what is left
in the status file and who is told.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from orchestrator.engine.asking import Asker
from orchestrator.engine.fu_outcomes import FuOutcomes
from orchestrator.models.events import ReleaseFinished, StatusEvent
from orchestrator.models.status import ReleaseStatus


class ReleaseEnd:
    """Writes and announces the release's end; each method returns the final status."""

    def __init__(
        self,
        release_id: str,
        fus: FuOutcomes,
        now: Callable[[], datetime],
        emit: Callable[[StatusEvent], None],
        asker: Asker,
        log: structlog.stdlib.BoundLogger,
    ) -> None:
        self.release_id = release_id
        self._fus = fus
        self._now = now
        self._emit = emit
        self.asker = asker
        self.log = log

    def finished(self, *, aborted: bool, full_suite_failed: bool) -> ReleaseStatus:
        """Completed, failed or aborted, from the FUs' outcomes (an abort closes the FUs that
        never started)."""
        if aborted:
            for event in self._fus.close_unstarted(self._now()):
                self._emit(event)
        status = self._fus.release_status(aborted=aborted, full_suite_failed=full_suite_failed)
        counts = self._fus.counts()
        self._emit(ReleaseFinished(at=self._now(), status=status, summary=counts))
        self.log.info("release.finished", status=status.value, **counts)
        self.asker.notify(
            "release.finished",
            f"{self.release_id}: release {status.value}",
            status=status.value,
            summary=counts,
        )
        return status

    def detached(self, left_running: list[str]) -> ReleaseStatus:
        """The file keeps every FU as it was (running ones with their run ids, pending ones
        pending) for the next start; only the release's status says `detached`."""
        status = ReleaseStatus.DETACHED
        self._emit(ReleaseFinished(at=self._now(), status=status))
        left = left_running
        self.log.info("release.detached", left_running=left)
        release = self.release_id
        self.asker.notify(
            "release.detached",
            f"{release}: orchd detached; {len(left)} agent(s) keep running"
            + (f" ({', '.join(left)})" if left else "")
            + f"; `orchd start {release}` adopts them",
            status=status.value,
            left_running=left,
        )
        return status
