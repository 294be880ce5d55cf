"""The supervisor's end of the status channel: every event goes to the writer's queue, the
duration learner and an observer (the daemon's metrics); an intent can wait until it is on disk.

Separate from supervisor.py so the release loop reads as decisions, not bookkeeping; the FU
tasks, the asker, the alert watch and the lander all get its `emit`.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from anyio.streams.memory import MemoryObjectSendStream

from orchestrator.adapters.status_store import StatusWriter
from orchestrator.engine.duration_learning import DurationLearner
from orchestrator.models.events import StatusEvent

_DURABLE_WAIT_S = 10.0  # an intent not on disk by then: act anyway (writes are failing)


class EventOutbox:
    """Queues events for the status writer once `open`; never blocks (the channel is unbounded)."""

    def __init__(
        self,
        learner: DurationLearner,
        on_event: Callable[[StatusEvent], None] | None,
        log: structlog.stdlib.BoundLogger,
    ) -> None:
        self._learner = learner
        self._on_event = on_event  # an observer of every event (the daemon's metrics)
        self._log = log
        self._send: MemoryObjectSendStream[StatusEvent] | None = None
        self._writer: StatusWriter | None = None
        self._sent = 0

    def open(self, send: MemoryObjectSendStream[StatusEvent], writer: StatusWriter) -> None:
        """From now on events go to `send`, which `writer` reads."""
        self._send = send
        self._writer = writer

    def emit(self, event: StatusEvent) -> None:
        """Queue an event for the writer; never blocks (the channel is unbounded)."""
        if self._send is None:
            raise RuntimeError("supervisor is not running")
        self._send.send_nowait(event)
        self._sent += 1
        self._learner.observe(event)
        if self._on_event is not None:
            self._on_event(event)

    async def emit_durable(self, event: StatusEvent) -> None:
        """Queue an event and wait until it is on disk: an intent recorded before acting."""
        self.emit(event)
        writer = self._writer
        if writer is not None and not await writer.durable(self._sent, _DURABLE_WAIT_S):
            self._log.warning("status.intent_not_written", event_type=type(event).__name__)
